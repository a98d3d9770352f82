//! `host db status|url|stop`: the embedded PostgreSQL cluster used when no
//! database is configured.

use super::DbAction;
use super::args::Context;
use anyhow::Result;
use host::db::cluster::Cluster;
use host::project::STATE_DIR;
use std::process::ExitCode;

/// Runs one `host db` action on the project's cluster.
pub async fn run(ctx: &Context, action: &DbAction) -> Result<ExitCode> {
    let cluster = Cluster::new(ctx.root.join(STATE_DIR).join("pg"));
    match action {
        DbAction::Status => say!("{}", cluster.status()?),
        DbAction::Url => say!("{}", cluster.ensure_running().await?.migrator),
        DbAction::Stop => {
            if cluster.stop()? {
                say!("stopped the embedded cluster");
            } else {
                say!("the embedded cluster was not running");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
