//! GGUF files (llama.cpp, ggml), read from the header alone.
//!
//! A file is the magic `GGUF`, a version, the tensor and key/value counts, the key/values (the
//! architecture, its hyperparameters, the tokenizer, the quantization), then one info per tensor —
//! name, dimensions in ggml's order (innermost first, the reverse of PyTorch's), ggml type, offset —
//! and the tensor data, aligned to `general.alignment` (32 by default). Versions 2 and 3 share one
//! layout (version 3 may be big-endian, which the version field shows); version 1 wrote 32-bit counts
//! and lengths. The data is never read.
//!
//! Every ggml type has a block of a fixed number of elements in a fixed number of bytes
//! ([`DType::packing`]), so element counts and bytes are exact, quantized blocks included. A type id
//! this reader does not know is a note on its tensors, not a failure: their elements are counted,
//! their bytes are not.
//!
//! Checks, as llama.cpp makes them: at most 4 dimensions, rows that are whole blocks, offsets aligned
//! and laid end to end (each tensor padded to the alignment), the data inside the file, no repeated
//! key or tensor name. Bounds: every count and length is checked against the bytes left before
//! anything is read or kept; the header (key/values and tensor infos) is read up to 128 MiB (real
//! ones take a few MB, most of it the tokenizer); strings are kept up to 256 bytes, arrays by their
//! first 8 elements (nested arrays by their count), and what is kept of the values in all is bounded.

use super::SourceError;
use super::torchscript::budget::{
    ByteTally, MODULE_COST, TreeBudget, charge_name, module_count, tensor_cost,
};
use crate::dtype::DType;
use crate::summary::infer::{
    NamedTensor, TYPES_INFERRED_NOTE, model_order, tree_from_named_tensors,
};
use crate::summary::{Architecture, ModelSummary, ModuleNode, SourceKind, TensorRecord};
use crate::units::thousands;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// The most bytes of header (key/values and tensor infos) read before the data.
pub const MAX_HEADER_BYTES: u64 = 128 << 20;
/// The most tensors and key/values one file may declare (real files: a few thousand tensors, a few
/// dozen keys).
pub const MAX_TENSORS: u64 = 1 << 20;
pub const MAX_KEYS: u64 = 1 << 16;
/// What the kept values may take in all, as charged: each value's size plus its text.
const MAX_KEPT_BYTES: u64 = 32 << 20;
/// ggml's GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;
/// Longest key and tensor name accepted.
const MAX_NAME_BYTES: u64 = 64 << 10;
/// Arrays nest at most this deep.
const MAX_ARRAY_DEPTH: usize = 4;
/// What is kept of a string value and of an array, for display.
const KEPT_STRING_BYTES: u64 = 256;
const KEPT_ARRAY_ELEMENTS: u64 = 8;

pub const ROOT_TYPE: &str = "GGUF";

pub const TRAINABLE_ASSUMED_NOTE: &str = "GGUF does not record requires_grad: floating-point tensors are counted as trainable, quantized ones as frozen";

/// A metadata value as kept: scalars whole, strings and arrays cut for display.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    UInt(u64),
    Int(i64),
    /// A float32, kept as one so it prints as written (`1e-6`, not its float64 widening).
    Float32(f32),
    Float(f64),
    Bool(bool),
    /// The first [`KEPT_STRING_BYTES`] bytes (lossy UTF-8), and the full length.
    Str(String, u64),
    /// Element type id, element count, and the first elements.
    Array(u32, u64, Vec<MetaValue>),
}

impl MetaValue {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::UInt(v) => Some(v),
            MetaValue::Int(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s, len) if *len == s.len() as u64 => Some(s),
            _ => None,
        }
    }

    /// The value as text: a long string cut with its length, an array by its count and first items.
    pub fn text(&self) -> String {
        match self {
            MetaValue::UInt(v) => v.to_string(),
            MetaValue::Int(v) => v.to_string(),
            MetaValue::Float32(v) => v.to_string(),
            MetaValue::Float(v) => v.to_string(),
            MetaValue::Bool(v) => v.to_string(),
            MetaValue::Str(s, len) if *len == s.len() as u64 => s.clone(),
            MetaValue::Str(s, len) => format!("{s}… ({} bytes)", thousands(*len)),
            MetaValue::Array(ty, count, head) => {
                let items: Vec<String> = head.iter().map(MetaValue::text).collect();
                let shown = items.join(", ");
                if (head.len() as u64) == *count && shown.len() <= 120 {
                    format!("[{shown}]")
                } else {
                    format!(
                        "[{} {}]",
                        thousands(*count),
                        value_type_name(*ty, *count != 1)
                    )
                }
            }
        }
    }
}

