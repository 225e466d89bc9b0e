//! The `tchinfo` command.
//!
//! Reading a file's structure needs no libtorch, so this binary links only `tchinfo-core`: libtorch's
//! start-up alone costs ~0.3 s and ~110 MiB. A file's forward pass runs in a sandboxed child
//! (`tchinfo-torch` in its measuring mode, see `tchinfo_core::sandbox`), which this binary supervises.
//! Commands that need libtorch in-process (built-in architectures, the Linear cross-check, the list of
//! built-ins) are handed to `tchinfo-torch`, installed beside this binary, with the same arguments.

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
                // A stdout closed at start is /dev/null by now (Rust's runtime reopens it): close it
                // again, so that tchinfo-torch sees what the user gave and reports it.
                if tchinfo_core::output::stdout_closed_at_start() {
                    // SAFETY: closing descriptor 1, which only this runtime's /dev/null holds.
                    unsafe { libc::close(1) };
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
