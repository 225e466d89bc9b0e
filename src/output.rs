//! Writing results: stdout that survives a closed pipe.

use std::io::{self, Write};

/// Writes `text` to stdout. A reader that went away (`tchinfo … | head`) is not an error.
pub fn print_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
