//! Where the database is: `--database-url`, then `DATABASE_URL`, then
//! TaskMan-v2's `APP_DATABASE__*` variables, then the same two in `.env`;
//! with none of them, the embedded cluster. [`open`] follows that order and
//! connects; [`resolve`] is the same order without any I/O.

use crate::db::cluster::Cluster;
use crate::project::STATE_DIR;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// The TaskMan-v2 variables that make up a connection when `DATABASE_URL` is absent.
const APP_VARS: [&str; 5] = [
    "APP_DATABASE__HOST",
    "APP_DATABASE__PORT",
    "APP_DATABASE__USER",
    "APP_DATABASE__PASSWORD",
    "APP_DATABASE__DATABASE",
];

/// Why the database could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse.
    #[error(
        "the database URL from {origin} is not valid ({detail}); expected postgresql://user:password@host:port/dbname"
    )]
    BadUrl {
        /// Where it came from.
        origin: String,
        /// What the parser said.
        detail: String,
    },
    /// The connection failed.
    #[error(
        "cannot connect to the database from {origin} ({target}): {detail}; check that the server runs and the URL is right"
    )]
    Connect {
        /// Where the URL came from.
        origin: String,
        /// Host/port/db, without the password.
        target: String,
        /// What failed.
        detail: String,
    },
    /// Nothing is configured and the embedded cluster did not start.
    #[error(
        "no database is configured (--database-url, DATABASE_URL, APP_DATABASE__*), and the embedded cluster could not start: {detail}"
    )]
    NoDatabase {
        /// Why the cluster did not start.
        detail: String,
    },
}

/// A connected database: the client, the settings that reached it (to open a
/// scratch database beside it) and where its address came from.
pub struct Database {
    /// The connection, driven on the current runtime.
    pub client: Arc<Client>,
    /// The parsed connection settings.
    pub config: tokio_postgres::Config,
    /// "--database-url", "DATABASE_URL", ..., or "the embedded cluster".
    pub origin: String,
    /// The embedded cluster's superuser, which creates scratch databases for a
    /// migrating role that may not; `None` where the role creates its own.
    scratch_admin: Option<tokio_postgres::Config>,
}

/// Where replays make their scratch databases.
pub struct ScratchSite {
    /// A connection that may CREATE DATABASE and drop what it made.
    pub admin: Arc<Client>,
    /// The role that is to own a scratch database, when `admin` is another role.
    pub owner: Option<String>,
    /// The settings that connect to a scratch database once its name is set.
    pub config: tokio_postgres::Config,
}

impl Database {
    /// Where this database's replays make scratch databases: beside it, created
    /// by its own connection, or by the embedded cluster's superuser for its
    /// migrating role (which has no CREATEDB).
    pub async fn scratch_site(&self) -> Result<ScratchSite, ConfigError> {
        let (admin, owner) = match &self.scratch_admin {
            Some(cfg) => (
                connect(cfg, &self.origin).await?,
                self.config.get_user().map(str::to_owned),
            ),
            None => (self.client.clone(), None),
        };
        Ok(ScratchSite {
            admin,
            owner,
            config: self.config.clone(),
        })
    }
}

/// Where the origin names the project's own cluster.
const EMBEDDED: &str = "the embedded cluster";

/// Connects to the configured database (see [`resolve`], with `./.env`),
/// else to the embedded cluster of the project at `project_root`, starting it.
pub async fn open(flag: Option<&str>, project_root: &Path) -> Result<Database, ConfigError> {
    // `.env` is the working folder's, as the tools that share it read it.
    let dotenv = std::fs::read_to_string(".env")
        .map(|t| parse_dotenv(&t))
        .unwrap_or_default();
    let env = |k: &str| std::env::var(k).ok();
    let (url, origin, scratch_admin) = match resolve(flag, &env, &dotenv) {
        Some(c) => (c.url, c.origin, None),
        None => {
            let cluster = Cluster::new(project_root.join(STATE_DIR).join("pg"));
            let endpoints =
                cluster
                    .ensure_running()
                    .await
                    .map_err(|e| ConfigError::NoDatabase {
                        detail: e.to_string(),
                    })?;
            let admin = parse(&endpoints.admin, EMBEDDED)?;
            (endpoints.migrator, EMBEDDED.to_string(), Some(admin))
        }
    };
    let config = parse(&url, &origin)?;
    let client = connect(&config, &origin).await?;
    Ok(Database {
        client,
        config,
        origin,
        scratch_admin,
    })
}

