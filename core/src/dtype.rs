//! Element types of tensors, with their sizes in bytes.

use std::fmt;
use std::str::FromStr;

/// Declares `DType` and `DType::ALL` from one list, so the list of every type cannot miss a variant.
macro_rules! dtypes {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// The element type of a tensor, named as PyTorch names it (the packed and block-quantized
        /// types of safetensors and GGUF as their own formats name them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types)]
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
    /// The OCP microscaling sub-byte floats safetensors stores (`F6_E2M3`, `F6_E3M2`, `F4`): 6 and 4
    /// bits an element, packed with no padding between elements.
    Float6E2M3,
    Float6E3M2,
    Float4E2M1,
    /// ggml's block-quantized types, as GGUF stores them: a block of a fixed number of elements in a
    /// fixed number of bytes (scales and quants together). Named as ggml names them.
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    IQ1_M,
    /// Q4_0 and IQ4_NL rows interleaved for ARM kernels: ggml dropped them in late 2024 (they are
    /// repacked at load time now), but files written with them were published.
    Q4_0_4_4,
    Q4_0_4_8,
    Q4_0_8_8,
    IQ4_NL_4_4,
    IQ4_NL_4_8,
    IQ4_NL_8_8,
    TQ1_0,
    TQ2_0,
    MXFP4,
    NVFP4,
    Q1_0,
    /// A type a file names that tchinfo does not know (a ggml type id newer than this reader): its
    /// elements are counted, its bytes are not (0), and the reader says so in a note.
    Unknown,
}

/// How a type lays its elements out: `elements` of them take `bytes` bytes, with no smaller unit.
/// Whole-byte types are blocks of one element; a 4-bit float is 2 elements in 1 byte; ggml's Q4_K is
/// 256 elements in 144 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packing {
    pub elements: u64,
    pub bytes: u64,
}

impl DType {
    /// Bytes of one element of a whole-byte type. Packed and block types have no whole size per
    /// element: this is their block's bytes over its elements, rounded up; a tensor's exact size is
    /// [`DType::bytes_for`].
    pub fn bytes(self) -> u64 {
        match self.packing() {
            Some(p) => p.bytes.div_ceil(p.elements),
            None => 0,
        }
    }

    /// The block this type is stored in; `None` for [`DType::Unknown`].
    pub fn packing(self) -> Option<Packing> {
        use DType::*;
        let (elements, bytes) = match self {
            Float64 | Int64 | UInt64 | Complex64 => (1, 8),
            Complex128 => (1, 16),
            Float32 | Int32 | UInt32 | QInt32 | ComplexHalf => (1, 4),
            Float16 | BFloat16 | Int16 | UInt16 => (1, 2),
            Float8E4M3 | Float8E5M2 | Float8E4M3Fnuz | Float8E5M2Fnuz | Float8E8M0 | Int8
            | UInt8 | Bool | QInt8 | QUInt8 => (1, 1),
            Float6E2M3 | Float6E3M2 => (4, 3),
            Float4E2M1 => (2, 1),
            // ggml's type traits (blck_size, type_size), as gguf-py's GGML_QUANT_SIZES lists them.
            Q4_0 | IQ4_NL | Q4_0_4_4 | Q4_0_4_8 | Q4_0_8_8 | IQ4_NL_4_4 | IQ4_NL_4_8
            | IQ4_NL_8_8 => (32, 18),
            Q4_1 => (32, 20),
            Q5_0 => (32, 22),
            Q5_1 => (32, 24),
            Q8_0 => (32, 34),
            Q8_1 => (32, 40),
            Q2_K => (256, 84),
            Q3_K => (256, 110),
            Q4_K => (256, 144),
            Q5_K => (256, 176),
            Q6_K => (256, 210),
            Q8_K => (256, 292),
            IQ2_XXS => (256, 66),
            IQ2_XS => (256, 74),
            IQ3_XXS => (256, 98),
            IQ1_S => (256, 50),
            IQ3_S => (256, 110),
            IQ2_S => (256, 82),
            IQ4_XS => (256, 136),
            IQ1_M => (256, 56),
            TQ1_0 => (256, 54),
            TQ2_0 => (256, 66),
            MXFP4 => (32, 17),
            NVFP4 => (64, 36),
            Q1_0 => (128, 18),
            Unknown => return None,
        };
        Some(Packing { elements, bytes })
    }

    /// The exact bytes of `numel` elements: whole blocks, the last one counted whole (readers refuse
    /// tensors that end inside a block, as the formats do). `None` on overflow or for
    /// [`DType::Unknown`].
    pub fn bytes_for(self, numel: u64) -> Option<u64> {
        let p = self.packing()?;
        numel.div_ceil(p.elements).checked_mul(p.bytes)
    }

    /// Quantized types: PyTorch's (`qint8` …) and ggml's blocks. Their tensors are weights, though
    /// not floating point, and cannot require gradients.
    pub fn is_quantized(self) -> bool {
        use DType::*;
        matches!(self, QInt8 | QUInt8 | QInt32) || self.is_ggml_block()
    }

