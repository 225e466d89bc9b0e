//! safetensors files (the Hugging Face Hub's default weight format), read from the header alone.
//!
//! A file is an 8-byte little-endian header length N, N bytes of JSON, then the tensor data. The JSON
//! maps each tensor's name to its dtype, shape and `data_offsets` (`[begin, end)` from the start of the
//! data), and may hold a `__metadata__` map of strings. The data is never read, whatever the file's
//! size: the offsets are checked against the file's length instead, as the format's reference
//! implementation checks them — contiguous from 0, no gaps, no overlaps, each tensor exactly the bytes
//! its dtype and shape need (sub-byte types included), the last one ending at the end of the file.
//!
//! Bounds: the header is refused past 100,000,000 bytes (the reference's own limit), a tensor past 64
//! dimensions, a file past 2^20 tensors; the JSON is parsed straight into the entries, never into a
//! document tree, so the memory taken follows the header's size.

use super::SourceError;
use super::torchscript::budget::{
    ByteTally, MODULE_COST, TreeBudget, charge_name, module_count, tensor_cost,
};
use crate::dtype::DType;
use crate::summary::infer::{
    NamedTensor, TYPES_INFERRED_NOTE, model_order, tree_from_named_tensors,
};
use crate::summary::{ModelSummary, SourceKind};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest header accepted: the reference implementation's limit.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// The most tensors one file may describe. Real checkpoints hold hundreds to a hundred thousand.
pub const MAX_TENSORS: usize = 1 << 20;
/// The most dimensions a tensor may have (PyTorch's own limit).
const MAX_DIMS: usize = 64;

/// The root type shown for weights whose model class is not recorded.
pub const ROOT_TYPE: &str = "Safetensors";

pub const TRAINABLE_ASSUMED_NOTE: &str = "safetensors does not record requires_grad: every floating-point parameter is counted as trainable";

/// One tensor as the header describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
    /// `[begin, end)` within the data.
    pub offsets: [u64; 2],
}

/// A header, checked against the file it came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    /// In the order the JSON lists them.
    pub tensors: Vec<Entry>,
    /// `__metadata__`, in the order the JSON lists it.
    pub metadata: Vec<(String, String)>,
    /// Bytes of the header, the 8-byte length included.
    pub header_bytes: u64,
}

/// The dtype a safetensors dtype string names; `None` for one the format does not define.
pub fn dtype_named(name: &str) -> Option<DType> {
    use DType::*;
    Some(match name {
        "BOOL" => Bool,
        "U8" => UInt8,
        "I8" => Int8,
        "I16" => Int16,
        "U16" => UInt16,
        "I32" => Int32,
        "U32" => UInt32,
        "I64" => Int64,
        "U64" => UInt64,
        "F16" => Float16,
        "BF16" => BFloat16,
        "F32" => Float32,
        "F64" => Float64,
        "C64" => Complex64,
        "F8_E4M3" => Float8E4M3,
        "F8_E5M2" => Float8E5M2,
        "F8_E8M0" => Float8E8M0,
        "F8_E4M3FNUZ" => Float8E4M3Fnuz,
        "F8_E5M2FNUZ" => Float8E5M2Fnuz,
        "F6_E2M3" => Float6E2M3,
        "F6_E3M2" => Float6E3M2,
        "F4" => Float4E2M1,
        _ => return None,
    })
}

/// Bits of one element of a safetensors dtype: sub-byte types pack with no padding.
fn bits(dtype: DType) -> u64 {
    match dtype {
        DType::Float6E2M3 | DType::Float6E3M2 => 6,
        DType::Float4E2M1 => 4,
        other => other.bytes() * 8,
    }
}

/// Reads one safetensors file (not a shard set: see [`super::hf_folder`]) into a summary.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    let (header, _) = read_header_of(path)?;
    summarize(path, header)
}

/// [`read_file`] on any reader holding a whole file of `file_len` bytes (a fuzzer's bytes); `path`
/// names the model in the summary and in errors.
pub fn read_from<R: Read>(
    path: &Path,
    reader: R,
    file_len: u64,
) -> Result<ModelSummary, SourceError> {
    let header = read_header(reader, file_len).map_err(|p| SourceError::format(path, p))?;
    summarize(path, header)
}

/// Opens `path` and reads its header; also gives the file's length.
pub fn read_header_of(path: &Path) -> Result<(Header, u64), SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::sources::open_model_file(path)?;
    let len = file.metadata().map_err(io)?.len();
    let header = read_header(file, len).map_err(|p| SourceError::format(path, p))?;
    Ok((header, len))
}