fn value_type_name(ty: u32, plural: bool) -> String {
    let name = match ty {
        0 => "uint8",
        1 => "int8",
        2 => "uint16",
        3 => "int16",
        4 => "uint32",
        5 => "int32",
        6 => "float32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "uint64",
        11 => "int64",
        12 => "float64",
        _ => "value",
    };
    if plural {
        format!("{name}s")
    } else {
        name.to_string()
    }
}

/// One tensor as its info describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in PyTorch's order (outermost first).
    pub shape: Vec<u64>,
    pub ggml_type: u32,
    /// [`DType::Unknown`] for a type id this reader does not know.
    pub dtype: DType,
    /// From the start of the data.
    pub offset: u64,
}

/// A GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct Gguf {
    pub version: u32,
    pub big_endian: bool,
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
}

impl Gguf {
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// The dtype of a ggml type id; `None` for an id this reader does not know.
pub fn ggml_dtype(id: u32) -> Option<DType> {
    use DType::*;
    Some(match id {
        0 => Float32,
        1 => Float16,
        2 => Q4_0,
        3 => Q4_1,
        6 => Q5_0,
        7 => Q5_1,
        8 => Q8_0,
        9 => Q8_1,
        10 => Q2_K,
        11 => Q3_K,
        12 => Q4_K,
        13 => Q5_K,
        14 => Q6_K,
        15 => Q8_K,
        16 => IQ2_XXS,
        17 => IQ2_XS,
        18 => IQ3_XXS,
        19 => IQ1_S,
        20 => IQ4_NL,
        21 => IQ3_S,
        22 => IQ2_S,
        23 => IQ4_XS,
        24 => Int8,
        25 => Int16,
        26 => Int32,
        27 => Int64,
        28 => Float64,
        29 => IQ1_M,
        30 => BFloat16,
        31 => Q4_0_4_4,
        32 => Q4_0_4_8,
        33 => Q4_0_8_8,
        34 => TQ1_0,
        35 => TQ2_0,
        36 => IQ4_NL_4_4,
        37 => IQ4_NL_4_8,
        38 => IQ4_NL_8_8,
        39 => MXFP4,
        40 => NVFP4,
        41 => Q1_0,
        _ => return None,
    })
}

/// llama.cpp's name for a `general.file_type` (`LLAMA_FTYPE_MOSTLY_Q4_K_M` → `Q4_K_M`).
pub fn file_type_name(id: u64) -> Option<String> {
    let guessed = id & 1024 != 0;
    let name = match id & !1024 {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        33 => "Q4_0_4_4",
        34 => "Q4_0_4_8",
        35 => "Q4_0_8_8",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        _ => return None,
    };
    Some(if guessed {
        format!("{name} (guessed)")
    } else {
        name.to_string()
    })
}

/// Reads a GGUF file's header into a summary.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::sources::open_model_file(path)?;
    let len = file.metadata().map_err(io)?.len();
    read_from(path, file, len)
}

/// [`read_file`] on any seekable reader holding a whole file of `file_len` bytes; `path` names the
/// model in the summary and in errors.
pub fn read_from<R: Read + Seek>(
    path: &Path,
    reader: R,
    file_len: u64,
) -> Result<ModelSummary, SourceError> {
    let fail = |p: String| SourceError::format(path, p);
    let gguf = read_header(reader, file_len).map_err(fail)?;
    summarize(path, gguf).map_err(fail)
}