/// A database the user configured, and where the setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// A URL or key=value connection string.
    pub url: String,
    /// "--database-url", "DATABASE_URL", ".env: APP_DATABASE__*", ...
    pub origin: String,
}

/// Parses `.env` text: `KEY=VALUE` lines, `export` prefixes, quotes and comments.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = if (v.starts_with('"') && v.ends_with('"') && v.len() >= 2)
                || (v.starts_with('\'') && v.ends_with('\'') && v.len() >= 2)
            {
                &v[1..v.len() - 1]
            } else {
                v.split(" #").next().unwrap_or(v).trim()
            };
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (also
/// what the registry client needs for query values).
pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn from_app_vars(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if APP_VARS.iter().all(|k| get(k).is_none()) {
        return None;
    }
    let host = get("APP_DATABASE__HOST").unwrap_or_else(|| "localhost".into());
    let port = get("APP_DATABASE__PORT").unwrap_or_else(|| "5432".into());
    let user = get("APP_DATABASE__USER").unwrap_or_else(|| "postgres".into());
    let db = get("APP_DATABASE__DATABASE").unwrap_or_else(|| user.clone());
    let auth = match get("APP_DATABASE__PASSWORD") {
        Some(p) => format!("{}:{}", percent_encode(&user), percent_encode(&p)),
        None => percent_encode(&user),
    };
    Some(format!(
        "postgresql://{auth}@{host}:{port}/{}",
        percent_encode(&db)
    ))
}

/// Picks the configured database, if any; `env` reads the process environment
/// and `dotenv` holds the parsed `.env` file. Pure so it can be tested.
pub fn resolve(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    dotenv: &HashMap<String, String>,
) -> Option<Configured> {
    let found = |url: String, origin: &str| {
        Some(Configured {
            url,
            origin: origin.to_string(),
        })
    };
    if let Some(u) = flag {
        return found(u.to_string(), "--database-url");
    }
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(u) = env("DATABASE_URL") {
        return found(u, "DATABASE_URL");
    }
    if let Some(u) = from_app_vars(&env) {
        return found(u, "APP_DATABASE__* variables");
    }
    let file = |k: &str| dotenv.get(k).cloned().filter(|v| !v.is_empty());
    if let Some(u) = file("DATABASE_URL") {
        return found(u, ".env DATABASE_URL");
    }
    from_app_vars(&file).and_then(|u| found(u, ".env APP_DATABASE__* variables"))
}

/// Parses a URL (also SQLAlchemy's `postgresql+asyncpg://`) or a key=value string.
pub fn parse(url: &str, origin: &str) -> Result<tokio_postgres::Config, ConfigError> {
    let mut text = url.trim().to_string();
    for scheme in ["postgresql+", "postgres+"] {
        if let Some(rest) = text.strip_prefix(scheme)
            && let Some(pos) = rest.find("://")
        {
            text = format!("{}{}", scheme.trim_end_matches('+'), &rest[pos..]);
        }
    }
    let mut cfg: tokio_postgres::Config =
        text.parse()
            .map_err(|e: tokio_postgres::Error| ConfigError::BadUrl {
                origin: origin.to_string(),
                detail: e.to_string(),
            })?;
    if cfg.get_application_name().is_none() {
        cfg.application_name(format!("host {}", crate::VERSION));
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    // A server that vanishes without closing the connection (a network
    // partition, a dead host) must fail the run, not hang it: keepalives
    // notice a silent peer, the user timeout unacknowledged writes.
    cfg.keepalives(true);
    if cfg.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        cfg.keepalives_idle(Duration::from_secs(10));
    }
    if cfg.get_keepalives_interval().is_none() {
        cfg.keepalives_interval(Duration::from_secs(5));
    }
    if cfg.get_keepalives_retries().is_none() {
        cfg.keepalives_retries(3);
    }
    if cfg.get_tcp_user_timeout().is_none() {
        cfg.tcp_user_timeout(Duration::from_secs(30));
    }
    Ok(cfg)
}

/// Describes where a config points, without its password.
pub fn describe_target(cfg: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "host {} port {port} user {} database {}",
        hosts.join(","),
        cfg.get_user().unwrap_or("?"),
        cfg.get_dbname().unwrap_or("(user name)")
    )
}

