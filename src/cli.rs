//! The command line: argument definitions (clap derive) and dispatch to the library.

use crate::dtype::DType;
use crate::linear::LinearReport;
use crate::output::print_stdout;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "tchinfo",
    version,
    about = "Show what is inside a neural network: module tree, parameters, output shapes and memory",
    long_about = "Show what is inside a neural network: module tree, parameter counts per layer, output \
                  shapes, where the parameters sit and how much memory weights and training state take.\n\n\
                  `tchinfo MODEL` is short for `tchinfo summary MODEL`.\n\n\
                  Units: MiB = 2^20 bytes, MB = 10^6 bytes; each figure names the unit it was computed in."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parameters and memory of one Linear (fully connected) layer.
    Linear(LinearArgs),
}

#[derive(Debug, Args)]
pub struct LinearArgs {
    /// Input features (IN).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub in_features: u64,
    /// Output features (OUT).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub out_features: u64,
    /// Leave out the bias (as `bias=False`), and show what that saves.
    #[arg(long)]
    pub no_bias: bool,
    /// Element type of the weights: f32, f16, bf16, f64 or i8.
    #[arg(long, default_value = "f32", value_parser = parse_linear_dtype)]
    pub dtype: DType,
}

fn parse_linear_dtype(s: &str) -> Result<DType, String> {
    let d: DType = s.parse()?;
    match d {
        DType::Float32 | DType::Float16 | DType::BFloat16 | DType::Float64 | DType::Int8 => Ok(d),
        other => Err(format!(
            "dtype {other} is not offered here (use f32, f16, bf16, f64 or i8)"
        )),
    }
}

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

const SUBCOMMANDS: &[&str] = &["linear", "help"];

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

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Linear(args) => {
            let report = LinearReport::new(
                args.in_features,
                args.out_features,
                !args.no_bias,
                args.dtype,
            )
            .map_err(|e| Failure::Usage(e.into()))?;
            print_stdout(&report.render_text()).map_err(|e| Failure::Run(e.into()))
        }
    }
}
