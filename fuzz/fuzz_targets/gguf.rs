//! The GGUF reader on raw bytes (a whole file: header, key/values, tensor infos, data), then every
//! report of what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use tchinfo_core::sources::gguf::read_from;

fuzz_target!(|data: &[u8]| {
    tchinfo_fuzz::check(read_from(
        Path::new("fuzz.pt"),
        Cursor::new(data),
        data.len() as u64,
    ));
});
