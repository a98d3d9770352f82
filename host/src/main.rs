//! The `host` command line: parses the arguments, runs the command on a
//! single-threaded runtime, and reports an error as text (or JSON with
//! `--plan --json`). Everything else is in [`cli`].

use clap::Parser;
use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    // Components are compiled in child processes of this binary, under the
    // compile memory cap; this process may be one.
    if let Some(code) = host::runtime::sandbox::serve_compile_child_or_enable() {
        return code;
    }
    let cli = cli::Cli::parse();
    let json = cli.json_errors();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match rt.block_on(cli::dispatch(cli)) {
        Ok(code) => code,
        Err(e) if json => cli::output::error_json(&e),
        Err(e) => cli::output::error_text(&e),
    }
}
