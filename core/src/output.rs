//! Writing results: stdout that reports its errors, and `--output` that cannot be turned against the user.
//!
//! A report goes out escaped ([`crate::text::escape_report`]): whatever a file's names hold, nothing
//! but text reaches the terminal. `--output FILE` never destroys what it was not meant to:
//! - onto the model being read (the same file, by device and inode, through any link): refused;
//! - a regular file (or a new one): written into a temporary file created exclusively (`O_EXCL`, an
//!   unpredictable name) in the same directory, then renamed over it, so a reader never sees half a
//!   report, an error leaves the old file untouched, and a link planted at the temporary name cannot
//!   redirect the write;
//! - a FIFO, a terminal, `/dev/null`, `/dev/stdout` (or `-`), `/dev/stderr`: written straight into,
//!   never replaced;
//! - a symbolic link to anything else, or another device: refused unless `--force` (then the link's
//!   target is written as above, or the device straight);
//! - a directory or a socket: refused.
//!
//! A write that fails (a full disk, a closed stdout) is an error; only a reader that went away
//! (`tchinfo … | head`) is not.

use anyhow::{Context, anyhow, bail};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Writes `bytes` to file descriptor `fd` (1 or 2) as it is, so that a closed descriptor is an error
/// (Rust's `Stdout` silently drops writes to a closed descriptor 1). A reader that went away is not.
fn write_fd(fd: i32, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: the File is never dropped, so the descriptor is not closed; a closed or invalid
    // descriptor makes the write fail with EBADF, which is reported.
    let mut out = ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
    match out.write_all(bytes) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Whether descriptor 1 was closed when the process started (`tchinfo … >&-`). Rust's runtime opens
/// /dev/null on a closed standard descriptor before `main`, so writes would silently succeed; this is
/// recorded before that, by a constructor the loader runs first.
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

extern "C" fn note_closed_stdout() {
    // SAFETY: fcntl on a descriptor number only queries it.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED_AT_START.store(true, Ordering::Relaxed);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

/// True when the process started with its stdout closed.
pub fn stdout_closed_at_start() -> bool {
    STDOUT_CLOSED_AT_START.load(Ordering::Relaxed)
}

/// Writes `text` to stdout. A reader that went away (`tchinfo … | head`) is not an error; a closed
/// stdout or a full disk is.
pub fn print_stdout(text: &str) -> io::Result<()> {
    if stdout_closed_at_start() {
        return Err(io::Error::other(
            "stdout is closed (give --output FILE to write the report elsewhere)",
        ));
    }
    io::stdout().flush()?;
    write_fd(1, text.as_bytes())
}

/// The report goes to `output` when given, else to stdout. `inputs` are the model files read, which
/// `output` may not be; `force` allows writing through a symbolic link or onto an unusual device.
pub fn emit(
    text: &str,
    output: Option<&Path>,
    force: bool,
    inputs: &[&Path],
) -> anyhow::Result<()> {
    let text = crate::text::escape_report(text);
    match output {
        Some(path) => write_report(path, &text, force, inputs)
            .with_context(|| format!("{}: the report was not written", crate::text::path(path))),
        None => print_stdout(&text).context("cannot write the report to stdout"),
    }
}

/// Where a report may go, decided before anything is written.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// Standard output or standard error.
    Fd(i32),
    /// A FIFO or device: opened for writing, never created or truncated.
    Straight(PathBuf),
    /// A regular file, existing or new: replaced through a temporary file.
    Replace(PathBuf),
}

fn write_report(path: &Path, text: &str, force: bool, inputs: &[&Path]) -> anyhow::Result<()> {
    match target(path, force)? {
        Target::Fd(1) => print_stdout(text)?,
        Target::Fd(fd) => write_fd(fd, text.as_bytes())?,
        Target::Straight(p) => {
            let mut file = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(&p)?;
            file.write_all(text.as_bytes())?;
        }
        Target::Replace(p) => {
            refuse_inputs(&p, inputs)?;
            write_atomically(&p, text)?;
        }
    }
    Ok(())
}

/// What kind of thing `path` is, and so how a report is written to it.
fn target(path: &Path, force: bool) -> anyhow::Result<Target> {
    match path.as_os_str().to_str() {
        Some("-" | "/dev/stdout") => return Ok(Target::Fd(1)),
        Some("/dev/stderr") => return Ok(Target::Fd(2)),
        _ => {}
    }
    let own = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Target::Replace(path.to_path_buf()));
        }
        Err(e) => return Err(e.into()),
    };
    if !own.file_type().is_symlink() {
        return kind(path, &own, force);
    }
    // Through a link: a FIFO or terminal cannot be replaced, so writing into one is what `>` does; a
    // file would be replaced wherever the link points, which a planted link chooses.
    let followed = std::fs::metadata(path);
    if let Ok(m) = &followed
        && is_stream(m)
    {
        return Ok(Target::Straight(path.to_path_buf()));
    }
    let shown = std::fs::read_link(path)
        .map(|t| crate::text::path(&t))
        .unwrap_or_else(|_| "?".into());
    if !force {
        bail!(
            "it is a symbolic link (to {shown}); refusing to write through it, since a planted link \
             would redirect the report (use --force to write to its target)"
        );
    }
    match followed {
        Ok(m) => {
            let resolved = std::fs::canonicalize(path)?;
            kind(&resolved, &m, force)
        }
        Err(_) => bail!("it is a symbolic link to {shown}, which does not exist"),
    }
}

