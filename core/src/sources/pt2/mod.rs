//! torch.export `.pt2` archives (`torch.export.save`) read without PyTorch: the module tree, every
//! module's output shapes and its operator mult-adds, from the graph the export recorded — nothing is
//! run, and the weights are never read.
//!
//! - this file: the archive's layout — PyTorch 2.13's `pt2` archive (`archive_format`,
//!   `models/<name>.json`, `data/weights/<name>_weights_config.json`, `data/constants/…`) and the
//!   older one (`serialized_exported_program.json` beside a pickled `serialized_state_dict.pt`) — and
//!   what is refused with a reason (an AOTInductor-only package, a newer schema);
//! - [`schema`]: the serialized `ExportedProgram` as serde structs;
//! - [`program`]: the program into a summary, through the graph readers' shared
//!   [`crate::sources::graph`].
//!
//! Every record is read with a size limit and through the zip reader's bounds (the same as
//! TorchScript's); the JSON parser bounds nesting; the graph, the tree and the sizes have their own.

pub mod program;
pub mod schema;

use crate::sources::SourceError;
use crate::sources::graph::symbols::SizeRequest;
use crate::sources::torchscript::archive::{
    Archive, MAX_DIRECTORY_BYTES, first_record_name, open_zip, read_record,
};
use crate::sources::torchscript::pickle::Pickle;
use crate::sources::torchscript::state_dict;
use crate::sources::torchscript::tensors::StorageView;
use crate::summary::ModelSummary;
use program::Payloads;
use schema::{ExportedProgram, KNOWN_MAJOR, PayloadConfig, SchemaVersion};
use std::collections::HashMap;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use zip::ZipArchive;

/// The largest program JSON accepted. ResNet-50's is 0.4 MB, BERT-base's 0.8 MB.
pub const MAX_PROGRAM_BYTES: u64 = 128 << 20;
/// The largest weights or constants config accepted (about 200 bytes a tensor).
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;
/// The legacy layout's version record and the new one's `archive_format`.
const MAX_TAG_BYTES: u64 = 256;

/// Reads a `.pt2` file's structure at the sizes `request` asks for (the export's example when empty).
pub fn read_file(path: &Path, request: &SizeRequest) -> Result<ModelSummary, SourceError> {
    let file = crate::sources::open_model_file(path)?;
    read_from(path, BufReader::new(file), request)
}

/// True when the zip archive `reader` holds is laid out as a torch.export archive (either layout, or
/// an AOTInductor package) rather than a TorchScript file or `torch.save` checkpoint.
pub fn is_pt2<R: Read + Seek>(reader: R) -> bool {
    let Ok(mut zip) = open_zip(reader, MAX_DIRECTORY_BYTES) else {
        return false;
    };
    let root = root_folder(&mut zip).unwrap_or_default();
    let pickle = format!("{root}data.pkl");
    let format = format!("{root}archive_format");
    let models = format!("{root}models/");
    let compiled = format!("{root}data/aotinductor/");
    let names: Vec<&str> = zip.file_names().collect();
    !names.contains(&pickle.as_str())
        && names.iter().any(|n| {
            *n == format
                || *n == LEGACY_PROGRAM
                || (n.starts_with(&models) && n.ends_with(".json"))
                || n.starts_with(&compiled)
        })
}