fn summarize(path: &Path, gguf: Gguf) -> Result<ModelSummary, String> {
    let mut tree = TreeBudget::default();
    for t in &gguf.tensors {
        charge_name(&mut tree, &t.name)?;
        tree.charge(tensor_cost(t.shape.len()))?;
    }
    tree.charge(
        module_count(gguf.tensors.iter().map(|t| t.name.as_str())).saturating_mul(MODULE_COST),
    )?;
    let mut notes = vec![
        TYPES_INFERRED_NOTE.to_string(),
        TRAINABLE_ASSUMED_NOTE.to_string(),
    ];
    notes.extend(unknown_types_note(&gguf.tensors));
    let mut named: Vec<NamedTensor> = gguf
        .tensors
        .iter()
        .map(|t| NamedTensor {
            name: t.name.clone(),
            shape: t.shape.clone(),
            dtype: t.dtype,
            requires_grad: t.dtype.is_floating_point(),
        })
        .collect();
    named.sort_by(|a, b| model_order(&a.name, &b.name));
    let mut root = tree_from_named_tensors(ROOT_TYPE, named);
    if let Some(note) = tie_output(&mut root) {
        notes.push(note);
    }
    let mut s = ModelSummary::new(path.display().to_string(), SourceKind::Gguf, root);
    s.architecture = Some(architecture(&gguf));
    s.notes = notes;
    s.file_metadata = gguf
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.text()))
        .collect();
    s.file_metadata.insert(
        0,
        (
            "GGUF version".to_string(),
            format!(
                "{}{}",
                gguf.version,
                if gguf.big_endian { " (big-endian)" } else { "" }
            ),
        ),
    );
    Ok(s)
}

/// One note for the tensors whose ggml type this reader does not know.
fn unknown_types_note(tensors: &[TensorInfo]) -> Option<String> {
    let unknown: Vec<&TensorInfo> = tensors
        .iter()
        .filter(|t| t.dtype == DType::Unknown)
        .collect();
    let first = unknown.first()?;
    let ids: std::collections::BTreeSet<u32> = unknown.iter().map(|t| t.ggml_type).collect();
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    let (count, them) = match unknown.len() {
        1 => ("1 tensor".to_string(), "its"),
        n => (format!("{} tensors", thousands(n as u64)), "their"),
    };
    Some(format!(
        "{count} (first {}) of ggml type {}, which tchinfo does not know: {them} elements are counted, {them} bytes are not",
        first.name,
        ids.join(", ")
    ))
}

/// llama.cpp ties the output layer to the token embedding when a decoder's file has no
/// `output.weight`: the head is shown, tied, and counted once.
fn tie_output(root: &mut ModuleNode) -> Option<String> {
    if root.find("output").is_some() || root.find("output_norm").is_none() {
        return None;
    }
    let embd = root.find("token_embd")?;
    let weight = embd.parameters.iter().find(|p| p.name == "weight")?;
    let mut output = ModuleNode::new("output", "output", "Linear");
    output.parameters.push(TensorRecord {
        tied_to: Some("token_embd.weight".to_string()),
        ..weight.clone()
    });
    root.children.push(output);
    Some(
        "the file has no output.weight: as llama.cpp does, the output layer uses token_embd.weight (shown tied, counted once)"
            .to_string(),
    )
}

/// The architecture keys: `general.architecture`, then `<arch>.block_count` and the rest.
fn architecture(gguf: &Gguf) -> Architecture {
    let arch = gguf
        .get("general.architecture")
        .and_then(MetaValue::as_str)
        .map(str::to_string);
    let key = |k: &str| -> Option<u64> {
        let a = arch.as_deref()?;
        gguf.get(&format!("{a}.{k}")).and_then(MetaValue::as_u64)
    };
    let vocab = key("vocab_size").or_else(|| match gguf.get("tokenizer.ggml.tokens") {
        Some(MetaValue::Array(_, count, _)) => Some(*count),
        _ => None,
    });
    Architecture {
        described_by: "GGUF metadata".to_string(),
        model_type: arch.clone(),
        architectures: Vec::new(),
        layers: key("block_count"),
        encoder_layers: None,
        decoder_layers: None,
        hidden_size: key("embedding_length"),
        intermediate_size: key("feed_forward_length"),
        attention_heads: key("attention.head_count"),
        kv_heads: key("attention.head_count_kv"),
        head_dim: key("attention.key_length"),
        vocab_size: vocab,
        context_length: key("context_length"),
        experts: key("expert_count"),
        experts_per_token: key("expert_used_count"),
        tie_word_embeddings: None,
        dtype: None,
        quantization: gguf
            .get("general.file_type")
            .and_then(MetaValue::as_u64)
            .map(|id| file_type_name(id).unwrap_or_else(|| format!("file type {id}"))),
    }
}

