//! The JSON a Hugging Face folder holds beside its weights: `config.json` (read into the architecture a
//! summary shows) and a sharded checkpoint's index; and the format sniffer, on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tchinfo_core::sources::hf_config::HfConfig;
use tchinfo_core::sources::{hf_folder, sniff};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = HfConfig::parse(data) {
        let _ = config.architecture();
        let _ = config.ties_word_embeddings();
    }
    let _ = hf_folder::parse_index(data);
    let _ = sniff::sniff_bytes(data, data.len() as u64, "fuzz.json");
});