/// [`read_file`] on any seekable reader; `path` names the model in the summary and in errors.
pub fn read_from<R: Read + Seek>(
    path: &Path,
    reader: R,
    request: &SizeRequest,
) -> Result<ModelSummary, SourceError> {
    let fail = |problem: String| SourceError::format(path, crate::sources::one_line(&problem));
    let mut zip = open_zip(reader, MAX_DIRECTORY_BYTES).map_err(fail)?;
    let found = find_program(&mut zip).map_err(fail)?;
    let bytes = read_record(&mut zip, &found.program, MAX_PROGRAM_BYTES)
        .map_err(fail)?
        .ok_or_else(|| fail(format!("{} vanished from the archive", found.program)))?;
    let ep = parse_program(&found.program, &bytes).map_err(fail)?;
    drop(bytes);
    let config =
        |zip: &mut ZipArchive<_>, name: &Option<String>| -> Result<Option<PayloadConfig>, String> {
            let Some(name) = name else { return Ok(None) };
            match read_record(zip, name, MAX_CONFIG_BYTES)? {
                Some(b) => serde_json::from_slice(&b)
                    .map(Some)
                    .map_err(|e| format!("{name}: not a weights config this reader knows: {e}")),
                None => Ok(None),
            }
        };
    let weights = config(&mut zip, &found.weights).map_err(fail)?;
    let constants = config(&mut zip, &found.constants).map_err(fail)?;
    let mut notes = found.notes;
    let pickled_views = match &found.pickled_state_dict {
        Some(name) => match pickled_views(zip, name) {
            Ok(v) => Some(v),
            Err(e) => {
                notes.push(format!(
                    "{name} could not be read for which parameters share storage ({e}): tied parameters are counted once each"
                ));
                None
            }
        },
        None => None,
    };
    let payloads = Payloads {
        weights: weights.as_ref(),
        constants: constants.as_ref(),
        pickled_views: pickled_views.as_ref(),
    };
    let mut summary = program::summarize(crate::text::path(path), &ep, &payloads, request)
        .map_err(|e| fail(format!("{}: {e}", found.program)))?;
    summary.notes.splice(0..0, notes);
    Ok(summary)
}

/// The record names the program and its payloads live under.
#[derive(Debug, Default, PartialEq)]
struct Found {
    program: String,
    weights: Option<String>,
    constants: Option<String>,
    /// The older layout's pickled state dict, read only for which tensors share storage.
    pickled_state_dict: Option<String>,
    notes: Vec<String>,
}

const LEGACY_PROGRAM: &str = "serialized_exported_program.json";
const LEGACY_STATE_DICT: &str = "serialized_state_dict.pt";

/// The folder of the first record, with its slash, where PyTorch's archive reader looks for
/// everything.
fn root_folder<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Result<String, String> {
    Ok(first_record_name(zip)?
        .and_then(|n| n.split_once('/').map(|(folder, _)| format!("{folder}/")))
        .unwrap_or_default())
}

fn find_program<R: Read + Seek>(zip: &mut ZipArchive<R>) -> Result<Found, String> {
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    if names.iter().any(|n| n == LEGACY_PROGRAM) {
        let has_state_dict = names.iter().any(|n| n == LEGACY_STATE_DICT);
        return Ok(Found {
            program: LEGACY_PROGRAM.into(),
            pickled_state_dict: has_state_dict.then(|| LEGACY_STATE_DICT.into()),
            notes: vec![
                "an older torch.export archive (serialized_exported_program.json, PyTorch 2.3 to 2.7)"
                    .into(),
            ],
            ..Found::default()
        });
    }
    let root = root_folder(zip)?;
    if let Some(tag) = read_record(zip, &format!("{root}archive_format"), MAX_TAG_BYTES)? {
        let tag = String::from_utf8_lossy(&tag);
        if tag.trim() != "pt2" {
            return Err(format!(
                "{root}archive_format says {:?}, not pt2: not a torch.export archive this reader knows",
                tag.trim()
            ));
        }
    }
    let models_dir = format!("{root}models/");
    let mut models: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix(&models_dir)?.strip_suffix(".json"))
        .filter(|m| !m.is_empty() && !m.contains('/'))
        .collect();
    models.sort_unstable();
    let compiled_dir = format!("{root}data/aotinductor/");
    let mut compiled: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix(&compiled_dir)?.split('/').next())
        .filter(|m| !m.is_empty())
        .collect();
    compiled.sort_unstable();
    compiled.dedup();
    let Some(&first) = models.first() else {
        return Err(if compiled.is_empty() {
            format!(
                "a .pt2 archive without {models_dir}<name>.json: it holds no exported program to read"
            )
        } else {
            format!(
                "an AOTInductor package (compiled code for {}) holding no exported program: tchinfo reads the \
                 graph torch.export.save writes, not compiled kernels",
                compiled.join(", ")
            )
        });
    };
    let model = if models.contains(&"model") {
        "model"
    } else {
        first
    };
    let mut notes = Vec::new();
    if models.len() > 1 {
        notes.push(format!(
            "the archive holds {} exported programs ({}): this is {model}",
            models.len(),
            models.join(", ")
        ));
    }
    if !compiled.is_empty() {
        notes.push(format!(
            "the archive also holds AOTInductor-compiled code ({}), not read",
            compiled.join(", ")
        ));
    }
    let record = |dir: &str, suffix: &str| {
        let name = format!("{root}data/{dir}/{model}_{suffix}_config.json");
        names.contains(&name).then_some(name)
    };
    Ok(Found {
        program: format!("{models_dir}{model}.json"),
        weights: record("weights", "weights"),
        constants: record("constants", "constants"),
        pickled_state_dict: None,
        notes,
    })
}

