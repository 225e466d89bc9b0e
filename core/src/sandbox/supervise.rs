//! The parent's side: start the child, feed it, watch the clock, read what it wrote, and say how it
//! ended.

use super::{Limits, child, seconds_text};
use crate::units::binary;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The largest measurement accepted from the child: a record of a few lines per module call and counted
/// operator; a forward that loops over operators millions of times is refused rather than held.
pub const MAX_RESULT_BYTES: u64 = 64 << 20;

/// What is kept of the child's stdout and stderr (the model's prints, libtorch's own messages); the rest
/// is read and dropped so the child never blocks on a full pipe.
pub const MAX_CAPTURED_BYTES: usize = 64 << 10;

/// A finished forward pass: the shim's text, and what the child printed besides it.
#[derive(Debug)]
pub struct Finished {
    pub result: String,
    /// The child's stdout and stderr, as far as kept ([`MAX_CAPTURED_BYTES`]), when it wrote anything.
    pub printed: Option<Captured>,
}

/// Output the child wrote besides its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub text: String,
    /// Bytes written beyond what was kept.
    pub dropped: u64,
}

/// How a sandboxed forward pass failed, as the parent saw it. Each renders as the end of one line.
#[derive(Debug)]
pub enum SandboxFailure {
    /// The child could not be started or watched.
    Start(String),
    /// The child could not confine itself: it ran nothing.
    Setup(String),
    /// Still running at the wall-time limit: killed.
    Timeout(Duration),
    /// Used up its processor time (SIGXCPU).
    Cpu,
    /// Tried to grow a file (SIGXFSZ from the zero file-size limit).
    FileWrite,
    /// Ran out of the memory it may use (an allocation failed and the process aborted).
    Memory(u64),
    /// Its stack overflowed (deeply nested code or data).
    StackOverflow,
    /// Killed or crashed by a signal; `detail` is the first line it printed, if any.
    Signal { signal: i32, detail: Option<String> },
    /// Exited with a code other than 0 without a result.
    Exit { code: i32, detail: Option<String> },
    /// Wrote a result larger than [`MAX_RESULT_BYTES`].
    ResultTooLarge,
}

impl fmt::Display for SandboxFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = |d: &Option<String>| match d {
            Some(d) => format!(": {d}"),
            None => String::new(),
        };
        match self {
            SandboxFailure::Start(e) => write!(f, "cannot start the sandboxed forward pass: {e}"),
            SandboxFailure::Setup(e) => {
                write!(f, "cannot set up the sandbox, so nothing was run: {e}")
            }
            SandboxFailure::Timeout(t) => write!(
                f,
                "the forward pass did not finish within {} (--timeout); it was stopped",
                seconds_text(*t)
            ),
            SandboxFailure::Cpu => write!(
                f,
                "the forward pass used up its processor time (the sandbox's limit follows --timeout); it was stopped"
            ),
            SandboxFailure::FileWrite => write!(
                f,
                "the forward pass tried to write to a file, which the sandbox forbids; it was stopped"
            ),
            SandboxFailure::Memory(limit) => write!(
                f,
                "the forward pass needed more memory than the sandbox allows ({}, --max-memory); it was stopped",
                binary(*limit)
            ),
            SandboxFailure::StackOverflow => write!(
                f,
                "the forward pass overflowed its stack (code or data nested too deeply); it was stopped"
            ),
            SandboxFailure::Signal { signal, detail: d } => write!(
                f,
                "the forward pass crashed ({}){}",
                signal_name(*signal),
                detail(d)
            ),
            SandboxFailure::Exit { code, detail: d } => write!(
                f,
                "the sandboxed forward pass ended with exit code {code} and no result{}",
                detail(d)
            ),
            SandboxFailure::ResultTooLarge => write!(
                f,
                "the forward pass's record is larger than {} (a forward that loops over operators?)",
                binary(MAX_RESULT_BYTES)
            ),
        }
    }
}

