//! The zip reader on raw bytes: the directory, the root folder, the layout, `data.pkl` and code files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use tchinfo_core::sources::torchscript::archive::Archive;

fuzz_target!(|data: &[u8]| {
    let Ok(mut archive) = Archive::open(Cursor::new(data)) else {
        return;
    };
    let _ = archive.root();
    let _ = archive.layout();
    let _ = archive.read_pickle();
    for code in [
        "__torch__.py",
        "__torch__/torch/nn/modules/conv.py",
        "__torch__/torch/nn/modules/linear.py",
    ] {
        let _ = archive.read_code(code);
    }
});
