//! tch's `Kind` as tchinfo's [`DType`]: the only place the two meet.

use crate::dtype::DType;

/// The dtype of a tch kind. Every tch 0.26 kind has one (the match is exhaustive, so a kind a later
/// tch adds fails to compile here rather than being shown as something else).
pub fn from_kind(kind: tch::Kind) -> DType {
    use tch::Kind as K;
    match kind {
        K::Double => DType::Float64,
        K::Float => DType::Float32,
        K::Half => DType::Float16,
        K::BFloat16 => DType::BFloat16,
        K::Float8e4m3fn => DType::Float8E4M3,
        K::Float8e5m2 => DType::Float8E5M2,
        K::Float8e4m3fnuz => DType::Float8E4M3Fnuz,
        K::Float8e5m2fnuz => DType::Float8E5M2Fnuz,
        K::Int64 => DType::Int64,
        K::Int => DType::Int32,
        K::Int16 => DType::Int16,
        K::Int8 => DType::Int8,
        K::Uint8 => DType::UInt8,
        K::Bool => DType::Bool,
        K::ComplexHalf => DType::ComplexHalf,
        K::ComplexFloat => DType::Complex64,
        K::ComplexDouble => DType::Complex128,
        K::QInt8 => DType::QInt8,
        K::QUInt8 => DType::QUInt8,
        K::QInt32 => DType::QInt32,
    }
}
