//! Sources: everything that turns a model (a built-in name, a file, a `VarStore`) into a
//! [`ModelSummary`](crate::summary::ModelSummary). Each source lives in its own module.

pub mod graph;
pub mod onnx;
pub mod pt2;
pub mod torchscript;

use crate::dtype::DType;
use crate::summary::ModelSummary;
use graph::symbols::SizeRequest;
use std::fmt;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub(crate) use torchscript::one_line;

/// Reads a saved model's structure, whatever its format, without running anything from it: the one
/// entry point every loader calls for files. Each format is told apart by its own reader.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    read_file_with(path, &LoadOptions::default())
}

/// [`read_file`], with the sizes `opts` asks for (`--batch-size`, `--input-size`) applied where the
/// file records its graph's shapes (`.pt2`, ONNX): they are evaluated there, with nothing run. Other
/// formats ignore them here (a TorchScript forward pass takes them later).
pub fn read_file_with(path: &Path, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut head = Vec::with_capacity(16);
    file.by_ref().take(16).read_to_end(&mut head).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    // Told apart by their content; a `.onnx` name decides only for a file no other reader claims.
    if head.starts_with(b"PK") {
        let is_pt2 = pt2::is_pt2(&mut file);
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        if is_pt2 {
            return pt2::read_from(path, file, &SizeRequest::from_options(opts));
        }
    } else if onnx::looks_like_onnx(&head, path) {
        return onnx::read_from(path, file, &SizeRequest::from_options(opts));
    }
    torchscript::read_from(path, file)
}

/// True when the file at `path` is one whose reader evaluates shapes from its recorded graph (`.pt2`,
/// ONNX); false when it cannot be read.
pub fn file_records_shapes(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut file = BufReader::new(file);
    let mut head = Vec::with_capacity(16);
    if file.by_ref().take(16).read_to_end(&mut head).is_err() {
        return false;
    }
    if head.starts_with(b"PK") {
        file.seek(SeekFrom::Start(0)).is_ok() && pt2::is_pt2(file)
    } else {
        onnx::looks_like_onnx(&head, path)
    }
}

/// True when the summary came from a file that records its graph with shapes (`.pt2`, ONNX), so its output shapes
/// and operator counts come from the file, not from a forward pass.
pub fn records_shapes(summary: &ModelSummary) -> bool {
    matches!(
        summary.source,
        crate::summary::SourceKind::ExportedProgram | crate::summary::SourceKind::Onnx
    )
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
    /// True when loading `model` needs libtorch: anything but an existing file read for its structure
    /// only, or one that records its graph's shapes (`.pt2`, ONNX), whose sizes are evaluated, not run.
    pub fn needs_libtorch(&self, model: &str) -> bool {
        let path = std::path::Path::new(model);
        !path.is_file()
            || (self.forward && !self.input_sizes.is_empty() && !file_records_shapes(path))
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
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        SourceError::Format {
            path: path.into(),
            problem: problem.into(),
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
