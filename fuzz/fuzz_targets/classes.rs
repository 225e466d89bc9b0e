//! The class-declaration parser on `code/**/*.py` text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tchinfo_core::sources::torchscript::classes::{ClassTable, display_name, parse_classes};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(classes) = parse_classes(source) {
        for (name, _) in classes {
            let _ = display_name(&name);
        }
    }
    let mut table = ClassTable::default();
    let _ = table.add_source("__torch__", source, |name| name.len() % 2 == 0);
});