/// Reads and checks the header of a file of `file_len` bytes from `reader` (at its start).
pub fn read_header<R: Read + Seek>(reader: R, file_len: u64) -> Result<Gguf, String> {
    let mut r = Reader {
        inner: BufReader::new(reader),
        pos: 0,
        len: file_len,
        big_endian: false,
        wide: true,
        kept: 0,
    };
    let mut magic = [0u8; 4];
    r.bytes(&mut magic)?;
    if &magic != b"GGUF" {
        return Err("does not start with GGUF: not a GGUF file".into());
    }
    let raw = r.u32()?;
    let version = match (raw, raw.swap_bytes()) {
        (v @ 1..=3, _) => v,
        (_, v @ 2..=3) => {
            r.big_endian = true;
            v
        }
        _ => {
            return Err(format!(
                "GGUF version {raw}, which tchinfo does not know (it reads 1 to 3)"
            ));
        }
    };
    r.wide = version >= 2;
    let tensor_count = r.count()?;
    let kv_count = r.count()?;
    // The smallest key/value and tensor info: empty key, type, a one-byte value; empty name, no
    // dimensions, type, offset. Counts that could not fit in the file are refused before any loop.
    let size = if r.wide { 8 } else { 4 };
    r.fits(kv_count, size + 4 + 1, "key/values")?;
    r.fits(tensor_count, size + 4 + 4 + 8, "tensor infos")?;
    if kv_count > MAX_KEYS || tensor_count > MAX_TENSORS {
        return Err(format!(
            "declares {kv_count} key/values and {tensor_count} tensors, more than the {MAX_KEYS} and {MAX_TENSORS} accepted"
        ));
    }

    let mut metadata = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    let mut alignment = 32u64;
    for _ in 0..kv_count {
        let (key, key_len) = r.string(MAX_NAME_BYTES)?;
        if key_len > MAX_NAME_BYTES {
            return Err(format!(
                "a key of {key_len} bytes (at most {MAX_NAME_BYTES})"
            ));
        }
        let ty = r.u32()?;
        let value = r.value(ty, 0).map_err(|e| format!("key {key}: {e}"))?;
        // The key twice (the list and the set of seen keys) and the value's own text.
        let text = match &value {
            MetaValue::Str(s, _) => s.len() as u64,
            _ => 0,
        };
        r.keep(2 * key.len() as u64 + text)?;
        if key == "general.alignment" {
            alignment = match value.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 30 => a,
                _ => {
                    return Err(format!(
                        "general.alignment is {}, not a power of two",
                        value.text()
                    ));
                }
            };
        }
        if !keys.insert(key.clone()) {
            return Err(format!("key {key} appears twice"));
        }
        metadata.push((key, value));
    }

    let mut tensors = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for _ in 0..tensor_count {
        let (name, name_len) = r.string(MAX_NAME_BYTES)?;
        if name_len > MAX_NAME_BYTES {
            return Err(format!(
                "a tensor name of {name_len} bytes (at most {MAX_NAME_BYTES})"
            ));
        }
        let dims = r.u32()?;
        if dims > MAX_DIMS {
            return Err(format!(
                "tensor {name} has {dims} dimensions; ggml tensors have at most {MAX_DIMS}"
            ));
        }
        let mut shape = Vec::with_capacity(dims as usize);
        for _ in 0..dims {
            shape.push(r.count()?);
        }
        // ggml lists the innermost dimension first.
        shape.reverse();
        let ggml_type = r.u32()?;
        let offset = r.u64()?;
        if !names.insert(name.clone()) {
            return Err(format!("tensor {name} appears twice"));
        }
        tensors.push(TensorInfo {
            dtype: ggml_dtype(ggml_type).unwrap_or(DType::Unknown),
            name,
            shape,
            ggml_type,
            offset,
        });
    }
    let data_start = r.pos.div_ceil(alignment).saturating_mul(alignment);
    check_tensors(&tensors, alignment, file_len.saturating_sub(data_start))?;
    Ok(Gguf {
        version,
        big_endian: r.big_endian,
        metadata,
        tensors,
        alignment,
    })
}

