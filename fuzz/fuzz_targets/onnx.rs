//! The ONNX reader on raw bytes (the protobuf stream, scopes, weights, shapes, operator counts), at
//! the default batch and at another, then every report of what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;
use tchinfo_core::sources::graph::symbols::SizeRequest;
use tchinfo_core::sources::onnx::{looks_like_onnx, read_from};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_onnx(data, Path::new("fuzz.bin"));
    for request in [
        SizeRequest::default(),
        SizeRequest {
            batch: Some(3),
            inputs: Vec::new(),
        },
    ] {
        let read = read_from(Path::new("fuzz.onnx"), Cursor::new(data), &request);
        tchinfo_fuzz::check_named(read, "fuzz.onnx");
    }
});