/// The `search_path` of the host's own statements on every connection it
/// opens. A database's or role's settings may put a schema before
/// `pg_catalog` (a revision can plant one with `ALTER DATABASE … SET`), and
/// a look-alike `=` there answered for the host's comparisons. Set for the
/// session, so `SET LOCAL search_path TO DEFAULT` gives a revision the
/// database's own path back for its transaction.
pub const HOST_SEARCH_PATH: &str = "SET search_path = pg_catalog, pg_temp";

/// Connects, pins [`HOST_SEARCH_PATH`], and drives the connection on the
/// current runtime.
pub async fn connect(
    cfg: &tokio_postgres::Config,
    origin: &str,
) -> Result<Arc<Client>, ConfigError> {
    let (client, connection) = cfg.connect(NoTls).await.map_err(|e| ConfigError::Connect {
        origin: origin.to_string(),
        target: describe_target(cfg),
        detail: crate::db::error::describe(&e),
    })?;
    tokio::spawn(async move {
        // Errors surface on the next query through the client; nothing to do here.
        let _ = connection.await;
    });
    client
        .batch_execute(HOST_SEARCH_PATH)
        .await
        .map_err(|e| ConfigError::Connect {
            origin: origin.to_string(),
            target: describe_target(cfg),
            detail: crate::db::error::describe(&e),
        })?;
    Ok(Arc::new(client))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn precedence_flag_env_app_vars_dotenv() {
        let none = HashMap::new();
        let env = env_of(&[("DATABASE_URL", "postgresql://a/b")]);
        assert_eq!(
            resolve(Some("x"), &env, &none).unwrap().origin,
            "--database-url"
        );
        assert_eq!(resolve(None, &env, &none).unwrap().url, "postgresql://a/b");
        let env = env_of(&[
            ("APP_DATABASE__HOST", "db"),
            ("APP_DATABASE__PASSWORD", "p@ss"),
        ]);
        assert_eq!(
            resolve(None, &env, &none).unwrap().url,
            "postgresql://postgres:p%40ss@db:5432/postgres"
        );
        let dotenv = parse_dotenv("# comment\nexport DATABASE_URL=\"postgresql://u@h/d\"\n");
        assert_eq!(
            resolve(None, &env_of(&[]), &dotenv).unwrap().origin,
            ".env DATABASE_URL"
        );
        assert!(resolve(None, &env_of(&[("DATABASE_URL", "")]), &none).is_none());
    }

    #[test]
    fn accepts_sqlalchemy_driver_urls() {
        let cfg = parse("postgresql+asyncpg://u:p@h:5433/taskman", "t").unwrap();
        assert_eq!(cfg.get_dbname(), Some("taskman"));
        assert_eq!(cfg.get_ports(), &[5433]);
        assert!(describe_target(&cfg).contains("taskman"));
        assert!(!describe_target(&cfg).contains(":p"));
        assert!(matches!(
            parse("postgresql://h:notaport/d", "t"),
            Err(ConfigError::BadUrl { .. })
        ));
    }

    #[test]
    fn dotenv_handles_quotes_and_comments() {
        let m = parse_dotenv("A=1 # note\nB='two words'\n\nC\nD = x=y\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["D"], "x=y");
        assert!(!m.contains_key("C"));
    }
}
