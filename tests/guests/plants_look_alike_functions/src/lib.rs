//! Plants look-alikes of the catalog functions and operators the host relies
//! on in a schema of its own, and puts that schema before `pg_catalog` on
//! `search_path`, for its own session and, through the database's settings,
//! for every later connection: a lock that is always granted, a transaction
//! id that never changes, a `=` that is always true. A host that named them
//! unqualified would let two runs in at once and miss a replaced transaction.

use guest_sdk::{Op, Result};

guest_sdk::revision! {
    id: "e0000000003d",
    down_revisions: ["934f38a4fc73"],
    message: "Guest plants look-alike catalog functions",
    upgrade: upgrade,
    downgrade: downgrade,
}

fn upgrade(op: &mut Op) -> Result<()> {
    op.batch(
        "CREATE SCHEMA look_alike;
         CREATE FUNCTION look_alike.pg_try_advisory_lock(bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
         CREATE FUNCTION look_alike.pg_advisory_unlock(bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
         CREATE FUNCTION look_alike.txid_current() RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint';
         CREATE FUNCTION look_alike.txid_status(bigint) RETURNS text LANGUAGE sql AS 'SELECT ''aborted''::text';
         CREATE FUNCTION look_alike.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
         CREATE OPERATOR look_alike.= (FUNCTION = look_alike.always, LEFTARG = text, RIGHTARG = text);
         DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = look_alike, pg_catalog, public', current_database()); END $$;
         SET search_path = look_alike, pg_catalog, public",
    )
}

fn downgrade(op: &mut Op) -> Result<()> {
    op.batch("DROP SCHEMA IF EXISTS look_alike CASCADE")
}
