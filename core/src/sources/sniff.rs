//! What a file is, from its content: which reader takes it, or, for a format tchinfo does not read, one
//! phrase that names the format. File names are only a tiebreak, never the evidence.
//!
//! Only the first [`HEAD_BYTES`] are read.

use std::io::Read;
use std::path::Path;

/// How much of a file is looked at.
pub const HEAD_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// A zip archive or a pickle: TorchScript, `torch.save` (the TorchScript reader tells them apart,
    /// and names the pickles and zips it cannot read); also anything not recognized, which it names.
    TorchArchive,
    Safetensors,
    Gguf,
    /// A sharded checkpoint's index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`).
    ShardIndex,
    /// A Hugging Face `config.json`.
    HfConfig,
    /// An ONNX `ModelProto`, by its first fields (or, for a file nothing else claims, by its name).
    Onnx,
    /// A format tchinfo does not read, named: "an ONNX model".
    Other(String),
}

/// The format of `file`, opened from `path` (by [`super::open_model_file`], so never a FIFO or device).
pub fn sniff(file: std::fs::File, path: &Path) -> std::io::Result<Format> {
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD_BYTES.min(len as usize));
    file.take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    Ok(sniff_bytes(&head, len, name))
}

/// The format of a file of `len` bytes that starts with `head`; `name` is its file name.
pub fn sniff_bytes(head: &[u8], len: u64, name: &str) -> Format {
    let other = |s: &str| Format::Other(s.to_string());
    if head.is_empty() {
        return other("the file is empty");
    }
    if head.starts_with(b"GGUF") {
        return Format::Gguf;
    }
    // llama.cpp's formats before GGUF: a little-endian u32 magic, so the letters come reversed.
    if [b"lmgg", b"fmgg", b"tjgg", b"algg"]
        .iter()
        .any(|m| head.starts_with(*m))
    {
        return other(
            "a GGML/GGJT file from before GGUF (llama.cpp, 2023), which tchinfo does not read; convert it to GGUF",
        );
    }
    if is_safetensors(head, len) {
        return Format::Safetensors;
    }
    if head.starts_with(b"PK") {
        return zip_kind(head);
    }
    if head[0] == 0x80 {
        return Format::TorchArchive;
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return other(
            "an HDF5 file (Keras or TensorFlow .h5 weights), which tchinfo does not read",
        );
    }
    if head.starts_with(b"\x93NUMPY") {
        return other("a NumPy .npy array, not a model");
    }
    if head.get(4..8) == Some(b"TFL3") {
        return other("a TensorFlow Lite model (.tflite), which tchinfo does not read");
    }
    if head.starts_with(b"\x08\x01\x12") && name.ends_with(".pb") {
        return other("a TensorFlow SavedModel (saved_model.pb), which tchinfo does not read");
    }
    if super::onnx::looks_like_onnx(head, Path::new(name)) {
        return Format::Onnx;
    }
    if let Some(text) = text_head(head) {
        return text_kind(text);
    }
    Format::TorchArchive
}

/// An 8-byte little-endian header length that fits the file, then the JSON header's `{`.
fn is_safetensors(head: &[u8], len: u64) -> bool {
    let Some(n) = head.get(..8) else {
        return false;
    };
    let n = u64::from_le_bytes(n.try_into().expect("8 bytes"));
    head.get(8) == Some(&b'{') && n >= 2 && n <= len.saturating_sub(8)
}

/// A zip by its first record's name, from the local header at the start of the file. PyTorch writes
/// `<folder>/data.pkl` first; anything it does not recognize goes to the TorchScript reader, which
/// reads the central directory and says what is missing.
fn zip_kind(head: &[u8]) -> Format {
    let other = |s: &str| Format::Other(s.to_string());
    if !head.starts_with(b"PK\x03\x04") || head.len() < 30 {
        return Format::TorchArchive;
    }
    let n = u16::from_le_bytes([head[26], head[27]]) as usize;
    let Some(first) = head.get(30..30 + n) else {
        return Format::TorchArchive;
    };
    let first = String::from_utf8_lossy(first);
    let base = first.rsplit('/').next().unwrap_or(&first);
    if base.ends_with(".npy") {
        other("a NumPy .npz archive, not a model")
    } else if matches!(
        base,
        "metadata.json" | "config.json" | "model.weights.h5" | "variables.h5"
    ) && !first.contains('/')
    {
        other("a Keras .keras model, which tchinfo does not read")
    } else {
        Format::TorchArchive
    }
}

