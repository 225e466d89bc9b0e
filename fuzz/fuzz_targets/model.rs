//! The whole file reader on an archive rebuilt from the input's records (`data.pkl`, `code/…`) with
//! correct checksums, so mutations of the pickle and the code reach the walk; then every report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use tchinfo_core::sources::torchscript::read_from;

fuzz_target!(|data: &[u8]| {
    let zip = tchinfo_fuzz::zip_records(&tchinfo_fuzz::records(data));
    tchinfo_fuzz::check(read_from(Path::new("fuzz.pt"), Cursor::new(zip)));
});