/// `SIGSEGV (signal 11)`.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV, a memory error",
        libc::SIGBUS => "SIGBUS, a memory error",
        libc::SIGABRT => "SIGABRT, an abort",
        libc::SIGILL => "SIGILL, an illegal instruction",
        libc::SIGFPE => "SIGFPE, an arithmetic error",
        libc::SIGKILL => "SIGKILL, killed from outside, often by the kernel for lack of memory",
        libc::SIGSYS => "SIGSYS, a forbidden system call",
        libc::SIGTERM => "SIGTERM, terminated",
        _ => "",
    };
    if name.is_empty() {
        format!("signal {signal}")
    } else {
        format!("{name}, signal {signal}")
    }
}

/// An empty directory only this user can enter, removed when dropped: the child's working and
/// temporary directory, so a relative path in the model's code resolves to nothing of the user's.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> std::io::Result<PrivateDir> {
        use std::hash::{BuildHasher, RandomState};
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..16 {
            let token = RandomState::new().hash_one(std::process::id());
            let dir = base.join(format!("tchinfo-sandbox-{token:016x}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(PrivateDir(dir)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no directory name was free")))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads `from` to its end, keeping at most `keep` bytes and counting the rest.
fn drain(mut from: impl Read, keep: usize) -> (Vec<u8>, u64) {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 16 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = keep.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
                dropped += (n - room) as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (kept, dropped)
}

/// Processor seconds the child may use: every core busy for the whole wall time, and a margin, so
/// that the parent's clock (which kills at the wall-time limit) always decides first.
fn cpu_seconds(timeout: Duration) -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    (timeout.as_secs_f64().ceil() as u64)
        .saturating_mul(cores)
        .saturating_add(5)
}

/// Runs the shim on `model` with `request` in a sandboxed `exe` (see the module documentation of
/// [`super`]) and returns its text, or how it failed.
pub fn run_forward(
    exe: &Path,
    model: &Path,
    request: &str,
    limits: &Limits,
) -> Result<Finished, SandboxFailure> {
    let start = |e: std::io::Error| SandboxFailure::Start(e.to_string());
    let dir = PrivateDir::create().map_err(start)?;
    // The child works in the private directory: a relative model path is made absolute first.
    let model = std::path::absolute(model).map_err(start)?;
    let mut command = Command::new(exe);
    command
        .args(child::arguments(
            cpu_seconds(limits.timeout),
            limits.max_memory,
            &model,
        ))
        .current_dir(&dir.0)
        .env("TMPDIR", &dir.0)
        .env("TMP", &dir.0)
        .env("TEMP", &dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: the terminal's Ctrl-C reaches the parent, which takes the child with
        // it (the child dies with its parent), and a timeout kills the whole group.
        .process_group(0);
    // libtorch's OpenMP threads otherwise spin at barriers, which on a busy machine costs more than the
    // work; it only takes effect if set before libtorch starts.
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        command.env("OMP_WAIT_POLICY", "passive");
    }
    let mut process = command.spawn().map_err(|e| {
        SandboxFailure::Start(format!(
            "{} ({e}); it is built and installed beside tchinfo by `cargo build` / `cargo install`",
            crate::text::path(exe)
        ))
    })?;
    let pid = process.id() as libc::pid_t;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (
        process.stdin.take(),
        process.stdout.take(),
        process.stderr.take(),
    ) else {
        return Err(SandboxFailure::Start("no pipes to the child".into()));
    };
    let result_reader = std::thread::spawn(move || drain(stdout, MAX_RESULT_BYTES as usize + 1));
    let captured_reader = std::thread::spawn(move || drain(stderr, MAX_CAPTURED_BYTES));
    // A child that failed before reading its request closes the pipe; that shows in how it ends.
    let _ = stdin.write_all(request.as_bytes());
    drop(stdin);
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = process.wait();
        let _ = done.send(());
        status
    });
    let timed_out = match finished.recv_timeout(limits.timeout) {
        Ok(()) => false,
        Err(_) => {
            // SAFETY: kill has no memory effects; the group is the child's own (process_group(0)),
            // and the waiter has not reaped it, so its id is still the child's.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            true
        }
    };
    let status = waiter
        .join()
        .map_err(|_| SandboxFailure::Start("the waiting thread failed".into()))?
        .map_err(start)?;
    let (result, result_dropped) = result_reader.join().unwrap_or_default();
    let (captured, captured_dropped) = captured_reader.join().unwrap_or_default();
    drop(dir);
    let captured = Captured {
        text: String::from_utf8_lossy(&captured).into_owned(),
        dropped: captured_dropped,
    };
    if timed_out {
        return Err(SandboxFailure::Timeout(limits.timeout));
    }
    if let Some(failure) = failure_of(status, &captured, limits) {
        return Err(failure);
    }
    if result_dropped > 0 || result.len() as u64 > MAX_RESULT_BYTES {
        return Err(SandboxFailure::ResultTooLarge);
    }
    Ok(Finished {
        result: String::from_utf8_lossy(&result).into_owned(),
        printed: (!captured.text.is_empty()).then_some(captured),
    })
}

