use clap::Parser;
use tchinfo::cli::{self, Cli};

fn main() {
    let cli = Cli::parse_from(cli::normalize_args(std::env::args_os().collect()));
    if let Err(failure) = cli::run(cli) {
        eprintln!("tchinfo: error: {:#}", failure.error());
        std::process::exit(failure.exit_code());
    }
}
