//! What the connected role lets a revision reach beyond the database: a
//! revision's SQL runs with the migrator's role, so a superuser, or a member
//! of the roles that run server programs or read and write server files,
//! hands every revision a shell or the files of the database server.
//!
//! The session user is what counts: a revision may `SET ROLE` to any role
//! that user is a member of, so membership (`MEMBER`), not inherited
//! privilege, decides. Before PostgreSQL 16, CREATEROLE could grant those
//! roles to itself.

use crate::db::error::describe;
use tokio_postgres::Client;

/// Why the role could not be checked.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read what the connected role may reach from pg_roles ({detail}); the run goes on, but nothing warns if the role is a superuser"
)]
pub struct RoleError {
    /// The server's error.
    detail: String,
}

/// The connected role and what of the server's own powers it holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reach {
    /// The session user.
    pub role: String,
    /// The superuser role whose powers it has: itself, or one it may `SET ROLE` to.
    pub superuser: Option<String>,
    /// Member of `pg_execute_server_program`: `COPY ... TO/FROM PROGRAM`.
    pub server_programs: bool,
    /// Member of `pg_read_server_files`: `COPY ... FROM` a file (and
    /// `pg_read_file` where EXECUTE on it is granted).
    pub read_files: bool,
    /// Member of `pg_write_server_files`: `COPY ... TO` a file.
    pub write_files: bool,
    /// CREATEROLE (itself or through a role it may `SET ROLE` to) on a server
    /// before 16, where it may grant itself the roles above.
    pub grants_roles: bool,
}

/// The query behind [`reach`]: every function and operator named with
/// `pg_catalog`, since a `search_path` planted in the database's settings
/// is in force on a fresh connection.
const REACH: &str = "
SELECT r.rolname::pg_catalog.text,
  CASE WHEN r.rolsuper THEN r.rolname::pg_catalog.text ELSE (
    SELECT s.rolname::pg_catalog.text FROM pg_catalog.pg_roles s
    WHERE s.rolsuper AND pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')
    ORDER BY s.rolname LIMIT 1) END,
  pg_catalog.pg_has_role(r.oid, 'pg_execute_server_program', 'MEMBER'),
  pg_catalog.pg_has_role(r.oid, 'pg_read_server_files', 'MEMBER'),
  pg_catalog.pg_has_role(r.oid, 'pg_write_server_files', 'MEMBER'),
  pg_catalog.current_setting('server_version_num')::pg_catalog.int4 OPERATOR(pg_catalog.<) 160000
    AND EXISTS (SELECT FROM pg_catalog.pg_roles c
                WHERE c.rolcreaterole AND pg_catalog.pg_has_role(r.oid, c.oid, 'MEMBER'))
FROM pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER";

/// Reads what the connected role may reach (one catalog query).
pub async fn reach(client: &Client) -> Result<Reach, RoleError> {
    let row = client.query_one(REACH, &[]).await.map_err(|e| RoleError {
        detail: describe(&e),
    })?;
    Ok(Reach {
        role: row.get(0),
        superuser: row.get(1),
        server_programs: row.get(2),
        read_files: row.get(3),
        write_files: row.get(4),
        grants_roles: row.get(5),
    })
}

impl Reach {
    /// Whether a revision run with this role can reach beyond the database.
    pub fn escapes(&self) -> bool {
        self.superuser.is_some()
            || self.server_programs
            || self.read_files
            || self.write_files
            || self.grants_roles
    }

    /// One sentence for the user when the role escapes: what the role is and
    /// what a revision can therefore do; `None` for a role that does not.
    pub fn warning(&self) -> Option<String> {
        let role = &self.role;
        let (what, can) = if let Some(su) = &self.superuser {
            let what = if su == role {
                "a superuser".to_owned()
            } else {
                format!("a member of the superuser {su:?}")
            };
            (
                what,
                "run shell commands on the database server (COPY ... TO PROGRAM), read and write its files, and commit work outside its transaction (dblink)".to_owned(),
            )
        } else {
            let mut roles = Vec::new();
            let mut can = Vec::new();
            if self.server_programs {
                roles.push("pg_execute_server_program");
                can.push("run shell commands on the database server (COPY ... TO PROGRAM)");
            }
            if self.read_files {
                roles.push("pg_read_server_files");
                can.push("read the server's files (COPY ... FROM a file)");
            }
            if self.write_files {
                roles.push("pg_write_server_files");
                can.push("write the server's files (COPY ... TO)");
            }
            if self.grants_roles {
                roles.push("CREATEROLE");
                can.push("grant itself those powers (CREATEROLE before PostgreSQL 16)");
            }
            if roles.is_empty() {
                return None;
            }
            (
                format!("a holder of {}", roles.join(", ")),
                can.join(" and "),
            )
        };
        Some(format!(
            "connected as {role:?}, {what}: a revision can {can}; migrate as a role that owns the database and nothing more (README \"What a revision can reach\"), or set {ALLOW_ENV}=1 to accept this"
        ))
    }
}

/// Environment variable that silences the warning for a user who migrates
/// with such a role on purpose.
pub const ALLOW_ENV: &str = "HOST_ALLOW_SUPERUSER";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_owner_gets_no_warning() {
        let owner = Reach {
            role: "migrator".into(),
            ..Reach::default()
        };
        assert!(!owner.escapes());
        assert_eq!(owner.warning(), None);
    }

    #[test]
    fn a_superuser_is_named_with_what_a_revision_can_do() {
        let su = Reach {
            role: "postgres".into(),
            superuser: Some("postgres".into()),
            server_programs: true,
            read_files: true,
            write_files: true,
            grants_roles: false,
        };
        let w = su.warning().unwrap();
        assert!(
            w.starts_with("connected as \"postgres\", a superuser: a revision can run shell commands on the database server (COPY ... TO PROGRAM)"),
            "{w}"
        );
        assert!(w.contains("HOST_ALLOW_SUPERUSER=1"), "{w}");
        assert!(!w.contains('\n'));
        let member = Reach {
            role: "app".into(),
            superuser: Some("postgres".into()),
            ..su
        };
        assert!(
            member
                .warning()
                .unwrap()
                .contains("\"app\", a member of the superuser \"postgres\""),
            "{:?}",
            member.warning()
        );
    }

    #[test]
    fn each_server_role_is_named_with_its_power() {
        let reader = Reach {
            role: "ro".into(),
            read_files: true,
            ..Reach::default()
        };
        assert!(reader.escapes());
        let w = reader.warning().unwrap();
        assert!(
            w.contains("a holder of pg_read_server_files: a revision can read the server's files"),
            "{w}"
        );
        assert!(!w.contains("PROGRAM"), "{w}");
        let granter = Reach {
            role: "ops".into(),
            grants_roles: true,
            server_programs: true,
            ..Reach::default()
        };
        let w = granter.warning().unwrap();
        assert!(w.contains("pg_execute_server_program, CREATEROLE"), "{w}");
    }
}
