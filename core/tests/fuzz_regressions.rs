//! Every input that once made a reader panic, hang or allocate without bound, fed to the reader again:
//! each must give a summary or one clean error line, without a panic, within a generous deadline and
//! under a memory cap.
//!
//! The inputs are the files in `tests/fixtures/fuzz-regressions/`: the hand-made hostile ones
//! (`make_hostile.py` writes them) and any fuzzer artifact, kept as the file the reader would see —
//! `.pt` archives, `.safetensors` and `.gguf` files, each read by its own reader (`fuzz/README.md`
//! says how to wrap a `pickle`, `classes` or `model` artifact into one).
//!
//! The deadline is no speed test: every input here is read in well under a second, and the deadline
//! (a minute) only turns a hang into a failure instead of a test run that never ends. The allocator
//! refuses to hold more than `common::CAP` at once, so a runaway allocation aborts this test instead of
//! taking the machine's memory.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use tchinfo_core::reports::{csv, json, summary, table::TableOptions};
use tchinfo_core::sources::torchscript::read_from;
use tchinfo_core::sources::{gguf, safetensors};

mod common;

use common::bounded;

const LABEL: &str = "regression.pt";

fn inputs() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "pt" || e == "safetensors" || e == "gguf")
        })
        .map(|p: PathBuf| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// One line that names the file.
fn clean(message: &str) -> Result<(), String> {
    if !message.starts_with(LABEL) || message.lines().count() != 1 {
        return Err(format!("not one line naming the file: {message:?}"));
    }
    Ok(())
}

#[test]
fn files_that_once_failed_read_cleanly() {
    let files = inputs();
    assert!(files.len() >= 14, "the regression files are there");
    for (name, bytes) in files {
        bounded(&name.clone(), move || {
            // Each file goes to the reader of its kind, as `sources::read_file` would send it.
            let len = bytes.len() as u64;
            let label = Path::new(LABEL);
            let read = if name.ends_with(".safetensors") {
                safetensors::read_from(label, Cursor::new(bytes), len)
            } else if name.ends_with(".gguf") {
                gguf::read_from(label, Cursor::new(bytes), len)
            } else {
                read_from(label, Cursor::new(bytes))
            };
            match read {
                // What a user would ask of it next, as the fuzz targets do.
                Ok(s) => {
                    let _ = s.totals();
                    let _ = summary::render(&s, &TableOptions::default());
                    let _ = csv::render(&s);
                    let _ = json::to_string(&json::summary_json(&s));
                    Ok(())
                }
                Err(e) => clean(&e.to_string()),
            }
        });
    }
}
