//! The counting CPU allocator of the shim (src/shim/counting_allocator.cpp): libtorch's CPU allocator
//! replaced by one that passes every request on and counts the bytes live and their peak. Installed
//! once, for the rest of the process, by the first measurement that needs it.

unsafe extern "C" {
    fn tchinfo_count_install() -> i32;
    fn tchinfo_count_live() -> i64;
    fn tchinfo_count_peak() -> i64;
    fn tchinfo_count_reset_peak();
}

/// Access to the installed counter.
pub struct Counter(());

impl Counter {
    /// Installs the counting allocator (once per process) and gives access to it.
    pub fn install() -> Result<Counter, String> {
        // SAFETY: the shim's function takes no arguments and catches every C++ exception.
        match unsafe { tchinfo_count_install() } {
            0 => Ok(Counter(())),
            _ => Err("libtorch's CPU allocator could not be replaced by the counting one".into()),
        }
    }

    /// Bytes live in tensors allocated since installation.
    pub fn live(&self) -> i64 {
        // SAFETY: reads an atomic; installed, since a Counter exists.
        unsafe { tchinfo_count_live() }
    }

    /// The highest [`Counter::live`] reached since the last [`Counter::reset_peak`].
    pub fn peak(&self) -> i64 {
        // SAFETY: as for live.
        unsafe { tchinfo_count_peak() }
    }

    pub fn reset_peak(&self) {
        // SAFETY: stores to an atomic.
        unsafe { tchinfo_count_reset_peak() }
    }
}
