//! Writing results: stdout that survives a closed pipe, files written atomically.

use anyhow::Context;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `text` to stdout. A reader that went away (`tchinfo … | head`) is not an error.
pub fn print_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes `text` to `path` atomically: into a temporary file beside it, then renamed over it, so a reader
/// never sees half a report and an error leaves any earlier file untouched.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tchinfo-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The report goes to `output` when given, else to stdout.
pub fn emit(text: &str, output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => write_atomically(path, text)
            .with_context(|| format!("{}: cannot write the report", path.display())),
        None => print_stdout(text).context("cannot write to stdout"),
    }
}