/// A FIFO, a terminal or /dev/null: written straight into.
fn is_stream(m: &Metadata) -> bool {
    let t = m.file_type();
    t.is_fifo() || (t.is_char_device() && (is_dev_null(m) || is_terminal(m)))
}

fn is_dev_null(m: &Metadata) -> bool {
    libc::major(m.rdev()) == 1 && libc::minor(m.rdev()) == 3
}

/// Terminals: the `tty` and `pts` character devices (majors 4, 5 and 136–143).
fn is_terminal(m: &Metadata) -> bool {
    matches!(libc::major(m.rdev()), 4 | 5 | 136..=143)
}

fn kind(path: &Path, m: &Metadata, force: bool) -> anyhow::Result<Target> {
    let t = m.file_type();
    if t.is_file() {
        Ok(Target::Replace(path.to_path_buf()))
    } else if is_stream(m) || (force && (t.is_char_device() || t.is_block_device())) {
        Ok(Target::Straight(path.to_path_buf()))
    } else if t.is_dir() {
        bail!("it is a directory")
    } else if t.is_char_device() || t.is_block_device() {
        bail!("it is a device; refusing to write a report onto it (use --force to write to it)")
    } else {
        bail!("it is neither a file, a FIFO nor a terminal")
    }
}

/// Refuses a destination that is one of the models read: the same file by device and inode, however
/// it is named.
fn refuse_inputs(path: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    let Ok(out) = std::fs::metadata(path) else {
        return Ok(());
    };
    for input in inputs {
        if let Ok(m) = std::fs::metadata(input)
            && (m.dev(), m.ino()) == (out.dev(), out.ino())
        {
            return Err(anyhow!(
                "it is the model file being read ({}); refusing to replace the model with its report",
                crate::text::path(input)
            ));
        }
    }
    Ok(())
}

/// A name no one can guess in advance: 64 bits from the standard library's randomly keyed hasher.
fn unpredictable_token() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Writes `text` to the regular file `path` (existing or not) atomically: into a temporary file created
/// exclusively beside it, then renamed over it, so a reader never sees half a report and an error
/// leaves any earlier file untouched. The file keeps the permissions of the one it replaces.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mode = std::fs::metadata(path).map_or(0o666, |m| m.mode() & 0o7777);
    let (tmp, mut file) = {
        let mut attempt = 0;
        loop {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".tchinfo-{:016x}.tmp", unpredictable_token()));
            let tmp = dir.join(tmp_name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)
            {
                Ok(file) => break (tmp, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    };
    let result = (|| {
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tchinfo-output-{name}-{}-{:x}",
            std::process::id(),
            unpredictable_token()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_regular_file_is_replaced_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("regular");
        let out = dir.join("report.txt");
        std::fs::write(&out, "old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        emit("new\n", Some(&out), false, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new\n");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // Nothing is left beside it.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_model_itself_is_never_the_destination() {
        let dir = scratch("input");
        let model = dir.join("model.pt");
        std::fs::write(&model, "weights").unwrap();
        let link = dir.join("link.pt");
        std::os::unix::fs::symlink(&model, &link).unwrap();
        let hard = dir.join("hard.pt");
        std::fs::hard_link(&model, &hard).unwrap();
        for (out, force) in [(&model, false), (&hard, false), (&link, true)] {
            let e = format!(
                "{:#}",
                emit("report", Some(out), force, &[&model]).unwrap_err()
            );
            assert!(e.contains("refusing to replace the model"), "{e}");
        }
        assert_eq!(std::fs::read_to_string(&model).unwrap(), "weights");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_needs_force() {
        let dir = scratch("link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.join("report.txt");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = format!("{:#}", emit("report", Some(&link), false, &[]).unwrap_err());
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        emit("report", Some(&link), true, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "report");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fifos_and_dev_null_are_written_straight_into() {
        let dir = scratch("fifo");
        let fifo = dir.join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        emit("through the pipe\n", Some(&fifo), false, &[]).unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe\n");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        emit("gone\n", Some(Path::new("/dev/null")), false, &[]).unwrap();
        let null = std::fs::metadata("/dev/null").unwrap();
        assert!(null.file_type().is_char_device());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn devices_directories_and_full_disks_are_errors() {
        let e = format!(
            "{:#}",
            emit("x", Some(Path::new("/dev/full")), false, &[]).unwrap_err()
        );
        assert!(e.contains("it is a device"), "{e}");
        // /dev/full accepts the open and fails every write: a full disk.
        let e = format!(
            "{:#}",
            emit("x", Some(Path::new("/dev/full")), true, &[]).unwrap_err()
        );
        assert!(e.contains("No space left"), "{e}");
        let e = format!(
            "{:#}",
            emit("x", Some(Path::new("/tmp")), false, &[]).unwrap_err()
        );
        assert!(e.contains("directory"), "{e}");
    }

    #[test]
    fn reports_are_escaped_on_the_way_out() {
        let dir = scratch("escape");
        let out = dir.join("r.txt");
        emit("name\x1b]0;title\x07\n", Some(&out), false, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "name\\u{1b}]0;title\\u{7}\n"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
