//! Forward passes through TorchScript graphs: the measurement itself lives in `tchinfo-core`
//! ([`tchinfo_core::sources::jit_graph`], re-exported here); this module adds the C++ shim that runs
//! it ([`ffi`]), in this process.
//!
//! Running a file's `forward` runs code from the file. The command line never does it in-process: it
//! runs [`run_shim`] in a sandboxed child ([`tchinfo_core::sandbox`]). [`measure`] and
//! [`measure_into`] run it here, for library users measuring files they trust.

mod ffi;

pub use tchinfo_core::sources::jit_graph::*;

use crate::sources::{LoadOptions, SourceError};
use crate::summary::ModelSummary;
use std::path::Path;

/// The shim's text for `request` on the file at `path`, in this process: what the sandboxed child runs
/// once confined. Failures of the call itself become an `internal` error line.
pub fn run_shim(path: &Path, request: &str) -> String {
    ffi::measure(path, request).unwrap_or_else(|message| {
        format!(
            "error\tinternal\t{}\n",
            message
                .replace('\\', "\\\\")
                .replace('\t', "\\t")
                .replace('\n', "\\n")
        )
    })
}

/// Runs `forward` of the TorchScript file at `path` once on `inputs` **in this process** and measures
/// every module. The file's code runs with this process's rights: for files you trust.
pub fn measure(path: &Path, inputs: &[InputSpec]) -> Result<Measurement, SourceError> {
    measure_with(path, inputs, |path, request| {
        ffi::measure(path, request).map_err(|message| shim_error(&crate::text::path(path), message))
    })
}

/// [`measure`] on the inputs `opts` asks for, attached to `summary` (see [`apply`]); in this process.
pub fn measure_into(
    summary: &mut ModelSummary,
    path: &Path,
    opts: &LoadOptions,
) -> Result<(), SourceError> {
    let measurement = measure(path, &input_specs(opts))
        .map_err(|e| explain_optimized_for_inference(summary, e))?;
    apply(summary, &measurement);
    Ok(())
}
