//! Element types of tensors, with their sizes in bytes.

use std::fmt;
use std::str::FromStr;

/// The element type of a tensor, named as PyTorch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Float64,
    Float32,
    Float16,
    BFloat16,
    Float8E4M3,
    Float8E5M2,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    Bool,
    Complex64,
    Complex128,
    QInt8,
    QUInt8,
    QInt32,
}

impl DType {
    pub fn bytes(self) -> u64 {
        use DType::*;
        match self {
            Float64 | Int64 | Complex64 => 8,
            Complex128 => 16,
            Float32 | Int32 | QInt32 => 4,
            Float16 | BFloat16 | Int16 => 2,
            Float8E4M3 | Float8E5M2 | Int8 | UInt8 | Bool | QInt8 | QUInt8 => 1,
        }
    }

    /// PyTorch's name, as `torch.float32` prints it without the prefix.
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Float64 => "float64",
            Float32 => "float32",
            Float16 => "float16",
            BFloat16 => "bfloat16",
            Float8E4M3 => "float8_e4m3fn",
            Float8E5M2 => "float8_e5m2",
            Int64 => "int64",
            Int32 => "int32",
            Int16 => "int16",
            Int8 => "int8",
            UInt8 => "uint8",
            Bool => "bool",
            Complex64 => "complex64",
            Complex128 => "complex128",
            QInt8 => "qint8",
            QUInt8 => "quint8",
            QInt32 => "qint32",
        }
    }

    pub fn is_floating_point(self) -> bool {
        use DType::*;
        matches!(
            self,
            Float64 | Float32 | Float16 | BFloat16 | Float8E4M3 | Float8E5M2
        )
    }

    /// The storage class name a TorchScript / `torch.save` archive uses (`FloatStorage`, `HalfStorage` …).
    pub fn from_storage_class(name: &str) -> Option<DType> {
        use DType::*;
        Some(match name {
            "DoubleStorage" => Float64,
            "FloatStorage" => Float32,
            "HalfStorage" => Float16,
            "BFloat16Storage" => BFloat16,
            "Float8_e4m3fnStorage" => Float8E4M3,
            "Float8_e5m2Storage" => Float8E5M2,
            "LongStorage" => Int64,
            "IntStorage" => Int32,
            "ShortStorage" => Int16,
            "CharStorage" => Int8,
            "ByteStorage" => UInt8,
            "BoolStorage" => Bool,
            "ComplexFloatStorage" => Complex64,
            "ComplexDoubleStorage" => Complex128,
            "QInt8Storage" => QInt8,
            "QUInt8Storage" => QUInt8,
            "QInt32Storage" => QInt32,
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = String;

    /// Accepts PyTorch names and the short forms people type: `f32`, `fp16`, `half`, `bf16`, `i8` …
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use DType::*;
        Ok(match s.to_ascii_lowercase().as_str() {
            "f64" | "fp64" | "float64" | "double" => Float64,
            "f32" | "fp32" | "float32" | "float" => Float32,
            "f16" | "fp16" | "float16" | "half" => Float16,
            "bf16" | "bfloat16" => BFloat16,
            "i64" | "int64" | "long" => Int64,
            "i32" | "int32" | "int" => Int32,
            "i16" | "int16" => Int16,
            "i8" | "int8" => Int8,
            "u8" | "uint8" => UInt8,
            _ => {
                return Err(format!(
                    "unknown dtype '{s}' (use f32, f16, bf16, f64 or i8)"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(DType::Float32.bytes(), 4);
        assert_eq!(DType::BFloat16.bytes(), 2);
        assert_eq!(DType::Int8.bytes(), 1);
        assert_eq!("bf16".parse::<DType>().unwrap(), DType::BFloat16);
        assert!("f128".parse::<DType>().is_err());
    }
}
