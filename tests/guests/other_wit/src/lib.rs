//! A revision built against `pgwasm:migration@9.9.9` (a copy of `wit/` with
//! only the version changed) instead of this host's `@0.1.0`: the host must
//! refuse its imports before any SQL, naming the version. It uses
//! wit-bindgen directly, not guest-sdk (which is bound to the real `wit/`).
//! Built by hand like `../wrong_world` (see there) and committed as
//! `../components/other_wit.wasm`.

wit_bindgen::generate!({
    world: "migration",
    path: "wit",
});

use pgwasm::migration::sql;

struct OtherWit;

fn run(statement: &str) -> Result<(), String> {
    sql::execute(statement, &[])
        .map(|_| ())
        .map_err(|e| format!("{}: {}", e.sqlstate, e.message))
}

impl Guest for OtherWit {
    fn info() -> RevisionInfo {
        RevisionInfo {
            id: "e00000000013".into(),
            down_revisions: vec!["934f38a4fc73".into()],
            branch_labels: vec![],
            depends_on: vec![],
            message: "Guest built against pgwasm:migration@9.9.9".into(),
            transactional: true,
        }
    }

    fn upgrade() -> Result<(), String> {
        run("CREATE TABLE canary_other_wit (id integer)")
    }

    fn downgrade() -> Result<(), String> {
        run("DROP TABLE IF EXISTS canary_other_wit")
    }
}

export!(OtherWit);
