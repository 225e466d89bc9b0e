//! The text the C++ shim reads and writes; the format is described at the top of
//! src/shim/jit_graph.cpp. Lines are tab-separated; strings escape backslash, tab and newline.

use super::InputSpec;
use crate::dtype::DType;
use crate::summary::TensorValue;

/// c10's name for a dtype (`Float`, `Long` …), which is how the shim spells it; `None` for the
/// types only weight files store (safetensors' sub-byte floats, ggml's blocks), which c10 has no
/// scalar type for.
pub(crate) fn c10_name(dtype: DType) -> Option<&'static str> {
    use DType::*;
    Some(match dtype {
        Float64 => "Double",
        Float32 => "Float",
        Float16 => "Half",
        BFloat16 => "BFloat16",
        Float8E4M3 => "Float8_e4m3fn",
        Float8E5M2 => "Float8_e5m2",
        Float8E4M3Fnuz => "Float8_e4m3fnuz",
        Float8E5M2Fnuz => "Float8_e5m2fnuz",
        Float8E8M0 => "Float8_e8m0fnu",
        Int64 => "Long",
        Int32 => "Int",
        Int16 => "Short",
        Int8 => "Char",
        UInt8 => "Byte",
        UInt16 => "UInt16",
        UInt32 => "UInt32",
        UInt64 => "UInt64",
        Bool => "Bool",
        ComplexHalf => "ComplexHalf",
        Complex64 => "ComplexFloat",
        Complex128 => "ComplexDouble",
        QInt8 => "QInt8",
        QUInt8 => "QUInt8",
        QInt32 => "QInt32",
        Float6E2M3 | Float6E3M2 | Float4E2M1 | Unknown => return None,
        ggml => {
            debug_assert!(ggml.is_ggml_block(), "{ggml:?} needs its c10 name here");
            return None;
        }
    })
}

/// The dtype c10 calls `name`; `None` for the few c10 types tchinfo has no name for (Bits8, QUInt4x2 …).
pub(crate) fn from_c10_name(name: &str) -> Option<DType> {
    DType::ALL
        .iter()
        .copied()
        .find(|d| c10_name(*d) == Some(name))
}

/// What a forward pass is asked to watch besides module calls.
pub(crate) struct Watch<'a> {
    /// Operators whose runtime arguments to report, to count their mult-adds.
    pub counted: &'a [&'a str],
    /// Operators (or prefixes ending in `*`) whose runs to tally when they are not counted.
    pub tallied: &'a [&'a str],
    /// Operators whose output size may depend on tensor values.
    pub value_dependent: &'a [&'a str],
}

/// The request: the inputs to build, then the operators to count, tally and watch.
pub(crate) fn request(inputs: &[InputSpec], watch: &Watch) -> String {
    let mut text = String::new();
    for input in inputs {
        let dims: Vec<String> = input.shape.iter().map(i64::to_string).collect();
        // Inputs take the dtypes `--dtype` parses, all c10 types; the shim refuses any other name.
        let dtype = c10_name(input.dtype).unwrap_or("Undefined");
        text += &format!("input\t{dtype}\t{}\n", dims.join(","));
    }
    for op in watch.counted {
        text += &format!("count\t{op}\n");
    }
    for op in watch.tallied {
        text += &format!("tally\t{op}\n");
    }
    for op in watch.value_dependent {
        text += &format!("dynamic\t{op}\n");
    }
    text
}

/// How the shim filled an integer or boolean input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fill {
    /// Token ids 1, 2, … rows − 1 in turn, in range of the Embedding at `embedding` that reads them.
    Ids {
        rows: u64,
        embedding: String,
    },
    Ones,
    Zeros,
}

pub(crate) use crate::op_macs::Arg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// libtorch could not load the file as TorchScript.
    Load,
    /// The inputs do not fit forward's signature.
    Input,
    /// libtorch could not make an input tensor of the requested shape and dtype.
    MakeInput,
    /// forward raised while running on the inputs.
    Run,
    /// Anything else: a bug in the shim or an unexpected graph.
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Line {
    Schema(String),
    /// A warning libtorch raised while loading or running (each distinct message once, the first
    /// ten distinct messages only).
    Warning(String),
    /// How many more distinct warnings there were after those ten.
    MoreWarnings(u64),
    Edge {
        from: String,
        to: String,
        only_consumer: bool,
    },
    Call {
        path: String,
        outputs: Vec<TensorValue>,
    },
    Op {
        path: String,
        op: String,
        args: Vec<Arg>,
    },
    /// A tallied operator (not counted) ran `count` times in the code of the module at `path`.
    Ran {
        path: String,
        op: String,
        count: u64,
    },
    /// An operator whose output size depended on tensor values ran in the module at `path`.
    Dynamic {
        path: String,
        op: String,
    },
    /// How input number `input` (1-based) was filled.
    Filled {
        input: usize,
        fill: Fill,
    },
    Error {
        kind: ErrorKind,
        message: String,
        running: Option<String>,
    },
    /// A training step measured at `batch` (see `train` in [`request`]'s caller): bytes held for
    /// backward after the forward, the peak during backward, the gradients' bytes, and the shape of the
    /// output the loss was taken from.
    Step {
        batch: u64,
        held: u64,
        peak: u64,
        gradients: u64,
        output: Vec<u64>,
    },
    /// The training step at `batch` failed (forward or backward raised).
    StepError {
        batch: u64,
        message: String,
    },
    /// At `batch`, no floating output required grad: nothing trainable reaches the output.
    NoGrad {
        batch: u64,
    },
}

