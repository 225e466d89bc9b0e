//! The sandbox for a model file's own code: the one place where tchinfo runs something a stranger wrote.
//!
//! A TorchScript file carries code, and measuring output shapes (`--input-size`) means running its
//! `forward` through libtorch. That run happens in a child process (`tchinfo-torch` in a hidden mode,
//! [`CHILD_FLAG`]), never in the process that prints the report:
//! - [`supervise`] (the parent): spawns the child in its own process group with an empty private
//!   directory as its working and temporary directory, hands it the request on stdin, reads the
//!   measurement from its stdout and everything else it writes from its stderr (capped: the model's
//!   `print()`s become a note, never part of the report), stops it at the wall-time limit, and turns any
//!   way it can end (a signal, a limit, a crash) into one line naming it.
//! - [`child`] (the child, before it opens the model file): confines itself, then runs the shim and
//!   writes the result. Each layer stops something on its own:
//!   - resource limits: address space and data (`--max-memory`), processor time (a backstop to the
//!     parent's clock), no file may grow (`RLIMIT_FSIZE` 0), 64 open files, no core dump; it dies with
//!     its parent (`PR_SET_PDEATHSIG`);
//!   - `PR_SET_NO_NEW_PRIVS`: nothing it could execute gains privileges;
//!   - [`seccomp`]: no file opened for writing or created, renamed, removed, linked or re-permissioned;
//!     no process started (threads only); no socket; no signal to another process; no tracing, mounting,
//!     namespaces, BPF, io_uring or raised limits. Refused calls fail with "Permission denied", which
//!     libtorch reports as an error of the forward pass;
//!   - [`landlock`] (where the kernel has it, Linux 5.13 and later): reads limited to the model file,
//!     the directories of the libraries already loaded and the CPU description libtorch reads; no TCP,
//!     no abstract Unix socket or signal outside the sandbox. Without Landlock the code can read what the
//!     user can read, and the notice says so; what it reads can only reach the report as shapes and
//!     error text, both escaped and bounded.
//!
//! Built-in architectures are built by tchinfo's own code and run in-process.

pub mod child;
mod landlock;
mod seccomp;
pub mod supervise;

pub use supervise::{Finished, SandboxFailure, run_forward};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first argument that puts `tchinfo-torch` in its sandboxed measuring mode. Not a documented
/// option: only [`supervise`] passes it.
pub const CHILD_FLAG: &str = "--sandboxed-forward-pass";

/// The default wall-time limit of one forward pass.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What one sandboxed forward pass may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall time from start to the result; the child is killed past it.
    pub timeout: Duration,
    /// Bytes of data (heap and anonymous memory) the child may have mapped.
    pub max_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            max_memory: default_max_memory(),
        }
    }
}

/// Half of the machine's memory: enough for the weights (which the shim allocates but never reads) and
/// the activations of any model the machine can run, and the other half is left to the user.
pub fn default_max_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        return 4 << 30;
    }
    (pages as u64).saturating_mul(size as u64) / 2
}

/// The binary that runs forward passes: `tchinfo-torch`, installed beside whichever of the two binaries
/// is running (in `tchinfo-torch` itself, itself).
pub fn child_exe() -> std::io::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name("tchinfo-torch"))
}

/// Whether Landlock can confine the child on this kernel: its ABI version, or `None`.
pub fn landlock_abi() -> Option<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and size 0, this call only reports the ABI version.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (v > 0).then_some(v as i32)
}

static NOTICE_GIVEN: AtomicBool = AtomicBool::new(false);

/// The stderr line printed before a file's code first runs in this process, saying what runs and what
/// it may do.
pub fn notice(model: &str, limits: &Limits) -> String {
    let reads = match landlock_abi() {
        Some(_) => "reads limited to the model and libtorch's files (Landlock)",
        None => {
            "reads not limited (this kernel has no Landlock: the code can read what you can read)"
        }
    };
    format!(
        "tchinfo: running the TorchScript code in {model} (its forward pass for --input-size; for plan, forward and backward) in a \
         sandboxed child process: no file writes, no network, no new processes, {reads}; at most {} \
         (--timeout) and {} (--max-memory)",
        seconds_text(limits.timeout),
        crate::units::binary(limits.max_memory)
    )
}

/// Prints [`notice`] on stderr, once per process.
pub fn give_notice_once(model: &str, limits: &Limits) {
    if !NOTICE_GIVEN.swap(true, Ordering::Relaxed) {
        eprintln!("{}", notice(model, limits));
    }
}

/// `60 s`, `2.5 s`.
pub fn seconds_text(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// `--timeout`: seconds, a decimal number, optionally followed by `s`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let number = text.trim().trim_end_matches('s').trim();
    match number.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "'{text}' is not a time limit in seconds between 0 and 86400 (example: 60)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_print() {
        assert_eq!(parse_timeout("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_timeout("2.5s").unwrap(), Duration::from_millis(2500));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("soon").is_err());
        assert_eq!(seconds_text(Duration::from_secs(60)), "60 s");
        assert_eq!(seconds_text(Duration::from_millis(1500)), "1.5 s");
        assert!(default_max_memory() >= 1 << 20);
    }
}
