//! Conversions between tch's `Kind` and tchinfo's [`DType`]: the only place the two meet.

use crate::dtype::DType;

/// The dtype of a tch kind; `None` for kinds tchinfo does not name.
pub fn from_kind(kind: tch::Kind) -> Option<DType> {
    use tch::Kind as K;
    Some(match kind {
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
    })
}

/// The tch kind a tensor of this dtype is created with; `None` for dtypes tch 0.26 has no kind for
/// (the unsigned types wider than a byte, float8_e8m0fnu), which only the file reader meets.
pub fn to_kind(dtype: DType) -> Option<tch::Kind> {
    use tch::Kind as K;
    Some(match dtype {
        DType::Float64 => K::Double,
        DType::Float32 => K::Float,
        DType::Float16 => K::Half,
        DType::BFloat16 => K::BFloat16,
        DType::Float8E4M3 => K::Float8e4m3fn,
        DType::Float8E5M2 => K::Float8e5m2,
        DType::Int64 => K::Int64,
        DType::Int32 => K::Int,
        DType::Int16 => K::Int16,
        DType::Int8 => K::Int8,
        DType::UInt8 => K::Uint8,
        DType::Bool => K::Bool,
        DType::Complex64 => K::ComplexFloat,
        DType::Complex128 => K::ComplexDouble,
        DType::QInt8 => K::QInt8,
        DType::QUInt8 => K::QUInt8,
        DType::QInt32 => K::QInt32,
        DType::Float8E4M3Fnuz => K::Float8e4m3fnuz,
        DType::Float8E5M2Fnuz => K::Float8e5m2fnuz,
        DType::ComplexHalf => K::ComplexHalf,
        DType::UInt16 | DType::UInt32 | DType::UInt64 | DType::Float8E8M0 => return None,
    })
}
