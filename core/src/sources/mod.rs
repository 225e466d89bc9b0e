//! Sources: everything that turns a model (a built-in name, a file, a `VarStore`) into a
//! [`ModelSummary`](crate::summary::ModelSummary). Each source lives in its own module.

pub mod builtins;
pub mod catalog;
pub mod gguf;
pub mod graph;
pub mod hf_config;
pub mod hf_folder;
pub mod jit_graph;
pub mod onnx;
pub mod pt2;
pub mod safetensors;
pub mod sniff;
pub mod torchscript;

use crate::dtype::DType;
use crate::summary::{ModelSummary, SourceKind};
use crate::text::{self, one_line};
use graph::symbols::SizeRequest;
use sniff::Format;
use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Reads a saved model's structure, whatever its format, without running anything from it: the one
/// entry point every loader calls for files and model folders. Formats are told apart by their
/// content ([`sniff`]) and a folder by the files in it ([`hf_folder`]), never by a name alone.
pub fn read_file(path: &Path) -> Result<ModelSummary, SourceError> {
    read_file_with(path, &LoadOptions::default())
}

/// [`read_file`], with the sizes `opts` asks for (`--batch-size`, `--input-size`) applied where the
/// file records its graph's shapes (`.pt2`, ONNX): they are evaluated there, with nothing run. Other
/// formats ignore them here (a TorchScript forward pass takes them later, in [`load_file`]).
pub fn read_file_with(path: &Path, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
    if path.is_dir() {
        return hf_folder::read_dir(path);
    }
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let format = sniff::sniff(open_model_file(path)?, path).map_err(io)?;
    let reopen = || -> Result<_, SourceError> { Ok(BufReader::new(open_model_file(path)?)) };
    match format {
        Format::Onnx => onnx::read_from(path, reopen()?, &SizeRequest::from_options(opts)),
        // A zip is told apart by its records: the sniffer sees only the first one.
        Format::TorchArchive if pt2::is_pt2(reopen()?) => {
            pt2::read_from(path, reopen()?, &SizeRequest::from_options(opts))
        }
        Format::Safetensors => hf_folder::read_safetensors(path),
        Format::Gguf => gguf::read_file(path),
        Format::ShardIndex => hf_folder::read_index(path),
        Format::HfConfig => hf_folder::read_config(path),
        Format::TorchArchive if hf_folder::is_bin_shard(path) => hf_folder::read_bin_shards(path),
        Format::TorchArchive => torchscript::read_file(path),
        Format::Other(what) => Err(SourceError::format(path, what)),
    }
}

/// A model file: its structure ([`read_file`]), and, when `opts` asks for a forward pass, its
/// TorchScript run once in the sandbox ([`crate::sandbox`]) to measure output shapes. Both binaries
/// load files this way.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
    if opts.seq_len.is_some() {
        return Err(SourceError::Input {
            model: text::path(path),
            problem: "--seq-len is for the built-in language models; give a file's input with \
                      --input-size (and --dtype i64 for token ids)"
                .to_string(),
        });
    }
    let mut summary = read_file_with(path, opts)?;
    // A .pt2 or ONNX file's sizes were evaluated from its recorded graph: nothing is left to run.
    if opts.forward && !opts.input_sizes.is_empty() && !records_shapes(&summary) {
        // Only TorchScript carries code it can run; every other file is weights under names, and a
        // pickled model's forward is Python, which tchinfo never runs.
        let what = match summary.source {
            SourceKind::TorchScript => None,
            SourceKind::PickledModule => {
                Some("a pickled model's forward is Python code, which tchinfo never runs")
            }
            SourceKind::Safetensors => Some("safetensors weights have no forward to run"),
            SourceKind::Gguf => Some("GGUF weights have no forward to run"),
            _ => Some("a state dict has no forward to run"),
        };
        if let Some(what) = what {
            return Err(SourceError::Input {
                model: text::path(path),
                problem: format!("{what}; --input-size needs a TorchScript file"),
            });
        }
        let exe = crate::sandbox::child_exe().map_err(|e| SourceError::Sandbox {
            model: text::path(path),
            problem: format!("cannot find the tchinfo-torch binary: {e}"),
        })?;
        let sandbox = jit_graph::Sandbox {
            exe,
            limits: opts.limits(),
        };
        jit_graph::measure_into_sandboxed(&mut summary, path, opts, &sandbox)?;
    }
    Ok(summary)
}

