//! ONNX models (placeholder while the reader is written).
use crate::sources::SourceError;
use crate::sources::graph::symbols::SizeRequest;
use crate::summary::ModelSummary;
use std::io::{Read, Seek};
use std::path::Path;

pub fn looks_like_onnx(_head: &[u8], _path: &Path) -> bool {
    false
}

pub fn read_from<R: Read + Seek>(
    path: &Path,
    _reader: R,
    _request: &SizeRequest,
) -> Result<ModelSummary, SourceError> {
    Err(SourceError::format(path, "ONNX is not read yet"))
}
