//! The command line: clap definitions, one module per command area, and the
//! only code in the project that prints.

pub mod package;
