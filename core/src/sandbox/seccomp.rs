//! The system calls a forward pass may not make, as a seccomp filter on every thread of the child.
//!
//! Everything else is allowed: libtorch needs memory, threads, files to read and its own pipes. A
//! refused call returns `EACCES` ("Permission denied"), which libtorch turns into an error of the run
//! rather than a crash; `clone3` returns `ENOSYS` instead, so that the C library falls back to `clone`,
//! whose flags the filter can read (a thread is allowed, a new process is not).

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Calls refused whatever their arguments.
fn always_refused() -> Vec<i64> {
    use libc::*;
    let mut calls = vec![
        // New processes and programs.
        SYS_execve,
        SYS_execveat,
        // The network, and local sockets too (a daemon's socket is as good as a network).
        SYS_socket,
        SYS_socketpair,
        // Changing the file system.
        SYS_renameat,
        SYS_renameat2,
        SYS_unlinkat,
        SYS_mkdirat,
        SYS_linkat,
        SYS_symlinkat,
        SYS_mknodat,
        SYS_fchmod,
        SYS_fchmodat,
        SYS_fchown,
        SYS_fchownat,
        SYS_truncate,
        SYS_utimensat,
        SYS_setxattr,
        SYS_lsetxattr,
        SYS_fsetxattr,
        SYS_removexattr,
        SYS_lremovexattr,
        SYS_fremovexattr,
        SYS_name_to_handle_at,
        SYS_open_by_handle_at,
        // Other processes.
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_tkill,
        SYS_pidfd_open,
        SYS_pidfd_getfd,
        SYS_pidfd_send_signal,
        // The system: mounts, namespaces, BPF, io_uring (which does file operations unseen by this
        // filter), keys, modules, clocks, limits.
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_chroot,
        SYS_setns,
        SYS_unshare,
        SYS_bpf,
        SYS_perf_event_open,
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register,
        SYS_userfaultfd,
        SYS_add_key,
        SYS_request_key,
        SYS_keyctl,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_kexec_load,
        SYS_reboot,
        SYS_swapon,
        SYS_swapoff,
        SYS_acct,
        SYS_quotactl,
        SYS_syslog,
        SYS_sethostname,
        SYS_setdomainname,
        SYS_settimeofday,
        SYS_clock_settime,
        SYS_clock_adjtime,
        SYS_adjtimex,
        SYS_setrlimit,
        SYS_fanotify_init,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        SYS_fork,
        SYS_vfork,
        SYS_creat,
        SYS_rename,
        SYS_unlink,
        SYS_mkdir,
        SYS_rmdir,
        SYS_link,
        SYS_symlink,
        SYS_mknod,
        SYS_chmod,
        SYS_chown,
        SYS_lchown,
        SYS_utime,
        SYS_utimes,
        SYS_futimesat,
        SYS_iopl,
        SYS_ioperm,
        SYS_kexec_file_load,
    ]);
    calls
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| e.to_string())
}

fn cond(arg: u8, len: Len, op: Op, value: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| e.to_string())
}

/// Rules that match an open whose flags (argument `arg`) ask to write, create or truncate.
fn writing_open(arg: u8) -> Result<Vec<SeccompRule>, String> {
    let flags = [
        libc::O_WRONLY,
        libc::O_RDWR,
        libc::O_CREAT,
        libc::O_TRUNC,
        libc::O_TMPFILE & !libc::O_DIRECTORY,
    ];
    flags
        .iter()
        .map(|&f| {
            let f = f as u64;
            rule(vec![cond(arg, Len::Dword, Op::MaskedEq(f), f)?])
        })
        .collect()
}

/// The filter of refused calls (`EACCES`), for a child whose process id is `pid`.
fn refusals(pid: u32) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in always_refused() {
        rules.insert(call, Vec::new());
    }
    rules.insert(libc::SYS_openat, writing_open(2)?);
    #[cfg(target_arch = "x86_64")]
    rules.insert(libc::SYS_open, writing_open(1)?);
    // A clone without CLONE_THREAD is a new process.
    let thread = libc::CLONE_THREAD as u64;
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(0, Len::Qword, Op::MaskedEq(thread), 0)?])?],
    );
    // Signals only to itself (abort() is tgkill(own pid, own thread, SIGABRT)).
    let other = |arg| -> Result<Vec<SeccompRule>, String> {
        Ok(vec![rule(vec![cond(
            arg,
            Len::Dword,
            Op::Ne,
            pid as u64,
        )?])?])
    };
    rules.insert(libc::SYS_kill, other(0)?);
    rules.insert(libc::SYS_tgkill, other(0)?);
    rules.insert(libc::SYS_rt_sigqueueinfo, other(0)?);
    rules.insert(libc::SYS_rt_tgsigqueueinfo, other(0)?);
    // Reading a limit is fine (getrlimit is prlimit64 with a null new limit); setting one is not.
    rules.insert(
        libc::SYS_prlimit64,
        vec![rule(vec![cond(2, Len::Qword, Op::Ne, 0)?])?],
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        ARCH,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// The filter of calls that must look absent (`ENOSYS`), so the C library uses an older call the first
/// filter can inspect.
fn absences() -> Result<BpfProgram, String> {
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [libc::SYS_clone3, libc::SYS_openat2]
        .into_iter()
        .map(|call| (call, Vec::new()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        ARCH,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// Installs both filters on every thread of this process. Needs `PR_SET_NO_NEW_PRIVS` (or root).
pub fn install(pid: u32) -> Result<(), String> {
    for program in [absences()?, refusals(pid)?] {
        seccompiler::apply_filter_all_threads(&program)
            .map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
    }
    Ok(())
}
