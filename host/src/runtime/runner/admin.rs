//! Repairs of the heads table without running a revision: `stamp`, and
//! `resolve` for a revision outside a transaction that did not finish.

use std::sync::Arc;

use tokio_postgres::Client;

use super::{RunError, RunOptions, locked, rollback};
use crate::db::error::describe;
use crate::plan::{self, PlanError, Target};
use crate::project::Project;

/// Records how the user repaired an unfinished revision outside a
/// transaction: `applied` moves the heads as if it had completed.
pub async fn resolve(
    project: &Project,
    client: &Arc<Client>,
    revision: &str,
    applied: bool,
    opts: &RunOptions,
) -> Result<Vec<String>, RunError> {
    locked(client, opts, async {
        let tables = opts.tables.locate(client).await?;
        let unfinished = tables.unfinished(client).await?;
        let Some(u) = unfinished.iter().find(|u| u.revision == revision) else {
            return Err(RunError::Plan(PlanError::Range(format!(
                "revision {revision} has no unfinished run to resolve{}",
                if unfinished.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; unfinished: {}",
                        unfinished
                            .iter()
                            .map(|u| u.revision.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ))));
        };
        let heads = tables.read_heads(client).await?;
        let mut applied_set = plan::applied_set(&project.graph, &heads)?;
        let after = match (applied, u.direction.as_str()) {
            (false, _) => heads.clone(),
            (true, "downgrade") => {
                applied_set.remove(revision);
                project.graph.heads_of(&applied_set)
            }
            (true, _) => {
                applied_set.insert(revision.to_string());
                project.graph.heads_of(&applied_set)
            }
        };
        let script = format!(
            "BEGIN;\n{}{}COMMIT;",
            tables.heads_sql(&heads, &after),
            tables.resolve_sql(u.id, applied)
        );
        client
            .batch_execute(&script)
            .await
            .map_err(|e| RunError::Commit {
                revision: revision.to_string(),
                what: "recording the resolution",
                detail: describe(&e),
                heads: heads.clone(),
            })?;
        Ok(after)
    })
    .await
}

/// Writes the heads table to `targets` without running any revision
/// (`stamp`); returns the heads before and after.
pub async fn stamp(
    project: &Project,
    client: &Arc<Client>,
    targets: &[Target],
    purge: bool,
    opts: &RunOptions,
) -> Result<(Vec<String>, Vec<String>), RunError> {
    locked(client, opts, async {
        let tables = opts.tables.locate(client).await?;
        let before = tables.read_heads(client).await?;
        let after = plan::stamp(&project.graph, &before, targets, purge)?;
        let script = format!(
            "BEGIN;\n{}{}COMMIT;",
            tables.ensure_sql(),
            tables.stamp_sql(&before, &after, purge)
        );
        if let Err(e) = client.batch_execute(&script).await {
            rollback(client).await;
            return Err(RunError::Commit {
                revision: after.join(", "),
                what: "stamping the heads table",
                detail: describe(&e),
                heads: before,
            });
        }
        Ok((before, after))
    })
    .await
}
