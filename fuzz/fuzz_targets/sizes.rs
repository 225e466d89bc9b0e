//! Size expressions (sympy's `srepr` and the infix form): parse, print, evaluate with values for
//! every symbol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tchinfo_core::sources::graph::sizes::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(e) = parse(text) {
        let _ = e.to_string();
        let _ = e.symbols();
        let _ = e.eval(&|s| Some(s.len() as i64 + 1));
        let _ = e.eval(&|_| Some(i64::MAX));
        let _ = e.eval(&|_| None);
    }
});