fn summarize(path: &Path, header: Header) -> Result<ModelSummary, SourceError> {
    let fail = |p: String| SourceError::format(path, p);
    let named = named_tensors(header.tensors, &mut TreeBudget::default()).map_err(fail)?;
    let mut s = ModelSummary::new(
        path.display().to_string(),
        SourceKind::Safetensors,
        tree_from_named_tensors(ROOT_TYPE, named),
    );
    s.notes = vec![
        TYPES_INFERRED_NOTE.to_string(),
        TRAINABLE_ASSUMED_NOTE.to_string(),
    ];
    s.file_metadata = header.metadata;
    Ok(s)
}

/// The entries as named tensors in reading order (the format sorts them by name), every name and
/// module charged to `tree` first.
pub fn named_tensors(
    mut entries: Vec<Entry>,
    tree: &mut TreeBudget,
) -> Result<Vec<NamedTensor>, String> {
    for e in &entries {
        charge_name(tree, &e.name)?;
        tree.charge(tensor_cost(e.shape.len()))?;
    }
    tree.charge(module_count(entries.iter().map(|e| e.name.as_str())).saturating_mul(MODULE_COST))?;
    entries.sort_by(|a, b| model_order(&a.name, &b.name));
    Ok(entries
        .into_iter()
        .map(|e| NamedTensor {
            requires_grad: e.dtype.is_floating_point(),
            name: e.name,
            shape: e.shape,
            dtype: e.dtype,
        })
        .collect())
}

/// Reads and checks the header of a file of `file_len` bytes from `reader` (at its start). Only the
/// length and the JSON are read.
pub fn read_header<R: Read>(mut reader: R, file_len: u64) -> Result<Header, String> {
    let mut len = [0u8; 8];
    if file_len < 8 {
        return Err(format!(
            "{file_len} bytes: too short for a safetensors file (an 8-byte header length, then the header)"
        ));
    }
    reader
        .read_exact(&mut len)
        .map_err(|e| format!("cannot read the header length: {e}"))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES {
        return Err(format!(
            "declares a header of {n} bytes, more than the {MAX_HEADER_BYTES} safetensors allows: a damaged or hostile file"
        ));
    }
    if n > file_len - 8 {
        return Err(format!(
            "declares a header of {n} bytes, but only {} follow the length: the file is truncated",
            file_len - 8
        ));
    }
    let mut json = Vec::new();
    // `n` is at most 100 MB and no more than the file holds.
    json.try_reserve_exact(n as usize)
        .map_err(|_| format!("cannot hold a header of {n} bytes"))?;
    reader
        .by_ref()
        .take(n)
        .read_to_end(&mut json)
        .map_err(|e| format!("cannot read the header: {e}"))?;
    if (json.len() as u64) < n {
        return Err(format!(
            "the header should be {n} bytes, the file ends after {}",
            json.len()
        ));
    }
    let mut header = parse_header(&json, file_len - 8 - n)?;
    header.header_bytes = 8 + n;
    Ok(header)
}

/// Parses a header's JSON and checks every tensor against `data_len`, the bytes after the header.
pub fn parse_header(json: &[u8], data_len: u64) -> Result<Header, String> {
    if json.first() != Some(&b'{') {
        return Err("the header does not start with '{': not a safetensors file".into());
    }
    let mut parsed = Header::default();
    let mut de = serde_json::Deserializer::from_slice(json);
    de::Deserializer::deserialize_map(&mut de, HeaderVisitor { out: &mut parsed })
        .and_then(|()| de.end())
        .map_err(|e| format!("the header is not valid safetensors JSON: {e}"))?;
    check_names(&parsed.tensors)?;
    check_offsets(&parsed.tensors, data_len)?;
    Ok(parsed)
}

fn check_names(tensors: &[Entry]) -> Result<(), String> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(tensors.len());
    for t in tensors {
        if !seen.insert(&t.name) {
            return Err(format!("tensor '{}' appears twice in the header", t.name));
        }
    }
    Ok(())
}