/// How a child that ended on its own failed, from its status and what it printed; `None` for success.
fn failure_of(status: ExitStatus, captured: &Captured, limits: &Limits) -> Option<SandboxFailure> {
    let said = |needle: &str| captured.text.contains(needle);
    let first_line = || {
        captured
            .text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(crate::text::one_line)
    };
    if said("has overflowed its stack") {
        return Some(SandboxFailure::StackOverflow);
    }
    if let Some(signal) = status.signal() {
        return Some(match signal {
            libc::SIGXCPU => SandboxFailure::Cpu,
            libc::SIGXFSZ => SandboxFailure::FileWrite,
            libc::SIGABRT if said("memory allocation of") || said("std::bad_alloc") => {
                SandboxFailure::Memory(limits.max_memory)
            }
            signal => SandboxFailure::Signal {
                signal,
                detail: first_line(),
            },
        });
    }
    match status.code() {
        Some(0) => None,
        Some(child::SETUP_FAILED) => Some(SandboxFailure::Setup(
            first_line()
                .map(|l| {
                    l.trim_start_matches("tchinfo sandbox: ")
                        .trim_start_matches("tchinfo sandbox\\: ")
                        .to_string()
                })
                .unwrap_or_else(|| "the child gave no reason".into()),
        )),
        Some(code) => Some(SandboxFailure::Exit {
            code,
            detail: first_line(),
        }),
        None => Some(SandboxFailure::Exit {
            code: -1,
            detail: first_line(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_keeps_a_prefix_and_counts_the_rest() {
        let data = vec![b'x'; 100_000];
        let (kept, dropped) = drain(&data[..], 1000);
        assert_eq!((kept.len(), dropped), (1000, 99_000));
    }

    #[test]
    fn a_private_directory_is_private_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let dir = PrivateDir::create().unwrap();
        let path = dir.0.clone();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn endings_are_named() {
        let limits = Limits {
            timeout: Duration::from_secs(1),
            max_memory: 1 << 30,
        };
        let none = Captured {
            text: String::new(),
            dropped: 0,
        };
        let signal = |s| ExitStatus::from_raw(s);
        assert!(failure_of(ExitStatus::from_raw(0), &none, &limits).is_none());
        let text = |s: ExitStatus, c: &Captured| failure_of(s, c, &limits).unwrap().to_string();
        assert!(text(signal(libc::SIGXCPU), &none).contains("processor time"));
        assert!(text(signal(libc::SIGXFSZ), &none).contains("write to a file"));
        assert!(text(signal(libc::SIGSEGV), &none).contains("SIGSEGV"));
        let overflow = Captured {
            text: "\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow\n"
                .into(),
            dropped: 0,
        };
        assert!(text(signal(libc::SIGABRT), &overflow).contains("overflowed its stack"));
        let oom = Captured {
            text: "memory allocation of 8589934592 bytes failed\n".into(),
            dropped: 0,
        };
        assert!(text(signal(libc::SIGABRT), &oom).contains("1.00 GiB, --max-memory"));
        let setup = Captured {
            text: "tchinfo sandbox: cannot install the seccomp filter: EINVAL\n".into(),
            dropped: 0,
        };
        assert_eq!(
            text(ExitStatus::from_raw(child::SETUP_FAILED << 8), &setup),
            "cannot set up the sandbox, so nothing was run: cannot install the seccomp filter: EINVAL"
        );
    }
}
