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
//! refuses to hold more than [`CAP`] at once, so a runaway allocation aborts this test instead of
//! taking the machine's memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use tchinfo_core::reports::{csv, json, summary, table::TableOptions};
use tchinfo_core::sources::torchscript::read_from;
use tchinfo_core::sources::{gguf, safetensors};

/// The most this test process may hold at once. The reader's own bounds keep a hostile file near
/// 200 MiB; the inputs here asked for tens of gigabytes before they were fixed.
const CAP: usize = 2 << 30;
const DEADLINE: Duration = Duration::from_secs(60);
const LABEL: &str = "regression.pt";

struct CappedAllocator;

static HELD: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size() > CAP {
            HELD.fetch_sub(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

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

/// Runs `read` on its own thread: its answer, or a failure naming the input when it panics or does
/// not answer before the deadline.
fn bounded(name: &str, read: impl FnOnce() -> Result<(), String> + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(read());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{name}: {e}"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: no answer within {DEADLINE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().unwrap_err();
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{name}: the reader panicked: {message}")
        }
    }
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
