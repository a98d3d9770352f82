//! Gets a plan's components ready to run: every one is verified before the
//! first SQL of the run, then compiled (or loaded from the compile cache) by
//! worker threads a few steps ahead of the step the database is running.
//!
//! Why not compile everything first: with an empty cache, compiling is the
//! largest cost of a run, and overlapping it with the database's work hides
//! most of it. Why not keep every compiled component: a thousand of them cost
//! hundreds of megabytes; here at most [`LOOKAHEAD`] wait, and each is dropped
//! after its step.

use crate::project::{ComponentReader, Project, ProjectError};
use crate::runtime::sandbox::{Prepared, Sandbox, SandboxError};
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::oneshot;

/// How many compiled components may wait for their step.
pub const LOOKAHEAD: usize = 8;

/// Why a component could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The component is missing or does not match the lock.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The component failed to compile or imports what it may not.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// A component ready for its step, with the blake3 it was verified against.
pub struct Ready {
    /// The compiled component.
    pub prepared: Prepared,
    /// blake3 of the component, lowercase hex.
    pub blake3: String,
}

/// Components of a plan, handed out in plan order.
pub struct Pipeline {
    first: Option<Ready>,
    slots: VecDeque<oneshot::Receiver<Result<Ready, PrepareError>>>,
    window: Arc<Window>,
}

/// How far the workers may run ahead of the steps.
struct Window {
    taken: Mutex<usize>,
    moved: Condvar,
    cancelled: AtomicBool,
}

impl Pipeline {
    /// Checks every component of `revisions` ([`Pipeline::check`]), then
    /// starts compiling them in order in the background.
    pub fn start(
        project: &Project,
        sandbox: &Sandbox,
        revisions: &[String],
    ) -> Result<Pipeline, PrepareError> {
        Self::check(project, sandbox, revisions)?;
        Self::compile(project, sandbox, revisions)
    }

    /// Reads, hashes and checks every component of `revisions` on all cores
    /// ([`Sandbox::check`]); the first failure in plan order wins.
    pub fn check(
        project: &Project,
        sandbox: &Sandbox,
        revisions: &[String],
    ) -> Result<(), PrepareError> {
        let grants: Vec<BTreeSet<String>> = revisions.iter().map(|r| project.granted(r)).collect();
        let reader = project.reader(revisions.iter().map(String::as_str))?;
        verify_all(
            &reader,
            sandbox,
            revisions,
            &grants,
            threads(revisions.len()),
        )
    }

    /// Starts compiling `revisions` in order in the background, without the
    /// up-front check: callers have run [`Pipeline::check`] on them.
    pub fn compile(
        project: &Project,
        sandbox: &Sandbox,
        revisions: &[String],
    ) -> Result<Pipeline, PrepareError> {
        // Each job: the revision, its grants, and its package parameters.
        let jobs: Vec<_> = revisions
            .iter()
            .map(|r| (r.clone(), project.granted(r), project.config(r)))
            .collect();
        let reader = Arc::new(project.reader(revisions.iter().map(String::as_str))?);
        let threads = threads(revisions.len());
        let jobs: Arc<Vec<_>> = Arc::new(jobs);
        let (senders, slots): (Vec<_>, VecDeque<_>) =
            revisions.iter().map(|_| oneshot::channel()).unzip();
        let senders: Arc<Vec<Mutex<Option<_>>>> =
            Arc::new(senders.into_iter().map(|s| Mutex::new(Some(s))).collect());
        let window = Arc::new(Window {
            taken: Mutex::new(0),
            moved: Condvar::new(),
            cancelled: AtomicBool::new(false),
        });
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..threads {
            let (jobs, senders, window, next, reader, sandbox) = (
                jobs.clone(),
                senders.clone(),
                window.clone(),
                next.clone(),
                reader.clone(),
                sandbox.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= jobs.len() || !window.wait_for(i) {
                        return;
                    }
                    let (revision, granted, config) = &jobs[i];
                    let ready =
                        reader
                            .load(revision)
                            .map_err(PrepareError::from)
                            .and_then(|comp| {
                                let prepared =
                                    sandbox.prepare(&comp, granted)?.with_config(config.clone());
                                Ok(Ready {
                                    prepared,
                                    blake3: comp.blake3,
                                })
                            });
                    let sender = senders[i].lock().expect("no panics while held").take();
                    if let Some(sender) = sender {
                        // The receiver is gone when the run stopped early: nothing to do.
                        let _ = sender.send(ready);
                    }
                }
            });
        }
        Ok(Pipeline {
            first: None,
            slots,
            window,
        })
    }

    /// Waits until the first step's component is compiled: a run whose
    /// first component cannot be compiled fails before it changes anything.
    pub async fn first_ready(&mut self) -> Result<(), PrepareError> {
        if self.first.is_none()
            && let Some(ready) = self.next().await
        {
            self.first = Some(ready?);
        }
        Ok(())
    }

    /// The next step's component, waiting for its compilation if needed.
    pub async fn next(&mut self) -> Option<Result<Ready, PrepareError>> {
        if let Some(ready) = self.first.take() {
            return Some(Ok(ready));
        }
        let slot = self.slots.pop_front()?;
        let ready = match slot.await {
            Ok(r) => r,
            // A worker panicked: a bug in the host, not in a guest.
            Err(_) => panic!("a compile worker stopped without an answer"),
        };
        *self.window.taken.lock().expect("no panics while held") += 1;
        self.window.moved.notify_all();
        Some(ready)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // A failed run stops the workers at their next job instead of
        // compiling components nobody will run.
        self.window.cancelled.store(true, Ordering::SeqCst);
        self.window.moved.notify_all();
    }
}

