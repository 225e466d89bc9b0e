//! Element types of tensors, with their sizes in bytes.

use std::fmt;
use std::str::FromStr;

/// Declares `DType` and `DType::ALL` from one list, so the list of every type cannot miss a variant.
macro_rules! dtypes {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// The element type of a tensor, named as PyTorch names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DType {
            $($(#[$doc])* $name,)*
        }

        impl DType {
            /// Every element type, in declaration order: for lookups by another naming scheme
            /// (libtorch's).
            pub const ALL: &[DType] = &[$(DType::$name,)*];
        }
    };
}

dtypes! {
    Float64,
    Float32,
    Float16,
    BFloat16,
    Float8E4M3,
    Float8E5M2,
    /// The AMD-style float8 variants (no infinities, negative zero is NaN).
    Float8E4M3Fnuz,
    Float8E5M2Fnuz,
    /// The exponent-only scale type of MX formats.
    Float8E8M0,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Bool,
    /// Two float16 values (`torch.complex32`, also called `chalf`).
    ComplexHalf,
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
            Float64 | Int64 | UInt64 | Complex64 => 8,
            Complex128 => 16,
            Float32 | Int32 | UInt32 | QInt32 | ComplexHalf => 4,
            Float16 | BFloat16 | Int16 | UInt16 => 2,
            Float8E4M3 | Float8E5M2 | Float8E4M3Fnuz | Float8E5M2Fnuz | Float8E8M0 | Int8
            | UInt8 | Bool | QInt8 | QUInt8 => 1,
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
            Float8E4M3Fnuz => "float8_e4m3fnuz",
            Float8E5M2Fnuz => "float8_e5m2fnuz",
            Float8E8M0 => "float8_e8m0fnu",
            Int64 => "int64",
            Int32 => "int32",
            Int16 => "int16",
            Int8 => "int8",
            UInt8 => "uint8",
            UInt16 => "uint16",
            UInt32 => "uint32",
            UInt64 => "uint64",
            Bool => "bool",
            ComplexHalf => "complex32",
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
            Float64
                | Float32
                | Float16
                | BFloat16
                | Float8E4M3
                | Float8E5M2
                | Float8E4M3Fnuz
                | Float8E5M2Fnuz
                | Float8E8M0
        )
    }

    /// The storage class name a TorchScript / `torch.save` archive uses (`FloatStorage`, `HalfStorage` …).
    /// The TorchScript writer spells the newer ones from c10's scalar type names (`UInt16Storage`,
    /// `Float8_e4m3fnuzStorage`); bit-packed and sub-byte types are not named, so such files are refused.
    pub fn from_storage_class(name: &str) -> Option<DType> {
        use DType::*;
        Some(match name {
            "DoubleStorage" => Float64,
            "FloatStorage" => Float32,
            "HalfStorage" => Float16,
            "BFloat16Storage" => BFloat16,
            "Float8_e4m3fnStorage" => Float8E4M3,
            "Float8_e5m2Storage" => Float8E5M2,
            "Float8_e4m3fnuzStorage" => Float8E4M3Fnuz,
            "Float8_e5m2fnuzStorage" => Float8E5M2Fnuz,
            "Float8_e8m0fnuStorage" => Float8E8M0,
            "LongStorage" => Int64,
            "IntStorage" => Int32,
            "ShortStorage" => Int16,
            "CharStorage" => Int8,
            "ByteStorage" => UInt8,
            "UInt16Storage" => UInt16,
            "UInt32Storage" => UInt32,
            "UInt64Storage" => UInt64,
            "ComplexHalfStorage" => ComplexHalf,
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
            "bool" | "b8" => Bool,
            _ => {
                // Every name above, so the hint is true wherever a dtype is typed; a command that takes
                // fewer (linear) says its own list.
                return Err(format!(
                    "unknown dtype '{s}' (use f32, f16, bf16, f64, i64, i32, i16, i8, u8 or bool)"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_type_once() {
        assert_eq!(DType::ALL.len(), 24);
        for &d in DType::ALL {
            assert_eq!(DType::ALL.iter().filter(|&&a| a == d).count(), 1, "{d:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(DType::Float32.bytes(), 4);
        assert_eq!(DType::BFloat16.bytes(), 2);
        assert_eq!(DType::Int8.bytes(), 1);
        assert_eq!("bf16".parse::<DType>().unwrap(), DType::BFloat16);
        assert!("f128".parse::<DType>().is_err());
        // The hint names only what parses, and all of it.
        let hint = "f128".parse::<DType>().unwrap_err();
        let listed = hint.split_once("(use ").unwrap().1.trim_end_matches(')');
        let listed: Vec<&str> = listed
            .split([',', ' '])
            .filter(|w| !w.is_empty() && *w != "or")
            .collect();
        assert_eq!(listed.len(), 10, "{hint}");
        for name in listed {
            assert!(name.parse::<DType>().is_ok(), "{name} in {hint}");
        }
        // As torch.empty(0, dtype=…).element_size() says in PyTorch 2.13.
        assert_eq!(DType::UInt16.bytes(), 2);
        assert_eq!(DType::UInt32.bytes(), 4);
        assert_eq!(DType::UInt64.bytes(), 8);
        assert_eq!(DType::ComplexHalf.bytes(), 4);
        assert_eq!(DType::Float8E4M3Fnuz.bytes(), 1);
        assert_eq!(DType::Float8E8M0.bytes(), 1);
    }
}