/// The reference implementation's rules: sorted by offset, the tensors tile the data from byte 0 to
/// its end, each exactly as long as its dtype and shape need.
fn check_offsets(tensors: &[Entry], data_len: u64) -> Result<(), String> {
    let mut tally = ByteTally::default();
    let mut order: Vec<&Entry> = tensors.iter().collect();
    order.sort_by_key(|t| t.offsets);
    let mut expected = 0u64;
    for t in order {
        let [begin, end] = t.offsets;
        let name = &t.name;
        if end < begin {
            return Err(format!(
                "tensor '{name}' has data_offsets [{begin}, {end}), which end before they begin"
            ));
        }
        if begin < expected {
            return Err(format!(
                "tensor '{name}' (bytes {begin}..{end}) overlaps the tensor before it, which ends at byte {expected}"
            ));
        }
        if begin > expected {
            return Err(format!(
                "{} bytes between byte {expected} and tensor '{name}' belong to no tensor: the offsets must be contiguous",
                begin - expected
            ));
        }
        let numel = t.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let need = numel
            .filter(|&n| n <= i64::MAX as u64)
            .and_then(|n| n.checked_mul(bits(t.dtype)))
            .ok_or_else(|| format!("tensor '{name}' has more elements than 2^63 - 1"))?;
        if need % 8 != 0 {
            return Err(format!(
                "tensor '{name}' ({} × {} bits) does not end on a byte boundary",
                numel.unwrap_or(0),
                bits(t.dtype)
            ));
        }
        if end - begin != need / 8 {
            return Err(format!(
                "tensor '{name}': data_offsets [{begin}, {end}) hold {} bytes, but {} of shape {:?} needs {}",
                end - begin,
                t.dtype,
                t.shape,
                need / 8
            ));
        }
        tally.add_sized(numel, Some(need / 8))?;
        expected = end;
    }
    if expected > data_len {
        return Err(format!(
            "the tensors need {expected} bytes of data, but the file holds {data_len} after the header: the file is truncated"
        ));
    }
    if expected < data_len {
        return Err(format!(
            "the file holds {} bytes after the last tensor's data, which the header does not describe",
            data_len - expected
        ));
    }
    Ok(())
}

struct HeaderVisitor<'a> {
    out: &'a mut Header,
}

impl<'de> Visitor<'de> for HeaderVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of tensor names to their dtype, shape and data_offsets")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "__metadata__" {
                if !self.out.metadata.is_empty() {
                    return Err(de::Error::custom("__metadata__ appears twice"));
                }
                self.out.metadata = map.next_value_seed(MetadataSeed)?;
                continue;
            }
            if self.out.tensors.len() >= MAX_TENSORS {
                return Err(de::Error::custom(format!(
                    "more than {MAX_TENSORS} tensors"
                )));
            }
            let (dtype, shape, offsets) = map.next_value_seed(EntrySeed { name: &key })?;
            self.out.tensors.push(Entry {
                name: key,
                dtype,
                shape,
                offsets,
            });
        }
        Ok(())
    }
}

/// `__metadata__`: strings to strings, kept in order.
struct MetadataSeed;

impl<'de> DeserializeSeed<'de> for MetadataSeed {
    type Value = Vec<(String, String)>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("__metadata__ as a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value().map_err(|_| {
                de::Error::custom(format!("__metadata__ value of '{key}' is not a string"))
            })?;
            out.push((key, value));
        }
        Ok(out)
    }
}

/// One tensor's `{dtype, shape, data_offsets}`; other keys are ignored, as the reference ignores them.
struct EntrySeed<'a> {
    name: &'a str,
}

type RawEntry = (DType, Vec<u64>, [u64; 2]);

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = RawEntry;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = RawEntry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "tensor '{}' as {{dtype, shape, data_offsets}}",
            self.name
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let name = self.name;
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "dtype" => {
                    let text: String = map.next_value()?;
                    dtype = Some(dtype_named(&text).ok_or_else(|| {
                        de::Error::custom(format!(
                            "tensor '{name}' has dtype '{text}', which safetensors does not define"
                        ))
                    })?);
                }
                "shape" => {
                    shape = Some(map.next_value_seed(Dims {
                        max: MAX_DIMS,
                        name,
                    })?)
                }
                "data_offsets" => {
                    let pair = map.next_value_seed(Dims { max: 2, name })?;
                    let [begin, end] = pair[..] else {
                        return Err(de::Error::custom(format!(
                            "tensor '{name}' has {} data_offsets, not 2",
                            pair.len()
                        )));
                    };
                    offsets = Some([begin, end]);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let missing = |what: &str| de::Error::custom(format!("tensor '{name}' has no {what}"));
        Ok((
            dtype.ok_or_else(|| missing("dtype"))?,
            shape.ok_or_else(|| missing("shape"))?,
            offsets.ok_or_else(|| missing("data_offsets"))?,
        ))
    }
}

/// A list of non-negative integers, refused past `max` before it grows further.
struct Dims<'a> {
    max: usize,
    name: &'a str,
}

