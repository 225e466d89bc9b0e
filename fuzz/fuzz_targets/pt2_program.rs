//! The `.pt2` reader on an archive built around the input as its program JSON (`models/model.json`),
//! with a correct checksum, so mutations reach the program: graph, signature, module stacks, size
//! expressions; then every report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use tchinfo_core::sources::graph::symbols::SizeRequest;
use tchinfo_core::sources::pt2::read_from;

fuzz_target!(|data: &[u8]| {
    let zip = tchinfo_fuzz::pt2_of_program(data);
    for request in [
        SizeRequest::default(),
        SizeRequest {
            batch: Some(5),
            inputs: Vec::new(),
        },
    ] {
        let read = read_from(Path::new("fuzz.pt2"), Cursor::new(&zip), &request);
        tchinfo_fuzz::check_named(read, "fuzz.pt2");
    }
});
