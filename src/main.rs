//! The `tchinfo` command.
//!
//! Reading a file's structure needs no libtorch, so this binary links only `tchinfo-core`: libtorch's
//! start-up alone costs ~0.3 s and ~110 MiB. Commands that need libtorch (built-in architectures, forward
//! passes, the Linear cross-check) are handed to `tchinfo-torch`, installed beside this binary, with the
//! same arguments.

use std::os::unix::process::CommandExt;
use std::process::Command;
use tchinfo_core::cli::{self, FileLoader};

fn main() {
    let parsed = cli::parse();
    if cli::needs_libtorch(&parsed) {
        let error = match std::env::current_exe() {
            Ok(me) => {
                let torch = me.with_file_name("tchinfo-torch");
                let mut command = Command::new(&torch);
                command.args(std::env::args_os().skip(1));
                // libtorch's OpenMP threads otherwise spin at barriers, which on a busy 2-core machine
                // costs more than the work; it only takes effect if set before libtorch starts.
                if std::env::var_os("OMP_WAIT_POLICY").is_none() {
                    command.env("OMP_WAIT_POLICY", "passive");
                }
                let e = command.exec();
                format!(
                    "cannot start {} ({e}); it is built and installed beside tchinfo by `cargo build` / `cargo install`",
                    torch.display()
                )
            }
            Err(e) => format!("cannot find the tchinfo-torch binary: {e}"),
        };
        eprintln!("tchinfo: error: {error}");
        std::process::exit(1);
    }
    cli::exit_on_failure(cli::run(parsed, &FileLoader));
}
