//! The command line: argument definitions (clap derive) and dispatch to the reports.
//!
//! Sources are reached through [`Loader`]: the `tchinfo` front binary uses [`FileLoader`] (files, no
//! libtorch) and hands everything else to `tchinfo-torch`, whose loader adds built-ins and forward passes.

mod args;
mod commands;
mod loader;

pub use args::*;
pub use loader::{BuiltinRow, FileLoader, Loader, needs_libtorch};

use clap::Parser;
use std::ffi::OsString;

/// How a run failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Arguments that cannot be used (exit code 2, like clap's own errors).
    Usage(anyhow::Error),
    /// A model, file or computation that failed (exit code 1).
    Run(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
        }
    }

    pub fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Usage(e) | Failure::Run(e) => e,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

const SUBCOMMANDS: &[&str] = &[
    "summary", "compare", "plan", "lint", "linear", "list", "help",
];

/// `tchinfo vgg16` means `tchinfo summary vgg16`: insert the subcommand when the first argument is not one.
pub fn normalize_args(mut args: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = args.get(1).and_then(|a| a.to_str())
        && !first.starts_with('-')
        && !SUBCOMMANDS.contains(&first)
    {
        args.insert(1, OsString::from("summary"));
    }
    args
}

pub use commands::run;

/// The process arguments, parsed (`tchinfo vgg16` meaning `tchinfo summary vgg16`). Bad arguments exit
/// here with clap's message and code 2.
pub fn parse() -> Cli {
    Cli::parse_from(normalize_args(std::env::args_os().collect()))
}

/// Prints a failure as one line on stderr and exits with its code.
pub fn exit_on_failure(result: Result<(), Failure>) {
    if let Err(failure) = result {
        eprintln!("tchinfo: error: {:#}", failure.error());
        std::process::exit(failure.exit_code());
    }
}
