//! The compile cap: components are compiled in a child process of the
//! `host` binary whose data segment is limited (`RLIMIT_DATA`) to
//! `--compile-memory-limit-mb`; the child writes the compiled code to its
//! standard output, a pipe only the parent holds, and the parent seals it
//! into the compile cache (no file the child wrote is ever loaded).
//!
//! Why a child process rather than refusing components over some size: what
//! compiling costs depends on the compiler's internals, not on a size one can
//! read off the component. Measured with wasmtime 48 (peak RSS of `host run`):
//! an 845 KB component of 100,000 empty functions with 50,000 locals each
//! took 4.4 GB to compile with Winch; a 4 MB one of a million empty
//! functions 5.4 GB; a 6 MB function of two million nested blocks 2.4 GB;
//! a 2.8 MB function of 50,000 locals and 260,000 `if`s 5.7 GB with
//! Cranelift, while the real 18 MB Python component (6.5 MB of code, a
//! 427 KB function) needs about 250 MB. Every cap on sizes that lets the
//! Python component through lets one of these through, and each new shape
//! would need a rule of its own. An rlimit holds whatever the cause, costs
//! one process start per component not yet in the cache, and takes the
//! compiler's memory out of the parent's peak as well. Settings that lower
//! peak memory (one compile thread) bound nothing on their own.
//!
//! Only the `host` binary can start the child: it calls [`serve_or_enable`]
//! first thing. A program that uses the library without it compiles in
//! its own process, without the cap.

use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;

use super::{Compiler, Limits, Sandbox, one_line};

/// The first argument that makes `host` a compile child. Not a subcommand:
/// nobody types it, and clap never sees it.
const CHILD_ARG: &str = "__compile-component";

/// Exit status of a child whose component does not compile (wasmtime's
/// words on stderr).
const INVALID: u8 = 2;
/// Exit status of a child that failed otherwise (the reason on stderr).
const FAILED: u8 = 3;

/// Threads a child compiles on at most. Each function being compiled holds
/// its own working memory, so the cap a component needs grows with them
/// (the JavaScript component with Cranelift: 390 MiB on one thread, 535 MiB
/// on eight); with at most eight, a cap that fits on one machine fits on all.
/// The run's pipeline compiles several components at once besides.
fn compile_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// The executable compile children are started from, once the binary enabled them.
static EXE: OnceLock<PathBuf> = OnceLock::new();

/// Runs this process as a compile child if it was started as one (the
/// returned code is its exit status); otherwise lets sandboxes compile in
/// child processes of this executable and returns `None`.
pub fn serve_or_enable() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(CHILD_ARG)) {
        if let Ok(exe) = std::env::current_exe() {
            let _ = EXE.set(exe);
        }
        return None;
    }
    let args: Vec<OsString> = args.collect();
    Some(match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            let _ = writeln!(std::io::stderr(), "{}", one_line(&e, 2000));
            ExitCode::from(code)
        }
    })
}

/// The executable to start compile children from, if the binary enabled them.
pub(super) fn exe() -> Option<&'static Path> {
    EXE.get().map(PathBuf::as_path)
}

/// The child: limits itself, reads the component from stdin, compiles it
/// and writes the compiled code to stdout. Fails with its exit status and words.
fn serve(args: &[OsString]) -> Result<(), (u8, String)> {
    let failed = |e: String| (FAILED, e);
    let [compiler, limit] = args else {
        return Err(failed(format!(
            "usage: host {CHILD_ARG} <compiler> <bytes>"
        )));
    };
    let limit: u64 = limit
        .to_str()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| failed("the memory limit is not a number".into()))?;
    limit_memory(limit).map_err(failed)?;
    let compiler = match compiler.to_str() {
        Some("winch") => Compiler::Winch,
        Some("cranelift") => Compiler::Cranelift,
        _ => return Err(failed("unknown compiler".into())),
    };
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| failed(format!("cannot read the component: {e}")))?;
    let limits = Limits {
        compiler,
        ..Limits::default()
    };
    let sandbox = Sandbox::new(None, limits).map_err(|e| failed(e.to_string()))?;
    // Only wasmtime's words: the parent names the revision.
    let invalid = |e: wasmtime::Error| (INVALID, one_line(&format!("{e:#}"), 300));
    let artifact = wasmtime::component::Component::new(&sandbox.engine, &bytes)
        .and_then(|c| c.serialize())
        .map_err(invalid)?;
    std::io::stdout()
        .write_all(&artifact)
        .and_then(|()| std::io::stdout().flush())
        .map_err(|e| failed(format!("cannot hand over the compiled code: {e}")))
}