/// Training steps of a TorchScript file at `batches`, measured in the sandbox
/// ([`jit_graph::training`]), for `plan`; `None` when the file is not TorchScript or no input size was
/// given (the plan then says what it needs).
pub fn measure_training_file(
    path: &Path,
    opts: &LoadOptions,
    batches: &[i64],
) -> Option<Result<crate::plan::TrainingRuns, SourceError>> {
    if opts.input_sizes.is_empty() || opts.seq_len.is_some() {
        return None;
    }
    // The step is measured in float32 and the plan scales it to its precision; a file run in another
    // floating type (half weights or inputs) keeps the forward-pass plan, which counts activations at
    // the plan's precision whatever dtype the run used.
    let float32 = |d: DType| !d.is_floating_point() || d == DType::Float32;
    if (0..opts.input_sizes.len()).any(|i| opts.dtype_of(i).is_some_and(|d| !float32(d))) {
        return None;
    }
    match read_file_with(path, opts) {
        Ok(summary)
            if summary.source == SourceKind::TorchScript
                && summary
                    .root
                    .walk()
                    .iter()
                    .flat_map(|(_, n)| n.parameters.iter())
                    .all(|p| float32(p.dtype)) => {}
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    }
    let exe = match crate::sandbox::child_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return Some(Err(SourceError::Sandbox {
                model: text::path(path),
                problem: format!("cannot find the tchinfo-torch binary: {e}"),
            }));
        }
    };
    let sandbox = jit_graph::Sandbox {
        exe,
        limits: opts.limits(),
    };
    Some(jit_graph::training::measure_training_sandboxed(
        path, opts, batches, &sandbox,
    ))
}

/// Opens a model file for reading, after making sure it is a regular file: a directory, a FIFO (whose
/// open would wait for a writer), a socket or a device is named as such without being opened (opening
/// a device can act on it). A missing file whose name is close to a built-in's gets a suggestion.
pub fn open_model_file(path: &Path) -> Result<std::fs::File, SourceError> {
    use std::os::unix::fs::OpenOptionsExt;
    let kind_error = |m: &std::fs::Metadata| {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        let what = if t.is_dir() {
            "is a directory, not a model file"
        } else if t.is_fifo() {
            "is a FIFO (named pipe), not a model file; tchinfo reads saved model files"
        } else if t.is_socket() {
            "is a socket, not a model file; tchinfo reads saved model files"
        } else if t.is_char_device() || t.is_block_device() {
            "is a device, not a model file; tchinfo reads saved model files"
        } else {
            return None;
        };
        Some(SourceError::format(path, what))
    };
    let io = |source: std::io::Error| match (source.kind(), path.to_str()) {
        (std::io::ErrorKind::NotFound, Some(name)) if !name.contains('/') => {
            SourceError::UnknownModel {
                name: text::escape(name).into_owned(),
                suggestion: builtins::suggest(name),
            }
        }
        (std::io::ErrorKind::NotFound, _) => SourceError::format(path, "no such file"),
        _ => SourceError::Io {
            path: path.to_path_buf(),
            source,
        },
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if let Some(e) = kind_error(&metadata) {
        return Err(e);
    }
    // Non-blocking, so that a FIFO swapped in after the check cannot hang the open; the second check
    // is on what was opened.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    match kind_error(&metadata) {
        Some(e) => Err(e),
        None => Ok(file),
    }
}