impl<'de> DeserializeSeed<'de> for Dims<'_> {
    type Value = Vec<u64>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Dims<'_> {
    type Value = Vec<u64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a list of non-negative integers for tensor '{}'",
            self.name
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(d) = seq.next_element::<u64>()? {
            if out.len() == self.max {
                return Err(de::Error::custom(format!(
                    "tensor '{}' lists more than {} values where {} are allowed",
                    self.name, self.max, self.max
                )));
            }
            out.push(d);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A file of `json` followed by `data_len` zero bytes.
    fn file(json: &str, data_len: usize) -> Vec<u8> {
        let mut v = (json.len() as u64).to_le_bytes().to_vec();
        v.extend(json.as_bytes());
        v.extend(std::iter::repeat_n(0u8, data_len));
        v
    }

    fn header(json: &str, data_len: usize) -> Result<Header, String> {
        let bytes = file(json, data_len);
        read_header(Cursor::new(&bytes), bytes.len() as u64)
    }

    #[test]
    fn reads_tensors_metadata_and_every_dtype_size() {
        let h = header(
            r#"{"__metadata__":{"format":"pt","b":"x"},
                "w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
                "f4":{"dtype":"F4","shape":[4,2],"data_offsets":[24,28]},
                "f6":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[28,31]},
                "e8":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[31,32]},
                "empty":{"dtype":"BF16","shape":[0,5],"data_offsets":[32,32]}}   "#,
            32,
        )
        .unwrap();
        assert_eq!(
            h.metadata,
            [
                ("format".to_string(), "pt".to_string()),
                ("b".to_string(), "x".to_string())
            ]
        );
        let got: Vec<(&str, DType, Vec<u64>)> = h
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.dtype, t.shape.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("w", DType::Float32, vec![2, 3]),
                ("f4", DType::Float4E2M1, vec![4, 2]),
                ("f6", DType::Float6E2M3, vec![4]),
                ("e8", DType::Float8E8M0, vec![1]),
                ("empty", DType::BFloat16, vec![0, 5]),
            ]
        );
    }

    fn refused(json: &str, data_len: usize, why: &str) {
        let e = header(json, data_len).unwrap_err();
        assert!(e.contains(why), "{json}: {e}");
    }

    #[test]
    fn headers_that_lie_are_refused_with_a_reason() {
        let w = |offsets: &str| {
            format!(r#"{{"w":{{"dtype":"F32","shape":[2],"data_offsets":{offsets}}}}}"#)
        };
        refused(&w("[0,8]"), 4, "truncated");
        refused(&w("[0,8]"), 12, "4 bytes after the last tensor");
        refused(
            &w("[0,12]"),
            12,
            "hold 12 bytes, but float32 of shape [2] needs 8",
        );
        refused(&w("[4,12]"), 12, "4 bytes between byte 0 and tensor 'w'");
        refused(&w("[8,0]"), 8, "end before they begin");
        refused(&w("[0,8,9]"), 8, "more than 2 values");
        refused(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                "b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            "overlaps",
        );
        refused(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                "a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            "appears twice",
        );
        refused(
            r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
            2,
            "byte boundary",
        );
        refused(
            r#"{"a":{"dtype":"Q4","shape":[3],"data_offsets":[0,2]}}"#,
            2,
            "'Q4', which safetensors does not define",
        );
        refused(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#,
            0,
            "more elements than",
        );
        refused(r#"{"a":{"dtype":"F32","shape":[1]}}"#, 0, "no data_offsets");
        refused(r#"{"__metadata__":{"a":1}}"#, 0, "not a string");
        refused(r#"["a"]"#, 0, "does not start with");
        refused(r#"{"a":1} x"#, 0, "not valid safetensors JSON");
        let deep = format!(
            r#"{{"a":{{"dtype":"F32","shape":[{}],"data_offsets":[0,4]}}}}"#,
            vec!["1"; 65].join(",")
        );
        refused(&deep, 4, "more than 64 values");
    }

    #[test]
    fn lengths_are_checked_before_anything_is_read() {
        let mut big = (MAX_HEADER_BYTES + 1).to_le_bytes().to_vec();
        big.extend(b"{}");
        let e = read_header(Cursor::new(&big), u64::MAX).unwrap_err();
        assert!(e.contains("more than the 100000000"), "{e}");
        let mut short = 100u64.to_le_bytes().to_vec();
        short.extend(b"{}");
        let e = read_header(Cursor::new(&short), short.len() as u64).unwrap_err();
        assert!(e.contains("only 2 follow"), "{e}");
        assert!(
            read_header(Cursor::new(&[1u8, 2]), 2)
                .unwrap_err()
                .contains("too short")
        );
        // An empty model is a model.
        assert!(header("{}", 0).unwrap().tensors.is_empty());
    }
}