/// Caps this process's data (heap and private mappings, where the compiler's
/// memory goes) at `bytes`, and turns off core dumps of a child that hits it.
fn limit_memory(bytes: u64) -> Result<(), String> {
    let set = |resource, limit: u64| {
        let limit = libc::rlimit {
            rlim_cur: limit as libc::rlim_t,
            rlim_max: limit as libc::rlim_t,
        };
        // SAFETY: setrlimit reads the struct it is given and nothing else.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(format!(
                "cannot limit the compiler's memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    };
    set(libc::RLIMIT_CORE, 0)?;
    set(libc::RLIMIT_DATA, bytes)
}

/// How a compile child ended when it did not compile.
#[derive(Debug)]
pub(super) enum Failure {
    /// It could not be started or spoken to.
    Start(std::io::Error),
    /// It ran out of its memory limit (killed by the allocator's abort, or
    /// an allocation wasmtime reported).
    OutOfMemory(String),
    /// The component does not compile; wasmtime's words.
    Invalid(String),
    /// The child failed otherwise (the cache folder not writable, ...); its words.
    Other(String),
}

/// Compiles `bytes` in a child process limited to `limit` bytes; returns the
/// compiled code (wasmtime's serialized form).
pub(super) fn compile(
    exe: &Path,
    compiler: Compiler,
    limit: usize,
    bytes: &[u8],
) -> Result<Vec<u8>, Failure> {
    let mut command = Command::new(exe);
    // A backtrace of the allocator's abort reads the binary's debug
    // information: hundreds of MB the cap does not count, to print nothing
    // a user needs.
    command
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        command.env("RAYON_NUM_THREADS", compile_threads().to_string());
    }
    let mut child = command
        .arg(CHILD_ARG)
        .arg(compiler.name())
        .arg(limit.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Failure::Start)?;
    // The child reads all of its input before it writes anything, so this
    // cannot block on a full output pipe. A child that dies before reading
    // everything closes the pipe: its exit status says why.
    let _ = child.stdin.take().expect("stdin is piped").write_all(bytes);
    let out = child.wait_with_output().map_err(Failure::Start)?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    // The allocator's abort may be followed by a backtrace's first lines.
    let said = said
        .lines()
        .find(|l| out_of_memory(l))
        .or_else(|| said.lines().next())
        .unwrap_or_default();
    let said = one_line(said, 300);
    if !out_of_memory(&said) {
        match out.status.code() {
            Some(c) if c == i32::from(INVALID) => return Err(Failure::Invalid(said)),
            Some(c) if c == i32::from(FAILED) => return Err(Failure::Other(said)),
            _ => {}
        }
    }
    Err(Failure::OutOfMemory(
        match (said.is_empty(), exit_signal(&out.status)) {
            (false, _) => said,
            (true, Some(signal)) => format!("the compiler was killed by signal {signal}"),
            (true, None) => format!("the compiler exited with {}", out.status),
        },
    ))
}

/// Whether a child's last words are an allocation that failed: Rust's
/// "memory allocation of N bytes failed", or an `mmap` refused with ENOMEM.
fn out_of_memory(said: &str) -> bool {
    said.contains("memory allocation of") || said.contains("os error 12")
}

fn exit_signal(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_failures_read_as_out_of_memory() {
        assert!(out_of_memory("memory allocation of 16777216 bytes failed"));
        assert!(out_of_memory(
            "failed to create memory: Cannot allocate memory (os error 12)"
        ));
        assert!(!out_of_memory(
            "failed to compile: wasm[3]::function[0]: `br_table` has 4194304 targets"
        ));
    }
}