/// Element counts, whole blocks, and offsets laid end to end inside the data, as llama.cpp requires.
fn check_tensors(tensors: &[TensorInfo], alignment: u64, data_len: u64) -> Result<(), String> {
    let mut tally = ByteTally::default();
    let mut expected = Some(0u64);
    let mut previous = 0u64;
    for t in tensors {
        let name = &t.name;
        let numel = t
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| format!("tensor {name} has more elements than 2^63 - 1"))?;
        let bytes = match t.dtype.packing() {
            Some(p) => {
                let row = t.shape.last().copied().unwrap_or(1);
                if row % p.elements != 0 {
                    return Err(format!(
                        "tensor {name}: rows of {row} elements are not whole {} blocks of {}",
                        t.dtype, p.elements
                    ));
                }
                let bytes = (numel / p.elements)
                    .checked_mul(p.bytes)
                    .filter(|&b| b <= i64::MAX as u64)
                    .ok_or_else(|| format!("tensor {name} takes more than 2^63 - 1 bytes"))?;
                Some(bytes)
            }
            None => None,
        };
        tally
            .add_sized(Some(numel), Some(bytes.unwrap_or(0)))
            .map_err(|e| format!("tensor {name}: {e}"))?;
        if t.offset % alignment != 0 {
            return Err(format!(
                "tensor {name} starts at offset {}, not a multiple of the alignment {alignment}",
                t.offset
            ));
        }
        match expected {
            Some(e) if t.offset != e => {
                return Err(format!(
                    "tensor {name} starts at offset {}, where the tensors before it end at {e}",
                    t.offset
                ));
            }
            // After a tensor of unknown size the next can only be checked to come later.
            None if t.offset < previous => {
                return Err(format!(
                    "tensor {name} starts at offset {}, before the tensor listed ahead of it",
                    t.offset
                ));
            }
            _ => {}
        }
        previous = t.offset;
        let end = bytes
            .map(|b| t.offset.checked_add(b))
            .unwrap_or(Some(t.offset));
        match end {
            Some(end) if end <= data_len => {}
            _ => {
                return Err(format!(
                    "tensor {name} ends past the end of the file ({data_len} bytes of data): the file is truncated"
                ));
            }
        }
        expected = bytes.and_then(|b| t.offset.checked_add(b)?.checked_next_multiple_of(alignment));
    }
    Ok(())
}

/// The header's bytes, each read checked against the file's length and the header bound.
struct Reader<R> {
    inner: BufReader<R>,
    pos: u64,
    len: u64,
    big_endian: bool,
    /// Versions 2 and 3 write 64-bit counts and lengths; version 1, 32-bit ones.
    wide: bool,
    /// Bytes of metadata kept so far, as charged by [`Reader::keep`].
    kept: u64,
}

impl<R: Read + Seek> Reader<R> {
    fn left(&self) -> u64 {
        self.len
            .saturating_sub(self.pos)
            .min(MAX_HEADER_BYTES.saturating_sub(self.pos))
    }

    /// Makes sure `n` more bytes may be read.
    fn reserve(&mut self, n: u64) -> Result<(), String> {
        if n > self.left() {
            return Err(if self.pos.saturating_add(n) > self.len {
                format!(
                    "the header needs {n} more bytes at byte {}, past the end of the file: the file is truncated",
                    self.pos
                )
            } else {
                format!(
                    "the header is larger than the {} MiB accepted",
                    MAX_HEADER_BYTES >> 20
                )
            });
        }
        self.pos += n;
        Ok(())
    }

