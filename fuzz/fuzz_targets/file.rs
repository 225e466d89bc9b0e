//! The whole file reader on raw bytes, as `tchinfo model.pt` runs it, and every report of what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use tchinfo_core::sources::torchscript::read_from;

fuzz_target!(|data: &[u8]| {
    tchinfo_fuzz::check(read_from(Path::new("fuzz.pt"), Cursor::new(data)));
});