/// Just the version fields, to refuse a newer schema with a reason before its structure is parsed.
#[derive(serde::Deserialize)]
struct Versions {
    #[serde(default)]
    schema_version: Option<SchemaVersion>,
    #[serde(default)]
    torch_version: Option<String>,
}

fn parse_program(name: &str, bytes: &[u8]) -> Result<ExportedProgram, String> {
    let versions: Versions = serde_json::from_slice(bytes)
        .map_err(|e| format!("{name} is not JSON this reader can read: {e}"))?;
    if let Some(v) = &versions.schema_version
        && v.major() > KNOWN_MAJOR
    {
        let torch = versions
            .torch_version
            .as_deref()
            .map(|t| format!(" by torch {t}"))
            .unwrap_or_default();
        return Err(format!(
            "written{torch} with export schema {}, newer than the {KNOWN_MAJOR}.x this reader knows (PyTorch 2.13): \
             not read, rather than misread",
            v.text()
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let version = versions
            .schema_version
            .as_ref()
            .map(|v| format!(" (schema {})", v.text()))
            .unwrap_or_default();
        format!("{name} is not an exported program this reader knows{version}: {e}")
    })
}

/// Which weights share storage, from the older layout's state dict: a `torch.save` archive stored
/// inside this one, read as the state-dict reader reads any (its pickle only, never the tensors).
fn pickled_views<R: Read + Seek>(
    mut zip: ZipArchive<R>,
    name: &str,
) -> Result<HashMap<String, StorageView>, String> {
    let (start, size) = {
        let f = zip.by_name(name).map_err(|e| e.to_string())?;
        if f.compression() != zip::CompressionMethod::Stored {
            return Err("it is compressed".into());
        }
        (f.data_start(), f.size())
    };
    let window = Window::new(zip.into_inner(), start, size).map_err(|e| e.to_string())?;
    let mut archive = Archive::open(window)?;
    let bytes = archive.read_pickle()?;
    let p = Pickle::parse(&bytes).map_err(|e| e.to_string())?;
    Ok(state_dict::state_dict_tree(&p)?.views)
}

/// A stretch of a seekable reader, read as a file of its own.
struct Window<R> {
    inner: R,
    start: u64,
    len: u64,
    at: u64,
}

impl<R: Seek> Window<R> {
    fn new(mut inner: R, start: u64, len: u64) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(start))?;
        Ok(Window {
            inner,
            start,
            len,
            at: 0,
        })
    }
}

impl<R: Read> Read for Window<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.at);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.at += got as u64;
        Ok(got)
    }
}

impl<R: Seek> Seek for Window<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::End(o) => self.len.checked_add_signed(o),
            SeekFrom::Current(o) => self.at.checked_add_signed(o),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.inner
            .seek(SeekFrom::Start(self.start.saturating_add(target)))?;
        self.at = target;
        Ok(target)
    }
}
