//! The migrating role and the project's database: the cluster's superuser
//! creates a role without any attribute that reaches beyond its own
//! databases (no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS)
//! and makes it the owner of the project's database, so a revision runs
//! with what a database owner may do and not with a shell on the server.
//!
//! Clusters made by earlier hosts kept the project in the `postgres`
//! database, owned by the superuser; the first start by this host renames it
//! to the project's database, hands every object in it to the role, and
//! creates a new, empty `postgres` for administration. Every step checks
//! before it acts, so a start interrupted halfway finishes on the next one.

use super::{ClusterError, DATABASE, MIGRATOR, SUPERUSER};
use crate::db::error::describe;
use crate::sql::quote::{ident, literal};
use std::path::Path;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// Hands every object the bootstrap superuser (oid 10) owns outside the
/// system catalogs to the role `%1$I`: schemas, relations, routines, types,
/// collations, conversions, operators, statistics objects, text search
/// objects and large objects. Left out: what belongs to an extension and
/// what moves with its owner (array and row types, indexes, sequences of a
/// column); objects below 16384 were made by initdb. `public` belongs to
/// the superuser before PostgreSQL 15 and to `pg_database_owner` since.
const REASSIGN: &str = r#"
DO $reassign$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT x.type, x.identity FROM (
      SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass AS cls, oid FROM pg_catalog.pg_namespace
        WHERE nspowner OPERATOR(pg_catalog.=) 10 AND (oid OPERATOR(pg_catalog.>=) 16384 OR nspname OPERATOR(pg_catalog.=) 'public')
      UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid FROM pg_catalog.pg_class
        WHERE relowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384 AND relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f,S}')
      UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, oid FROM pg_catalog.pg_proc
        WHERE proowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid FROM pg_catalog.pg_type
        WHERE typowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, oid FROM pg_catalog.pg_collation
        WHERE collowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, oid FROM pg_catalog.pg_conversion
        WHERE conowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, oid FROM pg_catalog.pg_operator
        WHERE oprowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, oid FROM pg_catalog.pg_statistic_ext
        WHERE stxowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_config
        WHERE cfgowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_dict
        WHERE dictowner OPERATOR(pg_catalog.=) 10 AND oid OPERATOR(pg_catalog.>=) 16384
      UNION ALL SELECT 'pg_catalog.pg_largeobject'::pg_catalog.regclass, oid FROM pg_catalog.pg_largeobject_metadata
        WHERE lomowner OPERATOR(pg_catalog.=) 10
    ) o, LATERAL pg_catalog.pg_identify_object(o.cls, o.oid, 0) x
    WHERE NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend d
      WHERE d.classid OPERATOR(pg_catalog.=) o.cls AND d.objid OPERATOR(pg_catalog.=) o.oid
        AND d.objsubid OPERATOR(pg_catalog.=) 0
        AND (d.deptype OPERATOR(pg_catalog.=) ANY ('{e,i}')
             OR (d.deptype OPERATOR(pg_catalog.=) 'a' AND x.type OPERATOR(pg_catalog.=) 'sequence'
                 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass)))
  LOOP
    EXECUTE pg_catalog.format('ALTER %s %s OWNER TO %I',
      CASE r.type WHEN 'statistics object' THEN 'STATISTICS' ELSE pg_catalog.upper(r.type) END,
      r.identity, {role});
  END LOOP;
END
$reassign$
"#;

/// How long one administrative connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes sure the migrating role exists and owns the project's database;
/// quick when it does (one connection, two catalog reads).
pub(super) async fn provision(socket_dir: &Path, port: u16) -> Result<(), ClusterError> {
    let admin = admin_client(socket_dir, port, "template1").await?;
    let role_exists = admin
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $1",
            &[&MIGRATOR],
        )
        .await
        .map_err(|e| failed("read the roles", &e))?
        .is_some();
    if !role_exists {
        // Only at creation: attributes an administrator grants later are their decision.
        let sql = format!(
            "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
            ident(MIGRATOR)
        );
        exec(&admin, &sql, "create the role").await?;
    }

    let project_owner = match owner_of(&admin, DATABASE).await? {
        Some(owner) => owner,
        None if owner_of(&admin, SUPERUSER).await?.is_some() => {
            // An earlier host kept the project in `postgres`: it becomes the project's database.
            let sql = format!(
                "ALTER DATABASE {} RENAME TO {}",
                ident(SUPERUSER),
                ident(DATABASE)
            );
            exec(&admin, &sql, "rename the database postgres").await?;
            SUPERUSER.to_owned()
        }
        None => {
            let sql = format!("CREATE DATABASE {}", ident(DATABASE));
            exec(&admin, &sql, "create the database").await?;
            SUPERUSER.to_owned()
        }
    };
    if project_owner != MIGRATOR {
        // Objects first, the database last: its owner marks the hand-over as done.
        let project = admin_client(socket_dir, port, DATABASE).await?;
        let sql = REASSIGN.replace("{role}", &literal(MIGRATOR));
        exec(&project, &sql, "hand the database's objects to the role").await?;
        drop(project);
        let sql = format!(
            "ALTER DATABASE {} OWNER TO {}",
            ident(DATABASE),
            ident(MIGRATOR)
        );
        exec(&admin, &sql, "make the role the database's owner").await?;
    }
    if owner_of(&admin, SUPERUSER).await?.is_none() {
        // template0: template1 is the database this connection is on, and a
        // database cannot be copied while someone is connected to it.
        let sql = format!("CREATE DATABASE {} TEMPLATE template0", ident(SUPERUSER));
        exec(&admin, &sql, "create the administrative database postgres").await?;
    }
    Ok(())
}

/// The owner of the database `name`, when it exists.
async fn owner_of(admin: &Client, name: &str) -> Result<Option<String>, ClusterError> {
    let row = admin
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(datdba)::pg_catalog.text FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) $1",
            &[&name],
        )
        .await
        .map_err(|e| failed("read the databases", &e))?;
    Ok(row.map(|r| r.get(0)))
}

/// A superuser connection to `dbname` with `search_path` pinned to
/// `pg_catalog`, so nothing the migrating role planted in a database's
/// settings or schemas is resolved by the superuser's statements.
async fn admin_client(socket_dir: &Path, port: u16, dbname: &str) -> Result<Client, ClusterError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(socket_dir)
        .port(port)
        .user(SUPERUSER)
        .dbname(dbname)
        .options("-c search_path=pg_catalog")
        .application_name("host (embedded cluster administration)")
        .connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = config.connect(NoTls).await.map_err(|e| {
        failed(
            &format!("connect as {SUPERUSER} to the database {dbname}"),
            &e,
        )
    })?;
    tokio::spawn(async move {
        // Errors surface on the next statement through the client.
        let _ = connection.await;
    });
    Ok(client)
}

async fn exec(client: &Client, sql: &str, step: &str) -> Result<(), ClusterError> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| failed(step, &e))
}

/// What failed, and what to do about it where the SQLSTATE tells.
fn failed(step: &str, e: &tokio_postgres::Error) -> ClusterError {
    let code = e.code().map(|c| c.code());
    let advice = match code {
        // RENAME waits 5 s for the database's other sessions to end.
        Some("55006") => {
            "close the other sessions on that database (psql, a host of an earlier version) and retry"
        }
        _ => "the server log (`host db status` names it) may say more",
    };
    ClusterError::Provision {
        step: step.to_owned(),
        detail: describe(e),
        advice,
    }
}