/// Parses the shim's answer; `Err` names the first line that does not follow the format.
pub(crate) fn parse(text: &str) -> Result<Vec<Line>, String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            parse_line(l).ok_or_else(|| format!("unreadable line from the TorchScript shim: {l:?}"))
        })
        .collect()
}

fn parse_line(line: &str) -> Option<Line> {
    let fields: Vec<String> = line.split('\t').map(unescape).collect();
    let (tag, rest) = fields.split_first()?;
    Some(match (tag.as_str(), rest) {
        ("schema", [s]) => Line::Schema(s.clone()),
        ("warning", [message]) => Line::Warning(message.clone()),
        ("more_warnings", [count]) => Line::MoreWarnings(count.parse().ok()?),
        ("edge", [from, to, only]) => Line::Edge {
            from: from.clone(),
            to: to.clone(),
            only_consumer: only == "1",
        },
        ("call", [path, tensors @ ..]) => Line::Call {
            path: path.clone(),
            // A dtype tchinfo cannot name is left out rather than guessed.
            outputs: tensors
                .iter()
                .map(|t| tensor(t))
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect(),
        },
        ("op", [path, op, args @ ..]) => Line::Op {
            path: path.clone(),
            op: op.clone(),
            args: args.iter().map(|a| arg(a)).collect::<Option<_>>()?,
        },
        ("ran", [path, op, count]) => Line::Ran {
            path: path.clone(),
            op: op.clone(),
            count: count.parse().ok()?,
        },
        ("dynamic", [path, op]) => Line::Dynamic {
            path: path.clone(),
            op: op.clone(),
        },
        ("filled", [input, kind, rest @ ..]) => Line::Filled {
            input: input.parse().ok()?,
            fill: match (kind.as_str(), rest) {
                ("ids", [rows, embedding]) => Fill::Ids {
                    rows: rows.parse().ok()?,
                    embedding: embedding.clone(),
                },
                ("ones", []) => Fill::Ones,
                ("zeros", []) => Fill::Zeros,
                _ => return None,
            },
        },
        ("error", [kind, message, running @ ..]) => Line::Error {
            kind: match kind.as_str() {
                "load" => ErrorKind::Load,
                "input" => ErrorKind::Input,
                "make_input" => ErrorKind::MakeInput,
                "run" => ErrorKind::Run,
                _ => ErrorKind::Internal,
            },
            message: message.clone(),
            running: running.first().cloned(),
        },
        ("step", [batch, held, peak, gradients, output]) => Line::Step {
            batch: batch.parse().ok()?,
            held: held.parse().ok()?,
            peak: peak.parse().ok()?,
            gradients: gradients.parse().ok()?,
            output: dims_of(output.split_once(':')?.1)?,
        },
        ("step_error", [batch, message]) => Line::StepError {
            batch: batch.parse().ok()?,
            message: message.clone(),
        },
        ("no_grad", [batch]) => Line::NoGrad {
            batch: batch.parse().ok()?,
        },
        _ => return None,
    })
}

/// The request for training steps at `batches` on `inputs` (each input's first dimension replaced by
/// the batch): the inputs, then one `train` line.
pub(crate) fn training_request(inputs: &[InputSpec], batches: &[u64]) -> String {
    let watch = Watch {
        counted: &[],
        tallied: &[],
        value_dependent: &[],
    };
    let list: Vec<String> = batches.iter().map(u64::to_string).collect();
    format!("{}train\t{}\n", request(inputs, &watch), list.join(","))
}

/// `Float:1,3,224,224` → a tensor value; `Some(None)` for a dtype tchinfo has no name for.
fn tensor(text: &str) -> Option<Option<TensorValue>> {
    let (dtype, dims) = text.split_once(':')?;
    let shape = dims_of(dims)?;
    Some(from_c10_name(dtype).map(|dtype| TensorValue { shape, dtype }))
}

fn dims_of(text: &str) -> Option<Vec<u64>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(|d| d.parse().ok()).collect()
}