    /// Refuses `count` items of at least `size` bytes each that could not fit in what is left.
    fn fits(&self, count: u64, size: u64, what: &str) -> Result<(), String> {
        if count.saturating_mul(size) > self.left() {
            return Err(format!(
                "declares {count} {what}, more than the {} bytes left in the file could hold",
                self.left()
            ));
        }
        Ok(())
    }

    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.reserve(buf.len() as u64)?;
        self.inner
            .read_exact(buf)
            .map_err(|e| format!("cannot read the header: {e}"))
    }

    /// Charges a kept value (its size and `text` bytes of text) to the metadata bound.
    fn keep(&mut self, text: u64) -> Result<(), String> {
        self.kept = self
            .kept
            .saturating_add(std::mem::size_of::<MetaValue>() as u64 + text);
        if self.kept > MAX_KEPT_BYTES {
            return Err(format!(
                "the metadata would take more than {} MiB to keep: a damaged or hostile file",
                MAX_KEPT_BYTES >> 20
            ));
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        self.reserve(n)?;
        let n = i64::try_from(n).map_err(|_| "an overlong skip".to_string())?;
        self.inner
            .seek_relative(n)
            .map_err(|e| format!("cannot read the header: {e}"))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut b = [0u8; N];
        self.bytes(&mut b)?;
        if self.big_endian {
            b.reverse();
        }
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count or length: 64 bits from version 2 on, 32 before.
    fn count(&mut self) -> Result<u64, String> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    /// A string: its first `keep` bytes (lossy UTF-8) and its full length; the rest is skipped.
    fn string(&mut self, keep: u64) -> Result<(String, u64), String> {
        let len = self.count()?;
        if len > self.left() {
            return Err(format!(
                "a string of {len} bytes at byte {}, more than the file holds after it",
                self.pos
            ));
        }
        let kept = len.min(keep);
        let mut buf = vec![0u8; kept as usize];
        self.bytes(&mut buf)?;
        self.skip(len - kept)?;
        Ok((String::from_utf8_lossy(&buf).into_owned(), len))
    }

    fn value(&mut self, ty: u32, depth: usize) -> Result<MetaValue, String> {
        Ok(match ty {
            0 => MetaValue::UInt(u64::from(self.array::<1>()?[0])),
            1 => MetaValue::Int(i64::from(i8::from_le_bytes(self.array()?))),
            2 => MetaValue::UInt(u64::from(u16::from_le_bytes(self.array()?))),
            3 => MetaValue::Int(i64::from(i16::from_le_bytes(self.array()?))),
            4 => MetaValue::UInt(u64::from(self.u32()?)),
            5 => MetaValue::Int(i64::from(i32::from_le_bytes(self.array()?))),
            6 => MetaValue::Float32(f32::from_le_bytes(self.array()?)),
            7 => MetaValue::Bool(self.array::<1>()?[0] != 0),
            8 => {
                let (s, len) = self.string(KEPT_STRING_BYTES)?;
                MetaValue::Str(s, len)
            }
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(format!("arrays nested deeper than {MAX_ARRAY_DEPTH}"));
                }
                let elem = self.u32()?;
                let count = self.count()?;
                let min = match elem {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    10..=12 => 8,
                    8 => {
                        if self.wide {
                            8
                        } else {
                            4
                        }
                    }
                    9 => 4 + if self.wide { 8 } else { 4 },
                    other => {
                        return Err(format!(
                            "an array of value type {other}, which GGUF does not define"
                        ));
                    }
                };
                self.fits(count, min, "array elements")?;
                let mut head = Vec::new();
                let fixed = !matches!(elem, 8 | 9);
                // Only a top-level array keeps its first elements; a nested one, its count.
                let keep = if depth == 0 { KEPT_ARRAY_ELEMENTS } else { 0 };
                for i in 0..count {
                    if i == keep && fixed {
                        // Fixed-size elements past the kept ones are skipped in one step.
                        self.skip((count - i) * min)?;
                        break;
                    }
                    let v = self.value(elem, depth + 1)?;
                    if i < keep {
                        self.keep(match &v {
                            MetaValue::Str(s, _) => s.len() as u64,
                            _ => 0,
                        })?;
                        head.push(v);
                    }
                }
                MetaValue::Array(elem, count, head)
            }
            10 => MetaValue::UInt(self.u64()?),
            11 => MetaValue::Int(i64::from_le_bytes(self.array()?)),
            12 => MetaValue::Float(f64::from_le_bytes(self.array()?)),
            other => return Err(format!("value type {other}, which GGUF does not define")),
        })
    }
}

