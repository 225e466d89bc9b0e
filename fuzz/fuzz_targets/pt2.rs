//! The torch.export `.pt2` reader on raw bytes (the zip, its layout, the program JSON, the weights
//! config), at the export's example sizes and at another batch, then every report of what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use tchinfo_core::sources::graph::symbols::SizeRequest;
use tchinfo_core::sources::pt2::{is_pt2, read_from};

fuzz_target!(|data: &[u8]| {
    let _ = is_pt2(Cursor::new(data));
    for request in [
        SizeRequest::default(),
        SizeRequest {
            batch: Some(3),
            inputs: Vec::new(),
        },
    ] {
        let read = read_from(Path::new("fuzz.pt2"), Cursor::new(data), &request);
        tchinfo_fuzz::check_named(read, "fuzz.pt2");
    }
});
