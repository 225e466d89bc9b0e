//! Every input that once made a reader panic, hang or allocate without bound, fed to the reader again:
//! each must give a summary or one clean error line, without a panic, within a generous deadline and
//! under a memory cap.
//!
//! The inputs sit in `tests/fixtures/fuzz-regressions/`, one folder per reader as the fuzz targets in
//! `fuzz/` feed them: `file/` whole files (crashes of the `file`, `archive` and `model` targets are kept
//! there as the archive bytes the reader saw; `make_hostile.py` writes the hand-made ones), `pickle/`
//! raw `data.pkl` bytes, `classes/` code files. A new crash is added by copying the fuzzer's artifact
//! into the folder of its target.
//!
//! The deadline is no speed test: every input here is read in well under a second, and the deadline
//! (a minute) only turns a hang into a failure instead of a test run that never ends. The allocator
//! refuses to hold more than [`CAP`] at once, so a runaway allocation aborts this test instead of
//! taking the machine's memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use tchinfo_core::reports::{csv, json, summary, table::TableOptions};
use tchinfo_core::sources::torchscript::classes::{ClassTable, parse_classes};
use tchinfo_core::sources::torchscript::pickle::{Object, Pickle};
use tchinfo_core::sources::torchscript::{read_from, state_dict, walk};

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

/// The tests share the allocator's cap: one input at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn inputs(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-regressions")
        .join(kind);
    // A folder exists once its target has found something.
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
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
fn whole_files_that_once_failed_read_cleanly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let files = inputs("file");
    assert!(!files.is_empty());
    for (name, bytes) in files {
        bounded(&name, move || {
            match read_from(Path::new(LABEL), Cursor::new(bytes)) {
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

/// Declarations for every `__torch__` class the pickle names, as the `pickle` fuzz target makes them:
/// the walk then goes as deep as the pickle allows without an archive.
fn declare_everything(p: &Pickle) -> ClassTable {
    let mut by_module: BTreeMap<String, String> = BTreeMap::new();
    for o in p.objects() {
        if let Object::Global { module, name } = o
            && module.starts_with("__torch__")
        {
            by_module.entry(module.to_string()).or_default().push_str(&format!(
                "class {name}(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = [\"running_mean\", ]\n"
            ));
        }
    }
    let mut classes = ClassTable::default();
    for (module, source) in &by_module {
        let _ = classes.add_source(module, source, |_| true);
    }
    classes
}

#[test]
fn pickles_that_once_failed_read_cleanly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (name, bytes) in inputs("pickle") {
        bounded(&name, move || {
            let Ok(p) = Pickle::parse(&bytes) else {
                return Ok(());
            };
            let _ = state_dict::state_dict_tree(&p);
            let _ = walk::python_modules(&p);
            let classes = declare_everything(&p);
            let _ = walk::module_tree(&p, &classes, walk::WalkLimits::default());
            Ok(())
        });
    }
}

#[test]
fn code_files_that_once_failed_parse_cleanly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (name, bytes) in inputs("classes") {
        bounded(&name, move || {
            let Ok(source) = String::from_utf8(bytes) else {
                return Ok(());
            };
            let _ = parse_classes(&source);
            let mut table = ClassTable::default();
            let _ = table.add_source("__torch__", &source, |_| true);
            Ok(())
        });
    }
}