    /// ggml's block-quantized types.
    pub fn is_ggml_block(self) -> bool {
        use DType::*;
        matches!(
            self,
            Q4_0 | Q4_1
                | Q5_0
                | Q5_1
                | Q8_0
                | Q8_1
                | Q2_K
                | Q3_K
                | Q4_K
                | Q5_K
                | Q6_K
                | Q8_K
                | IQ2_XXS
                | IQ2_XS
                | IQ3_XXS
                | IQ1_S
                | IQ4_NL
                | IQ3_S
                | IQ2_S
                | IQ4_XS
                | IQ1_M
                | Q4_0_4_4
                | Q4_0_4_8
                | Q4_0_8_8
                | IQ4_NL_4_4
                | IQ4_NL_4_8
                | IQ4_NL_8_8
                | TQ1_0
                | TQ2_0
                | MXFP4
                | NVFP4
                | Q1_0
        )
    }

    /// Types a parameter can have: floating point, complex and quantized ones (and a type the reader
    /// does not know, which only weight formats name). Integer and boolean tensors are buffers.
    pub fn holds_parameters(self) -> bool {
        use DType::*;
        self.is_floating_point()
            || self.is_quantized()
            || matches!(self, ComplexHalf | Complex64 | Complex128 | Unknown)
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
            Float6E2M3 => "float6_e2m3fn",
            Float6E3M2 => "float6_e3m2fn",
            Float4E2M1 => "float4_e2m1fn",
            Q4_0 => "Q4_0",
            Q4_1 => "Q4_1",
            Q5_0 => "Q5_0",
            Q5_1 => "Q5_1",
            Q8_0 => "Q8_0",
            Q8_1 => "Q8_1",
            Q2_K => "Q2_K",
            Q3_K => "Q3_K",
            Q4_K => "Q4_K",
            Q5_K => "Q5_K",
            Q6_K => "Q6_K",
            Q8_K => "Q8_K",
            IQ2_XXS => "IQ2_XXS",
            IQ2_XS => "IQ2_XS",
            IQ3_XXS => "IQ3_XXS",
            IQ1_S => "IQ1_S",
            IQ4_NL => "IQ4_NL",
            IQ3_S => "IQ3_S",
            IQ2_S => "IQ2_S",
            IQ4_XS => "IQ4_XS",
            IQ1_M => "IQ1_M",
            Q4_0_4_4 => "Q4_0_4_4",
            Q4_0_4_8 => "Q4_0_4_8",
            Q4_0_8_8 => "Q4_0_8_8",
            IQ4_NL_4_4 => "IQ4_NL_4_4",
            IQ4_NL_4_8 => "IQ4_NL_4_8",
            IQ4_NL_8_8 => "IQ4_NL_8_8",
            TQ1_0 => "TQ1_0",
            TQ2_0 => "TQ2_0",
            MXFP4 => "MXFP4",
            NVFP4 => "NVFP4",
            Q1_0 => "Q1_0",
            Unknown => "unknown",
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
                | Float6E2M3
                | Float6E3M2
                | Float4E2M1
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
        assert_eq!(DType::ALL.len(), 24 + 3 + 32 + 1);
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

    #[test]
    fn packed_and_block_types_have_exact_sizes() {
        // safetensors: 6 bits and 4 bits an element, packed.
        assert_eq!(DType::Float6E2M3.bytes_for(4), Some(3));
        assert_eq!(DType::Float6E3M2.bytes_for(1024), Some(768));
        assert_eq!(DType::Float4E2M1.bytes_for(10), Some(5));
        // ggml: whole blocks (gguf-py's GGML_QUANT_SIZES).
        assert_eq!(
            DType::Q4_0.bytes_for(4096 * 4096),
            Some(4096 * 4096 / 32 * 18)
        );
        assert_eq!(DType::Q4_K.bytes_for(256), Some(144));
        assert_eq!(DType::Q6_K.bytes_for(512), Some(420));
        assert_eq!(DType::MXFP4.bytes_for(64), Some(34));
        assert_eq!(DType::Float32.bytes_for(3), Some(12));
        assert_eq!(DType::Unknown.bytes_for(3), None);
        assert_eq!(DType::Float64.bytes_for(u64::MAX), None);
        assert!(DType::Q4_0.is_ggml_block() && DType::Q1_0.is_ggml_block());
        assert!(!DType::Float4E2M1.is_ggml_block() && !DType::Unknown.is_ggml_block());
        assert!(DType::Q8_0.holds_parameters() && DType::QInt8.holds_parameters());
        assert!(!DType::Int64.holds_parameters() && !DType::Bool.holds_parameters());
        // Names are unique: JSON and tables key dtypes by them.
        let mut names: Vec<&str> = DType::ALL.iter().map(|d| d.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DType::ALL.len());
    }
}