/// Tensors per ggml type, for notes and tests.
pub fn type_counts(g: &Gguf) -> BTreeMap<DType, usize> {
    let mut out = BTreeMap::new();
    for t in &g.tensors {
        *out.entry(t.dtype).or_default() += 1;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    /// Writes GGUF v3 headers for tests: key/values, then tensors laid out as llama.cpp expects.
    #[derive(Default)]
    pub struct Writer {
        kv: Vec<u8>,
        kv_count: u64,
        infos: Vec<u8>,
        tensor_count: u64,
        next: u64,
    }

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }

    impl Writer {
        pub fn kv_str(mut self, k: &str, v: &str) -> Self {
            string(&mut self.kv, k);
            self.kv.extend(8u32.to_le_bytes());
            string(&mut self.kv, v);
            self.kv_count += 1;
            self
        }

        pub fn kv_u32(mut self, k: &str, v: u32) -> Self {
            string(&mut self.kv, k);
            self.kv.extend(4u32.to_le_bytes());
            self.kv.extend(v.to_le_bytes());
            self.kv_count += 1;
            self
        }

        pub fn kv_raw(mut self, k: &str, ty: u32, bytes: &[u8]) -> Self {
            string(&mut self.kv, k);
            self.kv.extend(ty.to_le_bytes());
            self.kv.extend(bytes);
            self.kv_count += 1;
            self
        }

        /// A tensor with PyTorch-order `shape`, its bytes from `bytes` (None: the next offset as given).
        pub fn tensor(mut self, name: &str, shape: &[u64], ty: u32, bytes: u64) -> Self {
            string(&mut self.infos, name);
            self.infos.extend((shape.len() as u32).to_le_bytes());
            for d in shape.iter().rev() {
                self.infos.extend(d.to_le_bytes());
            }
            self.infos.extend(ty.to_le_bytes());
            self.infos.extend(self.next.to_le_bytes());
            self.next = (self.next + bytes).next_multiple_of(32);
            self.tensor_count += 1;
            self
        }

        pub fn bytes(&self) -> Vec<u8> {
            let mut out = b"GGUF".to_vec();
            out.extend(3u32.to_le_bytes());
            out.extend(self.tensor_count.to_le_bytes());
            out.extend(self.kv_count.to_le_bytes());
            out.extend(&self.kv);
            out.extend(&self.infos);
            out.resize(out.len().next_multiple_of(32), 0);
            out.resize(out.len() + self.next as usize, 0);
            out
        }
    }

    fn read(bytes: &[u8]) -> Result<Gguf, String> {
        read_header(Cursor::new(bytes), bytes.len() as u64)
    }

    fn llama_like() -> Writer {
        Writer::default()
            .kv_str("general.architecture", "llama")
            .kv_u32("llama.block_count", 1)
            .kv_u32("llama.embedding_length", 256)
            .kv_u32("general.file_type", 15)
            .tensor("token_embd.weight", &[100, 256], 12, 100 * 144)
            .tensor("blk.0.attn_q.weight", &[256, 256], 8, 256 * 256 / 32 * 34)
            .tensor("blk.0.attn_norm.weight", &[256], 0, 1024)
            .tensor("output_norm.weight", &[256], 0, 1024)
    }

    #[test]
    fn reads_shapes_in_pytorch_order_types_and_architecture() {
        let g = read(&llama_like().bytes()).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.tensors[0].shape, [100, 256]);
        assert_eq!(g.tensors[0].dtype, DType::Q4_K);
        assert_eq!(g.tensors[1].dtype, DType::Q8_0);
        let s = summarize(Path::new("m.gguf"), g).unwrap();
        let a = s.architecture.as_ref().unwrap();
        assert_eq!(a.model_type.as_deref(), Some("llama"));
        assert_eq!((a.layers, a.hidden_size), (Some(1), Some(256)));
        assert_eq!(a.quantization.as_deref(), Some("Q4_K_M"));
        let t = s.totals();
        assert_eq!(t.params, 100 * 256 + 256 * 256 + 2 * 256);
        assert_eq!(t.param_bytes, 100 * 144 + 256 * 256 / 32 * 34 + 2 * 1024);
        // No output.weight: the head is the embedding, tied and counted once.
        let out = s.root.find("output").unwrap();
        assert_eq!(
            out.parameters[0].tied_to.as_deref(),
            Some("token_embd.weight")
        );
        assert_eq!(t.tied_params, 100 * 256);
        // Quantized weights are frozen, float ones counted trainable.
        assert_eq!(t.trainable, 2 * 256);
    }

    #[test]
    fn an_unknown_type_is_a_note_not_a_failure() {
        let bytes = Writer::default()
            .tensor("a.weight", &[4, 32], 99, 64)
            .tensor("b.weight", &[4, 32], 0, 512)
            .bytes();
        let g = read(&bytes).unwrap();
        assert_eq!(g.tensors[0].dtype, DType::Unknown);
        let s = summarize(Path::new("m.gguf"), g).unwrap();
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains("1 tensor (first a.weight) of ggml type 99")),
            "{:?}",
            s.notes
        );
        let t = s.totals();
        assert_eq!(t.params, 256);
        assert_eq!(t.param_bytes, 512);
    }

    fn refused(bytes: &[u8], why: &str) {
        let e = read(bytes).unwrap_err();
        assert!(e.contains(why), "{e}");
    }

    #[test]
    fn hostile_headers_are_refused_before_anything_is_allocated() {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        refused(&b, "tensor infos, more than");
        let mut b = b"GGUF".to_vec();
        b.extend(7u32.to_le_bytes());
        refused(&b, "version 7");
        refused(b"GGML....", "not a GGUF file");
        // A string longer than the file.
        let bytes = Writer::default()
            .kv_raw("k", 8, &u64::MAX.to_le_bytes())
            .bytes();
        refused(&bytes, "more than the file holds");
        // An array of 2^60 uint32.
        let mut arr = 4u32.to_le_bytes().to_vec();
        arr.extend((1u64 << 60).to_le_bytes());
        refused(
            &Writer::default().kv_raw("k", 9, &arr).bytes(),
            "array elements",
        );
        // Deeply nested arrays.
        let mut nested = Vec::new();
        for _ in 0..10 {
            nested.extend(9u32.to_le_bytes());
            nested.extend(1u64.to_le_bytes());
        }
        refused(
            &Writer::default().kv_raw("k", 9, &nested).bytes(),
            "nested deeper",
        );
        refused(
            &Writer::default().kv_u32("k", 1).kv_u32("k", 2).bytes(),
            "appears twice",
        );
        refused(
            &Writer::default().kv_u32("general.alignment", 3).bytes(),
            "not a power of two",
        );
    }

    #[test]
    fn tensor_infos_that_lie_are_refused() {
        let bytes = Writer::default().tensor("a", &[2, 30], 2, 36).bytes();
        refused(
            &bytes,
            "rows of 30 elements are not whole Q4_0 blocks of 32",
        );
        let mut bytes = Writer::default().tensor("a", &[64], 0, 256).bytes();
        bytes.truncate(bytes.len() - 8);
        refused(&bytes, "truncated");
        let bytes = Writer::default()
            .tensor("a", &[8], 0, 0)
            .tensor("b", &[8], 0, 32)
            .bytes();
        refused(
            &bytes,
            "tensor b starts at offset 0, where the tensors before it end at 32",
        );
        let bytes = Writer::default()
            .tensor("a", &[1, 1, 1, 1, 1], 0, 4)
            .bytes();
        refused(&bytes, "at most 4");
        // 2^62 float64 elements: a count PyTorch could hold, but not their bytes.
        let bytes = Writer::default().tensor("a", &[1 << 62], 28, 0).bytes();
        refused(&bytes, "more than 2^63 - 1 bytes");
        let bytes = Writer::default()
            .tensor("a", &[8], 0, 32)
            .tensor("a", &[8], 0, 32)
            .bytes();
        refused(&bytes, "appears twice");
    }

    #[test]
    fn version_1_and_big_endian_files() {
        // Version 1: 32-bit counts and lengths.
        let mut b = b"GGUF".to_vec();
        b.extend(1u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.push(b'w');
        b.extend(1u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.resize(64 + 32, 0);
        let g = read(&b).unwrap();
        assert_eq!((g.version, g.tensors[0].shape.clone()), (1, vec![8]));
        // Version 3, big-endian.
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_be_bytes());
        b.extend(1u64.to_be_bytes());
        b.extend(0u64.to_be_bytes());
        b.extend(1u64.to_be_bytes());
        b.push(b'w');
        b.extend(2u32.to_be_bytes());
        b.extend(8u64.to_be_bytes());
        b.extend(2u64.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        b.extend(0u64.to_be_bytes());
        b.resize(b.len().next_multiple_of(32) + 64, 0);
        let g = read(&b).unwrap();
        assert!(g.big_endian);
        assert_eq!(g.tensors[0].shape, [2, 8]);
    }

    #[test]
    fn values_are_kept_for_display() {
        let mut tokens = 8u32.to_le_bytes().to_vec();
        tokens.extend(3u64.to_le_bytes());
        for t in ["a", "b", "c"] {
            tokens.extend((t.len() as u64).to_le_bytes());
            tokens.extend(t.as_bytes());
        }
        let mut scores = 6u32.to_le_bytes().to_vec();
        scores.extend(20u64.to_le_bytes());
        scores.extend([0u8; 80]);
        let long = "x".repeat(1000);
        let bytes = Writer::default()
            .kv_raw("tokenizer.ggml.tokens", 9, &tokens)
            .kv_raw("tokenizer.ggml.scores", 9, &scores)
            .kv_str("tokenizer.chat_template", &long)
            .kv_raw("flag", 7, &[1])
            .bytes();
        let g = read(&bytes).unwrap();
        let text: Vec<String> = g.metadata.iter().map(|(_, v)| v.text()).collect();
        assert_eq!(text[0], "[a, b, c]");
        assert_eq!(text[1], "[20 float32s]");
        assert!(
            text[2].ends_with("… (1,000 bytes)") && text[2].len() < 300,
            "{}",
            text[2]
        );
        assert_eq!(text[3], "true");
    }
}