/// How `--batch-size` combines with a full input size (batch dimension first), for built-ins and
/// TorchScript alike: the batch, when given, replaces the first dimension, so that `plan` can vary the
/// batch of any input size.
pub fn apply_batch(size: &mut [i64], batch: Option<i64>) {
    if let (Some(batch), Some(first)) = (batch, size.first_mut()) {
        *first = batch;
    }
}

/// True when the summary came from a file that records its graph with shapes (`.pt2`, ONNX), so its
/// output shapes and operator counts come from the file, not from a forward pass.
pub fn records_shapes(summary: &ModelSummary) -> bool {
    matches!(
        summary.source,
        SourceKind::ExportedProgram | SourceKind::Onnx
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
    /// Element types of file inputs, one per input in order; a single one applies to every input;
    /// empty for float32.
    pub dtypes: Vec<DType>,
    /// Tokens per sequence for a built-in language model (default 128).
    pub seq_len: Option<i64>,
    /// Run a forward pass to measure output shapes (built-ins always can; files need `input_sizes`).
    pub forward: bool,
    /// Wall-time limit of a file's sandboxed forward pass (default [`crate::sandbox::DEFAULT_TIMEOUT`]).
    pub timeout: Option<std::time::Duration>,
    /// Memory limit of a file's sandboxed forward pass, in bytes (default: half of the machine's).
    pub max_memory: Option<u64>,
}

impl LoadOptions {
    /// The sandbox's limits for a file's forward pass.
    pub fn limits(&self) -> crate::sandbox::Limits {
        let defaults = crate::sandbox::Limits::default();
        crate::sandbox::Limits {
            timeout: self.timeout.unwrap_or(defaults.timeout),
            max_memory: self.max_memory.unwrap_or(defaults.max_memory),
        }
    }

    /// The dtype of input `i` (0-based): its own, or the one given for all; `None` for the default.
    pub fn dtype_of(&self, i: usize) -> Option<DType> {
        match self.dtypes.as_slice() {
            [] => None,
            [all] => Some(*all),
            several => several.get(i).copied(),
        }
    }

    /// Whether the dtypes fit the inputs: none, one for all, or one per `--input-size`.
    pub fn check_dtypes(&self) -> Result<(), String> {
        let (dtypes, sizes) = (self.dtypes.len(), self.input_sizes.len());
        if dtypes <= 1 || dtypes == sizes {
            return Ok(());
        }
        Err(format!(
            "--dtype was given {dtypes} times for {sizes} --input-size{}: give one for all inputs or \
             one per input, in order",
            if sizes == 1 { "" } else { "s" }
        ))
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
    /// A bare name that is both a built-in architecture and something in the working directory.
    Ambiguous { name: String },
    /// The file was read but is not a model this tool understands, or is truncated or corrupt.
    Format { path: PathBuf, problem: String },
    /// The input given for the forward pass cannot work with this model (wrong rank, too small …).
    Input { model: String, problem: String },
    /// The sandboxed forward pass failed as a process: a limit, a signal, a crash (see
    /// [`crate::sandbox`]).
    Sandbox { model: String, problem: String },
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
            SourceError::Ambiguous { name } => write!(
                f,
                "{name}: both a built-in architecture and a file in the working directory; write \
                 ./{name} for the file or {}{name} for the built-in",
                builtins::PREFIX
            ),
            SourceError::Io { path, source } => write!(f, "{}: {source}", text::path(path)),
            SourceError::Format { path, problem } => write!(f, "{}: {problem}", text::path(path)),
            SourceError::Input { model, problem } | SourceError::Sandbox { model, problem } => {
                write!(f, "{model}: {problem}")
            }
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_batch_replaces_the_first_dimension_only_when_given() {
        let mut size = [2, 3, 32, 32];
        super::apply_batch(&mut size, None);
        assert_eq!(size, [2, 3, 32, 32]);
        super::apply_batch(&mut size, Some(8));
        assert_eq!(size, [8, 3, 32, 32]);
        let mut empty: [i64; 0] = [];
        super::apply_batch(&mut empty, Some(8));
    }
}