/// The head as text, when it is text: valid UTF-8 (a character cut at the end of the head allowed)
/// without NUL bytes.
fn text_head(head: &[u8]) -> Option<&str> {
    if head.contains(&0) {
        return None;
    }
    match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

fn text_kind(text: &str) -> Format {
    let other = |s: &str| Format::Other(s.to_string());
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return if trimmed.contains("\"weight_map\"") {
            Format::ShardIndex
        } else if trimmed.contains("\"nbformat\"") {
            other(
                "a Jupyter notebook: tchinfo never runs code; save the model with torch.save or torch.jit.save and read that file",
            )
        } else if ["\"model_type\"", "\"architectures\"", "\"_name_or_path\""]
            .iter()
            .any(|k| trimmed.contains(k))
        {
            Format::HfConfig
        } else {
            other("a JSON file, not a model (a Hugging Face folder is read whole: give the folder)")
        };
    }
    let first = trimmed.lines().next().unwrap_or("");
    let python = first.starts_with("#!") && first.contains("python")
        || ["import ", "from ", "def ", "class ", "\"\"\"", "# -*-"]
            .iter()
            .any(|p| first.starts_with(p));
    if python {
        other(
            "a Python script: tchinfo never runs code; save the model with torch.save or torch.jit.save and read that file",
        )
    } else {
        other("a text file, not a model")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(head: &[u8]) -> Format {
        sniff_bytes(head, head.len() as u64, "f")
    }

    fn named(head: &[u8]) -> String {
        match of(head) {
            Format::Other(s) => s,
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn readers_by_content() {
        assert_eq!(of(b"GGUF\x03\0\0\0"), Format::Gguf);
        assert_eq!(
            of(b"\x0d\0\0\0\0\0\0\0{\"a\":{}}     "),
            Format::Safetensors
        );
        // A header length past the file is not safetensors.
        assert_ne!(of(b"\xff\0\0\0\0\0\0\0{\"a\":{}}"), Format::Safetensors);
        assert_eq!(of(b"\x80\x02}q\0."), Format::TorchArchive);
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend([0u8; 22]);
        zip.extend(13u16.to_le_bytes());
        zip.extend(0u16.to_le_bytes());
        zip.extend(b"model/data.pkl");
        assert_eq!(of(&zip), Format::TorchArchive);
        assert_eq!(
            of(b"{\"metadata\": {\"total_size\": 8}, \"weight_map\": {}}"),
            Format::ShardIndex
        );
        assert_eq!(of(b"{\n  \"architectures\": [\"X\"]\n}"), Format::HfConfig);
        assert_eq!(of(b"\x08\x08\x12\x07pytorch"), Format::Onnx);
    }

    #[test]
    fn formats_tchinfo_does_not_read_are_named() {
        assert!(named(b"").contains("empty"));
        assert!(named(b"\x89HDF\r\n\x1a\n").contains("HDF5"));
        assert!(named(b"\x1c\0\0\0TFL3").contains("TensorFlow Lite"));
        assert!(named(b"import torch\nmodel = 1\n").contains("Python script"));
        assert!(named(b"#!/usr/bin/env python3\n").contains("Python script"));
        assert!(named(b"{\"cells\": [], \"nbformat\": 4}").contains("Jupyter"));
        assert!(named(b"{\"a\": 1}").contains("JSON file"));
        assert!(named(b"hello\n").contains("text file"));
        assert!(named(b"tjgg\x01\0\0\0").contains("before GGUF"));
        assert!(named(b"\x93NUMPY\x01\0").contains("NumPy"));
        let keras = |first: &str| {
            let mut z = b"PK\x03\x04".to_vec();
            z.extend([0u8; 22]);
            z.extend((first.len() as u16).to_le_bytes());
            z.extend(0u16.to_le_bytes());
            z.extend(first.as_bytes());
            z
        };
        assert!(named(&keras("metadata.json")).contains("Keras"));
        assert!(named(&keras("arr_0.npy")).contains(".npz"));
        // A .pt2 is a zip the dispatcher looks into (pt2::is_pt2), as it does for TorchScript.
        assert_eq!(of(&keras("m/archive_format")), Format::TorchArchive);
        assert_eq!(
            sniff_bytes(b"\x08\x01\x12\x05", 4, "saved_model.pb"),
            Format::Other(
                "a TensorFlow SavedModel (saved_model.pb), which tchinfo does not read".into()
            )
        );
        // Unrecognized binary goes to the TorchScript reader, which names what it finds.
        assert_eq!(of(b"\x01\x02\x03\xff"), Format::TorchArchive);
    }
}
