//! Sources: everything that turns a model (a built-in name, a file, a `VarStore`) into a
//! [`ModelSummary`](crate::summary::ModelSummary). Each source lives in its own module.

pub mod gguf;
pub mod hf_config;
pub mod hf_folder;
pub mod safetensors;
pub mod sniff;
pub mod torchscript;

use crate::dtype::DType;
use crate::summary::ModelSummary;
use sniff::Format;
use std::fmt;
use std::path::{Path, PathBuf};

/// Reads a saved model's structure, whatever its format, without running anything from it: the one
/// entry point every loader calls for files and model folders. Formats are told apart by their
/// content ([`sniff`]) and a folder by the files in it ([`hf_folder`]), never by a name alone.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    if path.is_dir() {
        return hf_folder::read_dir(path);
    }
    let format = sniff::sniff(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match format {
        Format::Safetensors => hf_folder::read_safetensors(path),
        Format::Gguf => gguf::read_file(path),
        Format::ShardIndex => hf_folder::read_index(path),
        Format::HfConfig => hf_folder::read_config(path),
        Format::TorchArchive if hf_folder::is_bin_shard(path) => hf_folder::read_bin_shards(path),
        Format::TorchArchive => torchscript::read_file(path),
        Format::Other(what) => Err(SourceError::format(path, what)),
    }
}

/// Whether `model` names something [`read_file`] reads: an existing file or folder. An existing path
/// wins over a built-in architecture's name.
pub fn is_model_path(model: &str) -> bool {
    let path = Path::new(model);
    path.is_file() || path.is_dir()
}

/// Forward inputs with more elements than this are refused, for built-ins and files alike: a CPU
/// forward pass needs tens of times its input's size in activations, and a libtorch allocation that
/// fails midway gives a raw allocator message, not a clear line. 2^26 float32 elements are 256 MiB
/// (a batch of 445 images at 3×224×224).
pub const MAX_INPUT_ELEMENTS: u64 = 1 << 26;

/// What the user asked for, whatever the source.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Classes of the classifier, for built-in architectures (default: the architecture's own, 1000).
    pub num_classes: Option<i64>,
    /// One shape per forward input. For built-ins `C,H,W` (batch 1 unless `batch_size` says) or a full
    /// `N,C,H,W`; for files the full shape of each input.
    pub input_sizes: Vec<Vec<i64>>,
    /// Batch size: replaces the first dimension of every input (the N of a built-in's `N,C,H,W` too); when
    /// `None`, the sizes are used as given, and a built-in's `C,H,W` runs at batch 1.
    pub batch_size: Option<i64>,
    /// Element type of file inputs (default float32).
    pub dtype: Option<DType>,
    /// Run a forward pass to measure output shapes (built-ins always can; files need `input_sizes`).
    pub forward: bool,
}

impl LoadOptions {
    /// True when loading `model` needs libtorch: anything but an existing file or model folder read
    /// for its structure only.
    pub fn needs_libtorch(&self, model: &str) -> bool {
        !is_model_path(model) || (self.forward && !self.input_sizes.is_empty())
    }
}

/// Why a source could not produce a summary. Every variant renders as one line that names the model or
/// file and the problem.
#[derive(Debug)]
pub enum SourceError {
    /// Neither a built-in architecture nor an existing file.
    UnknownModel {
        name: String,
        suggestion: Option<String>,
    },
    /// The file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file was read but is not a model this tool understands, or is truncated or corrupt.
    Format { path: PathBuf, problem: String },
    /// The input given for the forward pass cannot work with this model (wrong rank, too small …).
    Input { model: String, problem: String },
    /// libtorch refused something; `context` says what we were doing.
    Torch {
        model: String,
        context: String,
        message: String,
    },
}

impl SourceError {
    /// The problem is made one readable line ([`one_line`]): it may quote names from the file.
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        SourceError::Format {
            path: path.into(),
            problem: one_line(&problem.into()),
        }
    }

    /// `model` is neither a regular file nor a built-in name: say what is there when something is (a
    /// directory, a FIFO), and "no such file" only when nothing is.
    pub fn not_a_model(model: &str, suggestion: Option<String>) -> Self {
        match std::fs::metadata(model) {
            Ok(m) if m.is_dir() => SourceError::format(model, "is a directory, not a model file"),
            Ok(_) => SourceError::format(
                model,
                "not a regular file (a FIFO, socket or device); tchinfo reads saved model files",
            ),
            Err(_) => SourceError::UnknownModel {
                name: model.to_string(),
                suggestion,
            },
        }
    }
}

/// Problems quote names from the file, which may hold newlines, control characters or a megabyte of
/// text: the error stays one readable line. A long one keeps its start (what) and its end (why).
pub fn one_line(problem: &str) -> String {
    const KEEP: usize = 250;
    let chars = problem.chars().count();
    if chars <= 2 * KEEP {
        return escape_controls(problem);
    }
    let at = |n: usize| problem.char_indices().nth(n).map_or(0, |(i, _)| i);
    format!(
        "{} … {}",
        escape_controls(&problem[..at(KEEP)]),
        escape_controls(&problem[at(chars - KEEP)..])
    )
}

fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// libtorch messages carry a C++ backtrace after the first line; one line is what a user needs.
pub fn first_line(message: &str) -> &str {
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::UnknownModel { name, suggestion } => {
                write!(f, "{name}: not a built-in architecture and no such file")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean {s}?)")?;
                }
                write!(f, "; `tchinfo list` shows the built-in names")
            }
            SourceError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SourceError::Format { path, problem } => write!(f, "{}: {problem}", path.display()),
            SourceError::Input { model, problem } => write!(f, "{model}: {problem}"),
            SourceError::Torch {
                model,
                context,
                message,
            } => {
                write!(f, "{model}: {context}: {}", first_line(message))
            }
        }
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SourceError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
