//! The two C functions of the shim (src/shim/jit_graph.h), wrapped so that the text it returns is
//! always freed by the allocator that made it.

use std::ffi::{CStr, CString, c_char};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

unsafe extern "C" {
    fn tchinfo_jit_measure(path: *const c_char, request: *const c_char) -> *mut c_char;
    fn tchinfo_jit_free(text: *mut c_char);
}

/// A result buffer the shim allocated; freed by the shim on drop.
struct ShimText(*mut c_char);

impl Drop for ShimText {
    fn drop(&mut self) {
        // SAFETY: the pointer came from tchinfo_jit_measure, is not null and is freed only here.
        unsafe { tchinfo_jit_free(self.0) }
    }
}

/// Runs the shim on a TorchScript file. `Err` only when the call itself could not be made or its
/// result not allocated; failures inside libtorch come back as `error` lines in the text.
pub(crate) fn measure(path: &Path, request: &str) -> Result<String, String> {
    // The path's bytes as they are: a file name need not be UTF-8.
    let path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "the path contains a NUL byte".to_string())?;
    let request =
        CString::new(request).map_err(|_| "the request contains a NUL byte".to_string())?;
    // SAFETY: both pointers are NUL-terminated strings that outlive the call; the shim catches every
    // C++ exception before returning.
    let raw = unsafe { tchinfo_jit_measure(path.as_ptr(), request.as_ptr()) };
    if raw.is_null() {
        return Err("out of memory for the measurement's result".to_string());
    }
    let text = ShimText(raw);
    // SAFETY: a non-null result is a NUL-terminated string that lives until `text` is dropped.
    let result = unsafe { CStr::from_ptr(text.0) }
        .to_string_lossy()
        .into_owned();
    Ok(result)
}
