//! What the hostile-input tests share: a memory cap on the whole test process and a deadline per
//! input. The deadline is no speed test (every input answers in well under a second); it only turns a
//! hang into a failure instead of a run that never ends. The allocator refuses to hold more than
//! [`CAP`] at once, so a runaway allocation fails the test instead of taking the machine's memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The most a test process may hold at once. The readers' own bounds keep a hostile file near
/// 200 MiB; the inputs kept as regressions asked for tens of gigabytes before they were fixed.
pub const CAP: usize = 2 << 30;
pub const DEADLINE: Duration = Duration::from_secs(60);

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

/// Runs `read` on its own thread: its answer, or a failure naming the input when it panics or does
/// not answer before the deadline.
pub fn bounded(name: &str, read: impl FnOnce() -> Result<(), String> + Send + 'static) {
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
