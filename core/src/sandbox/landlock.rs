//! Landlock: what the child may read, where the kernel supports it.
//!
//! The ruleset handles every file-system right, TCP bind and connect, and (Linux 6.12 and later)
//! abstract Unix sockets and signals outside the sandbox; rules then give back read access to the model
//! file, to the directories of the libraries the process has already loaded (libtorch opens nothing else
//! of its own, but a lazily loaded library would come from there), to the CPU description libtorch
//! reads to size its thread pool, and to /dev/urandom, which seeds its random generator (dropout). Anything else (`/etc/passwd`, the user's home) fails with "Permission
//! denied". Older kernels get what they support (the crate's best-effort mode); a kernel without
//! Landlock gets nothing, which [`Status::describe`] says.

use landlock::{
    ABI, Access, AccessFs, AccessNet, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What Landlock enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Full,
    Partial,
    Unavailable,
}

/// The newest rights this code asks for; older kernels enforce the subset they know.
const TARGET: ABI = ABI::V6;

/// Directories of every file mapped into this process (its libraries), read from /proc/self/maps
/// before the ruleset takes effect.
fn library_dirs() -> BTreeSet<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/') && !p.starts_with("/dev/") && !p.starts_with("/proc/"))
        .filter_map(|p| Path::new(p).parent().map(Path::to_path_buf))
        .collect()
}

/// Confines this thread (and the threads it starts) to reading `model` and what libtorch needs.
pub fn restrict(model: &Path) -> Result<Status, String> {
    let fail = |e: landlock::RulesetError| format!("cannot set up Landlock: {e}");
    let read = AccessFs::from_read(TARGET);
    let mut readable: Vec<PathBuf> = library_dirs().into_iter().collect();
    readable.extend(
        [
            "/etc/ld.so.cache",
            "/sys/devices/system/cpu",
            "/proc/cpuinfo",
            // libtorch seeds its default random generator from it on first use: a training step's
            // dropout needs one. Reading random bytes discloses nothing.
            "/dev/urandom",
        ]
        .map(PathBuf::from),
    );
    let model_fd = PathFd::new(model).map_err(|e| format!("cannot open the model: {e}"))?;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(fail)?
        .handle_access(AccessNet::from_all(TARGET))
        .map_err(fail)?
        .scope(Scope::from_all(TARGET))
        .map_err(fail)?
        .create()
        .map_err(fail)?
        .add_rules(path_beneath_rules(&readable, read))
        .map_err(fail)?
        .add_rule(PathBeneath::new(model_fd, AccessFs::ReadFile))
        .map_err(fail)?
        .restrict_self()
        .map_err(fail)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Status::Full,
        RulesetStatus::PartiallyEnforced => Status::Partial,
        RulesetStatus::NotEnforced => Status::Unavailable,
    })
}