fn arg(text: &str) -> Option<Arg> {
    let mut chars = text.chars();
    let tag = chars.next()?;
    let body = chars.as_str();
    Some(match tag {
        'T' => Arg::Tensor(dims_of(body.split_once(':')?.1)?),
        'I' => Arg::Int(body.parse().ok()?),
        'F' => Arg::Float(body.parse().ok()?),
        'B' => Arg::Bool(body == "1"),
        'N' => Arg::None,
        'S' => Arg::Str(body.to_string()),
        'L' if body.is_empty() => Arg::Ints(Vec::new()),
        'L' => Arg::Ints(
            body.split(',')
                .map(|d| d.parse().ok())
                .collect::<Option<_>>()?,
        ),
        'Y' if body.is_empty() => Arg::Tensors(Vec::new()),
        'Y' => Arg::Tensors(
            body.split(';')
                .map(|t| dims_of(t.split_once(':')?.1))
                .collect::<Option<_>>()?,
        ),
        '?' => Arg::Other,
        _ => return None,
    })
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c10_names_round_trip() {
        for &d in DType::ALL {
            if let Some(name) = c10_name(d) {
                assert_eq!(from_c10_name(name), Some(d));
            }
        }
        assert_eq!(c10_name(DType::Q4_K), None);
        assert_eq!(from_c10_name("Bits8"), None);
    }

    #[test]
    fn reads_every_kind_of_line() {
        let text = "schema\tforward(Tensor x) -> Tensor\n\
                    edge\tconv1\tbn1\t1\n\
                    call\tlayer1.0\tFloat:1,64,56,56\tLong:\n\
                    op\tfc\taten::linear\tTFloat:2,512\tTFloat:10,512\tN\tTFloat:2,10\n\
                    op\t\taten::einsum\tSij,jk->ik\tYFloat:2,3;Float:3,4\tN\tL1,2\tB0\tI3\tF0.5\t?Device\n\
                    error\trun\tExpected 4D input\\nsecond line\tfeatures.0\n\
                    more_warnings\t3\n\
                    error\tmake_input\tunsupported\t2\n\
                    ran\tblocks.0\taten::tensordot\t4\n\
                    dynamic\thead\taten::nonzero\n\
                    filled\t1\tids\t100\tmodel.embed_tokens\n\
                    filled\t2\tones\n";
        let lines = parse(text).unwrap();
        assert_eq!(lines[0], Line::Schema("forward(Tensor x) -> Tensor".into()));
        assert_eq!(
            lines[1],
            Line::Edge {
                from: "conv1".into(),
                to: "bn1".into(),
                only_consumer: true
            }
        );
        assert_eq!(
            lines[2],
            Line::Call {
                path: "layer1.0".into(),
                outputs: vec![
                    TensorValue {
                        shape: vec![1, 64, 56, 56],
                        dtype: DType::Float32
                    },
                    TensorValue {
                        shape: vec![],
                        dtype: DType::Int64
                    },
                ],
            }
        );
        let Line::Op { path, args, .. } = &lines[4] else {
            panic!("an op line")
        };
        assert_eq!(path, "");
        assert_eq!(
            args,
            &vec![
                Arg::Str("ij,jk->ik".into()),
                Arg::Tensors(vec![vec![2, 3], vec![3, 4]]),
                Arg::None,
                Arg::Ints(vec![1, 2]),
                Arg::Bool(false),
                Arg::Int(3),
                Arg::Float(0.5),
                Arg::Other,
            ]
        );
        assert_eq!(
            lines[5],
            Line::Error {
                kind: ErrorKind::Run,
                message: "Expected 4D input\nsecond line".into(),
                running: Some("features.0".into()),
            }
        );
        assert_eq!(lines[6], Line::MoreWarnings(3));
        assert_eq!(
            lines[7],
            Line::Error {
                kind: ErrorKind::MakeInput,
                message: "unsupported".into(),
                running: Some("2".into()),
            }
        );
        assert_eq!(
            lines[8],
            Line::Ran {
                path: "blocks.0".into(),
                op: "aten::tensordot".into(),
                count: 4
            }
        );
        assert_eq!(
            lines[9],
            Line::Dynamic {
                path: "head".into(),
                op: "aten::nonzero".into()
            }
        );
        assert_eq!(
            lines[10],
            Line::Filled {
                input: 1,
                fill: Fill::Ids {
                    rows: 100,
                    embedding: "model.embed_tokens".into()
                }
            }
        );
        assert_eq!(
            lines[11],
            Line::Filled {
                input: 2,
                fill: Fill::Ones
            }
        );
    }

    #[test]
    fn rejects_a_malformed_line() {
        assert!(parse("call\tx\tFloat:1,a\n").is_err());
        assert!(parse("bogus\n").is_err());
        assert!(parse("more_warnings\tmany\n").is_err());
        assert!(parse("filled\t1\tids\n").is_err());
        assert!(parse("ran\tx\taten::mm\tmany\n").is_err());
    }

    #[test]
    fn builds_the_request() {
        let inputs = [InputSpec {
            shape: vec![1, 3, 32, 32],
            dtype: DType::Float32,
        }];
        let watch = Watch {
            counted: &["aten::linear"],
            tallied: &["quantized::*"],
            value_dependent: &["aten::nonzero"],
        };
        assert_eq!(
            request(&inputs, &watch),
            "input\tFloat\t1,3,32,32\ncount\taten::linear\ntally\tquantized::*\n\
             dynamic\taten::nonzero\n"
        );
    }
}
