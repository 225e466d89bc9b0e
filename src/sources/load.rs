//! Resolving what the user named — a built-in architecture or a model file — into a summary.

use super::SourceError;
use crate::dtype::DType;
use crate::summary::ModelSummary;

/// What the user asked for, whatever the source.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Classes of the classifier, for built-in architectures (default: the architecture's own, 1000).
    pub num_classes: Option<i64>,
    /// One shape per forward input. For built-ins `C,H,W` (the batch comes from `batch_size`) or a full
    /// `N,C,H,W`; for files the full shape of each input.
    pub input_sizes: Vec<Vec<i64>>,
    pub batch_size: Option<i64>,
    /// Element type of file inputs (default float32).
    pub dtype: Option<DType>,
    /// Run a forward pass to measure output shapes (built-ins always can; files need `input_sizes`).
    pub forward: bool,
}

/// Loads `model`: a built-in name first, then a path.
pub fn load(model: &str, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
    let _ = opts;
    Err(SourceError::UnknownModel {
        name: model.to_string(),
        suggestion: None,
    })
}
