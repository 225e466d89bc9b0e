//! The child's side: `tchinfo-torch --sandboxed-forward-pass CPU_SECONDS MAX_MEMORY PARENT_PID MODEL`,
//! with the shim's request on stdin.
//!
//! Before anything reads the model, the child closes every descriptor it inherited beyond the three
//! standard ones, keeps its stdout for the result alone (what the model's code prints goes to stderr,
//! which the parent captures), and confines itself ([`confine`]). Then it runs the measurement, writes
//! the text, and leaves with `_exit`, skipping libtorch's static destructors.

use super::{CHILD_FLAG, landlock, seccomp};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};

/// Exit code of a child that could not confine itself; its stderr says why.
pub const SETUP_FAILED: i32 = 70;

/// The largest request accepted on stdin (a request is a few lines per input).
const MAX_REQUEST: u64 = 1 << 20;

/// What the parent asked for.
struct Task {
    cpu_seconds: u64,
    max_memory: u64,
    parent: libc::pid_t,
    model: PathBuf,
}

fn parse(args: &[OsString]) -> Option<Task> {
    let [flag, cpu, memory, parent, model] = args else {
        return None;
    };
    if flag != CHILD_FLAG {
        return None;
    }
    Some(Task {
        cpu_seconds: cpu.to_str()?.parse().ok()?,
        max_memory: memory.to_str()?.parse().ok()?,
        parent: parent.to_str()?.parse().ok()?,
        model: PathBuf::from(model),
    })
}

/// The arguments that make the child measure `model` (after the program name).
pub(super) fn arguments(cpu_seconds: u64, max_memory: u64, model: &Path) -> Vec<OsString> {
    vec![
        CHILD_FLAG.into(),
        cpu_seconds.to_string().into(),
        max_memory.to_string().into(),
        std::process::id().to_string().into(),
        model.as_os_str().to_owned(),
    ]
}

/// True when this process was started as a sandboxed child (its first argument is [`CHILD_FLAG`]).
pub fn requested() -> bool {
    std::env::args_os().nth(1).is_some_and(|a| a == CHILD_FLAG)
}

/// Runs the child: confines this process, then `measure(model, request)`, and exits. `measure` returns
/// the shim's text (failures are `error` lines in it).
pub fn serve(measure: impl FnOnce(&Path, &str) -> String) -> ! {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(task) = parse(&args) else {
        setup_failed("malformed arguments for the sandboxed child");
    };
    let mut request = String::new();
    if std::io::stdin()
        .take(MAX_REQUEST)
        .read_to_string(&mut request)
        .is_err()
    {
        setup_failed("cannot read the request");
    }
    let mut result = match separate_outputs() {
        Ok(file) => file,
        Err(e) => setup_failed(&format!("cannot set up its output: {e}")),
    };
    if let Err(e) = confine(&task) {
        setup_failed(&e);
    }
    let text = measure(&task.model, &request);
    let code = match result
        .write_all(text.as_bytes())
        .and_then(|_| result.flush())
    {
        Ok(()) => 0,
        Err(_) => 1,
    };
    // SAFETY: _exit ends the process without running destructors, which is the point.
    unsafe { libc::_exit(code) }
}

fn setup_failed(why: &str) -> ! {
    eprintln!("tchinfo sandbox: {why}");
    // SAFETY: as in serve.
    unsafe { libc::_exit(SETUP_FAILED) }
}

/// Closes inherited descriptors past stderr, moves stdout to a descriptor of its own for the result, and
/// points descriptor 1 at stderr, where the model's prints then go.
fn separate_outputs() -> std::io::Result<std::fs::File> {
    // SAFETY: plain system calls on descriptor numbers; nothing in this process holds descriptors past 2
    // yet (the standard library opens none of its own).
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..1024 {
                libc::close(fd);
            }
        }
        let result = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if result < 0 || libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(result))
    }
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> Result<(), String> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(format!(
            "cannot set a resource limit: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Address space beyond the data limit: libtorch's code, thread stacks' guard areas and the allocator's
/// reservations are mapped but hold no data.
const ADDRESS_SPACE_HEADROOM: u64 = 8 << 30;

/// Every layer, in an order where each step still has the rights it needs: limits, then the death
/// signal, then no new privileges, Landlock and seccomp (which refuses `prlimit64` and so must come last).
fn confine(task: &Task) -> Result<(), String> {
    // SAFETY: prctl and getppid with these arguments only affect this process.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err("cannot ask to die with its parent".into());
        }
        // The parent may have gone before the request took effect.
        if libc::getppid() != task.parent {
            libc::_exit(SETUP_FAILED);
        }
    }
    set_limit(libc::RLIMIT_CORE, 0, 0)?;
    set_limit(libc::RLIMIT_FSIZE, 0, 0)?;
    set_limit(libc::RLIMIT_NOFILE, 64, 64)?;
    set_limit(libc::RLIMIT_CPU, task.cpu_seconds, task.cpu_seconds + 5)?;
    set_limit(libc::RLIMIT_DATA, task.max_memory, task.max_memory)?;
    let space = task.max_memory.saturating_add(ADDRESS_SPACE_HEADROOM);
    set_limit(libc::RLIMIT_AS, space, space)?;
    // SAFETY: as above.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err("cannot set no_new_privs".into());
    }
    landlock::restrict(&task.model)?;
    seccomp::install(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_round_trip() {
        let args = arguments(65, 1 << 30, Path::new("/m/x.pt"));
        let task = parse(&args).unwrap();
        assert_eq!(
            (task.cpu_seconds, task.max_memory, task.model),
            (65, 1 << 30, PathBuf::from("/m/x.pt"))
        );
        assert_eq!(task.parent as u32, std::process::id());
        assert!(parse(&args[1..]).is_none());
    }
}