impl Window {
    /// Blocks until job `i` may start; false when the run was cancelled.
    fn wait_for(&self, i: usize) -> bool {
        let mut taken = self.taken.lock().expect("no panics while held");
        while i >= *taken + LOOKAHEAD {
            if self.cancelled.load(Ordering::SeqCst) {
                return false;
            }
            taken = self.moved.wait(taken).expect("no panics while held");
        }
        !self.cancelled.load(Ordering::SeqCst)
    }
}

/// How many threads work on `jobs` jobs.
fn threads(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, jobs.max(1))
}

/// [`Pipeline::check`] on `threads` threads.
fn verify_all(
    reader: &ComponentReader,
    sandbox: &Sandbox,
    revisions: &[String],
    grants: &[BTreeSet<String>],
    threads: usize,
) -> Result<(), PrepareError> {
    let one = |i: usize| -> Result<(), PrepareError> {
        let comp = reader.load(&revisions[i])?;
        sandbox.check(&comp, &grants[i])?;
        Ok(())
    };
    let chunk = revisions.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..revisions.len())
            .step_by(chunk)
            .map(|start| {
                let one = &one;
                scope.spawn(move || (start..(start + chunk).min(revisions.len())).try_for_each(one))
            })
            .collect();
        for w in workers {
            // A panic in a worker is a bug in the host, not in a guest: re-raise it.
            w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Arc<Window> {
        Arc::new(Window {
            taken: Mutex::new(0),
            moved: Condvar::new(),
            cancelled: AtomicBool::new(false),
        })
    }

    #[test]
    fn workers_run_at_most_lookahead_ahead_of_the_steps() {
        let w = window();
        assert!((0..LOOKAHEAD).all(|i| w.wait_for(i)));
        let waiting = {
            let w = w.clone();
            std::thread::spawn(move || w.wait_for(LOOKAHEAD))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiting.is_finished(), "job {LOOKAHEAD} started early");
        *w.taken.lock().unwrap() += 1;
        w.moved.notify_all();
        assert!(waiting.join().unwrap());
    }

    #[test]
    fn a_cancelled_run_releases_waiting_workers() {
        let w = window();
        let waiting = {
            let w = w.clone();
            std::thread::spawn(move || w.wait_for(LOOKAHEAD + 3))
        };
        w.cancelled.store(true, Ordering::SeqCst);
        w.moved.notify_all();
        assert!(!waiting.join().unwrap());
        assert!(!w.wait_for(0), "no new job after cancelling");
    }
}
