//! ONNX models (`.onnx`) read without running them: initializers as parameters, a module tree from
//! the names exporters write, every module's output shapes where the file records them, and operator
//! mult-adds of convolutions, matrix products and attention from those shapes.
//!
//! - [`wire`] and [`proto`]: the protobuf, decoded by hand as a stream; the weights (`raw_data`) are
//!   skipped with a seek, external data files are never opened;
//! - [`scopes`]: module paths from node metadata (`pkg.torch.onnx.name_scopes`, torch's dynamo
//!   exporter) or node names (`/encoder/layer.0/attention/MatMul`, the TorchScript exporter and
//!   Hugging Face's), and parameters named by the module that uses them when the exporter left them
//!   anonymous (`onnx::MatMul_1234`, `val_12`);
//! - this file: the graph for [`crate::sources::graph`], each operator's cost through
//!   [`crate::op_macs`], and the notes that say what the file does not hold.

pub mod proto;
pub mod scopes;
pub mod wire;

use crate::dtype::DType;
use crate::op_macs::{self, Arg};
use crate::sources::SourceError;
use crate::sources::graph::symbols::{self, ModelInput, SizeRequest, Symbols};
use crate::sources::graph::tree::{self, Tensor};
use crate::sources::graph::{self, Cost, OpGraph, OpNode, tensor_value};
use crate::sources::torchscript::budget::TreeBudget;
use crate::summary::{ModelSummary, SourceKind, TensorValue};
use crate::units;
use proto::{Dim, Initializer, Model, Node, ValueInfo};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// True when the first bytes read as an ONNX `ModelProto` (its `ir_version` field, then another
/// field of the message), or the file is named `.onnx`.
pub fn looks_like_onnx(head: &[u8], path: &Path) -> bool {
    let named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    // 0x08: field 1 (ir_version) as a varint; a small version; then a known field's key.
    let content = match head {
        [0x08, version, next, ..] if (1..=32).contains(version) => {
            let (field, wt) = (next >> 3, next & 7);
            matches!(
                (field, wt),
                (2..=4, 2) | (5, 0) | (6..=8, 2) | (14, 2) | (20, 2) | (25, 2)
            )
        }
        _ => false,
    };
    content || named
}

pub fn read_file(path: &Path, request: &SizeRequest) -> Result<ModelSummary, SourceError> {
    let file = crate::sources::open_model_file(path)?;
    read_from(path, BufReader::new(file), request)
}

/// Reads an ONNX model from any seekable reader; `path` names it in the summary and in errors.
pub fn read_from<R: Read + Seek>(
    path: &Path,
    reader: R,
    request: &SizeRequest,
) -> Result<ModelSummary, SourceError> {
    let fail = |problem: String| SourceError::format(path, crate::sources::one_line(&problem));
    let model = proto::read_model(reader)
        .map_err(|e| fail(format!("not an ONNX model this reader can read: {e}")))?;
    summarize(crate::text::path(path), &model, request).map_err(fail)
}

/// ONNX `TensorProto.DataType` numbers; `None` for strings and the sub-byte types a summary cannot
/// hold (int4, uint4, float4).
pub fn data_type(code: i32) -> Option<DType> {
    use DType::*;
    Some(match code {
        1 => Float32,
        2 => UInt8,
        3 => Int8,
        4 => UInt16,
        5 => Int16,
        6 => Int32,
        7 => Int64,
        9 => Bool,
        10 => Float16,
        11 => Float64,
        12 => UInt32,
        13 => UInt64,
        14 => Complex64,
        15 => Complex128,
        16 => BFloat16,
        17 => Float8E4M3,
        18 => Float8E4M3Fnuz,
        19 => Float8E5M2,
        20 => Float8E5M2Fnuz,
        24 => Float8E8M0,
        _ => return None,
    })
}

fn summarize(name: String, model: &Model, request: &SizeRequest) -> Result<ModelSummary, String> {
    let g = model
        .graph
        .as_ref()
        .ok_or("an ONNX model without a graph")?;
    let mut notes = vec![about(model)];

    // What the file says about each value.
    let mut infos: HashMap<&str, &ValueInfo> = HashMap::new();
    for v in g.value_info.iter().chain(&g.inputs).chain(&g.outputs) {
        infos.entry(v.name.as_str()).or_insert(v);
    }
    let initializers: HashMap<&str, &Initializer> = g
        .initializers
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let model_inputs: Vec<&ValueInfo> = g
        .inputs
        .iter()
        .filter(|v| !initializers.contains_key(v.name.as_str()))
        .collect();
    let inputs: Vec<ModelInput> = model_inputs
        .iter()
        .map(|v| ModelInput {
            name: v.name.clone(),
            dims: v.dims.as_deref().map(dims).unwrap_or_default(),
        })
        .collect();
    let mut symbols = Symbols::bind(&inputs, request, &|_| (None, None), Some(1))?;

    // Module calls and the parameters the file holds.
    let mut budget = TreeBudget::default();
    let mut graph = OpGraph::default();
    let placed = scopes::place(g, &initializers, &mut graph, &mut budget)?;
    let params = scopes::parameters(g, &initializers, &graph, &placed)?;
    let ran: HashSet<&str> = graph.calls.iter().map(|c| c.path.as_str()).collect();
    let built = tree::module_tree(
        &placed.paths,
        &placed.types,
        &params.tensors,
        &|p| ran.contains(p),
        &mut budget,
    )?;
    let mut summary = ModelSummary::new(name, SourceKind::Onnx, built.root);
    summary.mark_tied(|full| params.keys.get(full).cloned());

    // Values and operators.
    let mut shapes: HashMap<&str, Option<TensorValue>> = HashMap::new();
    let mut shape_of = |name: &str, symbols: &mut Symbols| -> Result<Option<TensorValue>, String> {
        if let Some(v) = shapes.get(name) {
            return Ok(v.clone());
        }
        let value = value_shape(name, &infos, &initializers, symbols)?;
        if let Some((k, _)) = infos.get_key_value(name) {
            shapes.insert(k, value.clone());
        } else if let Some((k, _)) = initializers.get_key_value(name) {
            shapes.insert(k, value.clone());
        }
        Ok(value)
    };
    let functions: HashSet<(&str, &str)> = model
        .functions
        .iter()
        .map(|(d, n)| (d.as_str(), n.as_str()))
        .collect();
    // Attention the exporter decomposed into many nodes is counted once, as the PyTorch operator it
    // came from, from its query, key and value: the inner products' shapes are often not recorded.
    let mut attention: HashMap<String, bool> = HashMap::new();
    for (node, &call) in g.nodes.iter().zip(&placed.calls) {
        let mut ids = |names: &[String], graph: &mut OpGraph, symbols: &mut Symbols| {
            names
                .iter()
                .filter(|n| !n.is_empty())
                .map(|n| {
                    let id = graph.value(n);
                    if graph.values[id].tensor.is_none() {
                        graph.values[id].tensor = shape_of(n, symbols)?;
                    }
                    Ok(id)
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let inputs = ids(&node.inputs, &mut graph, &mut symbols)?;
        let outputs = ids(&node.outputs, &mut graph, &mut symbols)?;
        let shape = |i: usize, graph: &OpGraph, ids: &[usize]| {
            ids.get(i)
                .and_then(|&id| graph.values[id].tensor.as_ref())
                .map(|t| t.shape.clone())
        };
        let in_shapes: Vec<Option<Vec<u64>>> = (0..inputs.len())
            .map(|i| shape(i, &graph, &inputs))
            .collect();
        let out_shapes: Vec<Option<Vec<u64>>> = (0..outputs.len())
            .map(|i| shape(i, &graph, &outputs))
            .collect();
        let origin = node.fx_node.as_deref().and_then(fx_call);
        let from_attention = origin
            .as_ref()
            .filter(|(_, op, _)| is_attention(op))
            .map(|(fx, op, args)| match attention.get(fx) {
                Some(&counted) => Ok::<_, String>(counted.then_some(Cost::Free)),
                None => {
                    let mut qkv = Vec::new();
                    for a in args.iter().take(3) {
                        match shape_of(a, &mut symbols)? {
                            Some(v) => qkv.push(Arg::Tensor(v.shape)),
                            None => break,
                        }
                    }
                    let counted = op_macs::counted(op, &qkv);
                    attention.insert(fx.clone(), counted.is_some());
                    Ok(counted.map(Cost::Counted))
                }
            })
            .transpose()?
            .flatten();
        let cost = if functions.contains(&(node.domain.as_str(), node.op_type.as_str())) {
            Cost::Unknown(format!("function {}", op_name(node)))
        } else if let Some(c) = from_attention {
            c
        } else {
            cost(node, &in_shapes, &out_shapes)
        };
        graph.nodes.push(OpNode {
            call,
            inputs,
            outputs,
            cost,
        });
    }
    for v in &model_inputs {
        let id = graph.value(&v.name);
        graph.values[id].tensor = shape_of(&v.name, &mut symbols)?;
        graph.inputs.push(id);
    }
    for v in &g.outputs {
        let id = graph.value(&v.name);
        if graph.values[id].tensor.is_none() {
            graph.values[id].tensor = shape_of(&v.name, &mut symbols)?;
        }
        graph.outputs.push(id);
    }
    graph::attach(&mut summary, &graph);

    if let Some(note) = symbols.note.take() {
        notes.push(note);
    }
    let unshaped_inputs = graph
        .inputs
        .iter()
        .filter(|&&v| graph.values[v].tensor.is_none())
        .count();
    if unshaped_inputs > 0 {
        notes.push(format!(
            "{unshaped_inputs} of the model's inputs have no known shape (--input-size gives them one)"
        ));
    }
    if g.value_info.is_empty() && !g.nodes.is_empty() {
        notes.push(
            "the file records no shapes of intermediate values (its value_info is empty; onnx.shape_inference.infer_shapes adds them): \
             module output shapes and the operator mult-adds that need them are missing"
                .into(),
        );
    }
    notes.extend(params.notes);
    notes.extend(placed.notes);
    let guessed = (built.guessed_types + placed.guessed.len())
        .saturating_sub(usize::from(!placed.types.contains_key("")));
    if guessed > 0 {
        notes.push(format!(
            "the file records no class for {} module{}: guessed from the operators {} ran or {} tensors' names and shapes",
            units::thousands(guessed as u64),
            if guessed == 1 { "" } else { "s" },
            if guessed == 1 { "it" } else { "they" },
            if guessed == 1 { "its" } else { "their" },
        ));
    }
    let rules: BTreeSet<&str> = g
        .nodes
        .iter()
        .filter_map(|n| n.rewrite_rules.as_deref())
        .flat_map(|r| r.split(',').map(str::trim))
        .filter(|r| !r.is_empty())
        .collect();
    if rules.contains("FuseBatchNormIntoConv") {
        notes.push(
            "the exporter's optimizer folded BatchNorm layers into the convolutions before them (FuseBatchNormIntoConv): \
             their parameters are not in the file, and the convolutions' operators show under the BatchNorm"
                .into(),
        );
    }
    if g.sparse_initializers > 0 {
        notes.push(format!(
            "{} sparse initializer{} not counted",
            g.sparse_initializers,
            if g.sparse_initializers == 1 {
                " is"
            } else {
                "s are"
            }
        ));
    }
    summary.notes.splice(0..0, notes);
    Ok(summary)
}

/// The model's producer and opsets, as the first note.
fn about(model: &Model) -> String {
    let mut opsets: Vec<String> = model
        .opsets
        .iter()
        .map(|(domain, v)| {
            let d = if domain.is_empty() { "ai.onnx" } else { domain };
            format!("{d} {v}")
        })
        .collect();
    opsets.truncate(8);
    let producer = match (model.producer.as_str(), model.producer_version.as_str()) {
        ("", _) => "an unnamed producer".to_string(),
        (p, "") => p.to_string(),
        (p, v) => format!("{p} {v}"),
    };
    let ir = model
        .ir_version
        .map(|v| format!("IR version {v}, "))
        .unwrap_or_default();
    format!(
        "ONNX model by {producer}: {ir}opset {}",
        if opsets.is_empty() {
            "not given".to_string()
        } else {
            opsets.join(", ")
        }
    )
}

fn dims(d: &[Dim]) -> Vec<symbols::Dim> {
    d.iter()
        .map(|d| match d {
            Dim::Value(v) if *v >= 0 => symbols::Dim::Fixed(*v as u64),
            Dim::Param(p) if !p.is_empty() => symbols::Dim::Symbolic {
                text: p.clone(),
                hint: None,
            },
            _ => symbols::Dim::Unknown,
        })
        .collect()
}

/// A value's shape and dtype from `value_info`, the graph's inputs and outputs, or an initializer.
fn value_shape(
    name: &str,
    infos: &HashMap<&str, &ValueInfo>,
    initializers: &HashMap<&str, &Initializer>,
    symbols: &mut Symbols,
) -> Result<Option<TensorValue>, String> {
    if let Some(t) = initializers.get(name) {
        let Some(dtype) = data_type(t.data_type) else {
            return Ok(None);
        };
        let shape: Option<Vec<u64>> = t.dims.iter().map(|&d| u64::try_from(d).ok()).collect();
        return match shape {
            Some(s) => tensor_value(s, dtype)
                .map(Some)
                .map_err(|e| format!("{name}: {e}")),
            None => Err(format!("initializer {name} has a negative dimension")),
        };
    }
    let Some(v) = infos.get(name) else {
        return Ok(None);
    };
    let (Some(code), Some(d)) = (v.elem_type, v.dims.as_deref()) else {
        return Ok(None);
    };
    let Some(dtype) = data_type(code) else {
        return Ok(None);
    };
    match symbols.shape(&dims(d))? {
        Some(shape) => tensor_value(shape, dtype)
            .map(Some)
            .map_err(|e| format!("value {name}: {e}")),
        None => Ok(None),
    }
}

/// The PyTorch operator a node was translated from, from its `pkg.torch.onnx.fx_node` text: the FX
/// node's name, the operator (`aten::scaled_dot_product_attention`) and its arguments' names (empty
/// for arguments that are not values).
fn fx_call(text: &str) -> Option<(String, String, Vec<String>)> {
    let name = text
        .strip_prefix('%')?
        .split([' ', ':'])
        .next()?
        .to_string();
    let target = text.split("target=torch.ops.").nth(1)?.split(']').next()?;
    let mut parts = target.splitn(3, '.');
    let op = format!("{}::{}", parts.next()?, parts.next()?);
    let inside = text.split("args = (").nth(1)?;
    let (mut args, mut depth, mut item) = (Vec::new(), 0i32, String::new());
    for c in inside.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' if depth == 0 => break,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    args.push(item);
    let args = args
        .iter()
        .map(|a| a.trim().strip_prefix('%').unwrap_or("").to_string())
        .collect();
    Some((name, op, args))
}

fn is_attention(op: &str) -> bool {
    matches!(
        op,
        "aten::scaled_dot_product_attention"
            | "aten::_scaled_dot_product_flash_attention_for_cpu"
            | "aten::_scaled_dot_product_flash_attention"
            | "aten::_scaled_dot_product_efficient_attention"
            | "aten::_scaled_dot_product_cudnn_attention"
    )
}

/// `Conv`, or `com.microsoft::Attention` for another domain.
fn op_name(node: &Node) -> String {
    match node.domain.as_str() {
        "" | "ai.onnx" => node.op_type.clone(),
        d => format!("{d}::{}", node.op_type),
    }
}

/// Standard operators that multiply and accumulate, by name, whether or not a formula counts them.
fn does_mult_adds(op_type: &str) -> bool {
    [
        "MatMul",
        "Conv",
        "Gemm",
        "Attention",
        "Einsum",
        "LSTM",
        "GRU",
        "RNN",
    ]
    .iter()
    .any(|w| op_type.contains(w))
}

/// The operator's cost: the ONNX operator as the aten operator with the same arithmetic, its
/// shapes given as the counter takes them.
fn cost(node: &Node, inputs: &[Option<Vec<u64>>], outputs: &[Option<Vec<u64>>]) -> Cost {
    let name = op_name(node);
    if !matches!(node.domain.as_str(), "" | "ai.onnx") {
        return Cost::Unknown(name);
    }
    if node.has_subgraph() {
        return Cost::ControlFlow(name);
    }
    let t = |s: &Option<Vec<u64>>| s.clone().map_or(Arg::Other, Arg::Tensor);
    let input = |i: usize| inputs.get(i).cloned().flatten();
    let out = outputs.first().map_or(Arg::Other, t);
    let int_attr = |n: &str| node.attribute(n).and_then(|a| a.i);
    let (op, args): (&str, Vec<Arg>) = match node.op_type.as_str() {
        "Conv" => (
            "aten::conv2d",
            vec![
                Arg::Other,
                input(1).map_or(Arg::Other, Arg::Tensor),
                Arg::Other,
                out,
            ],
        ),
        "ConvTranspose" => (
            "aten::conv_transpose2d",
            vec![
                input(0).map_or(Arg::Other, Arg::Tensor),
                input(1).map_or(Arg::Other, Arg::Tensor),
            ],
        ),
        "MatMul" => (
            "aten::matmul",
            vec![
                input(0).map_or(Arg::Other, Arg::Tensor),
                input(1).map_or(Arg::Other, Arg::Tensor),
                out,
            ],
        ),
        "Gemm" => {
            let flip = |s: Option<Vec<u64>>, transposed: bool| {
                s.map_or(Arg::Other, |mut s| {
                    if transposed {
                        s.reverse();
                    }
                    Arg::Tensor(s)
                })
            };
            (
                "aten::mm",
                vec![
                    flip(input(0), int_attr("transA") == Some(1)),
                    flip(input(1), int_attr("transB") == Some(1)),
                    out,
                ],
            )
        }
        "Einsum" => {
            let operands: Option<Vec<Vec<u64>>> = inputs.iter().cloned().collect();
            match (
                node.attribute("equation").and_then(|a| a.s.clone()),
                operands,
            ) {
                (Some(eq), Some(ops)) => (
                    "aten::einsum",
                    vec![Arg::Str(eq), Arg::Tensors(ops), Arg::None, out],
                ),
                _ => return Cost::Unshaped(name),
            }
        }
        "Attention" => match attention_shapes(node, inputs) {
            Some([q, k, v]) => (
                "aten::scaled_dot_product_attention",
                vec![
                    Arg::Tensor(q),
                    Arg::Tensor(k),
                    Arg::Tensor(v),
                    Arg::None,
                    out,
                ],
            ),
            None => return Cost::Unshaped(name),
        },
        "LSTM" | "GRU" | "RNN" => match recurrent_weights(inputs) {
            Some(params) => (
                match node.op_type.as_str() {
                    "LSTM" => "aten::lstm",
                    "GRU" => "aten::gru",
                    _ => "aten::rnn_tanh",
                },
                vec![
                    input(0).map_or(Arg::Other, Arg::Tensor),
                    Arg::Other,
                    Arg::Tensors(params),
                ],
            ),
            None => return Cost::Unshaped(name),
        },
        other if does_mult_adds(other) => return Cost::Unknown(name),
        _ => return Cost::Free,
    };
    match op_macs::counted(op, &args) {
        Some(m) => Cost::Counted(m),
        None => Cost::Unshaped(name),
    }
}

/// Query, key and value as (batch, heads, length, width): the 4-D form as given, the 3-D form
/// (batch, length, heads × width) split by the `q_num_heads` / `kv_num_heads` attributes.
fn attention_shapes(node: &Node, inputs: &[Option<Vec<u64>>]) -> Option<[Vec<u64>; 3]> {
    let get = |i: usize| inputs.get(i).cloned().flatten();
    let (q, k, v) = (get(0)?, get(1)?, get(2)?);
    if q.len() == 4 && k.len() == 4 && v.len() == 4 {
        return Some([q, k, v]);
    }
    let heads = |n: &str| {
        node.attribute(n)
            .and_then(|a| a.i)
            .and_then(|h| u64::try_from(h).ok())
            .filter(|&h| h > 0)
    };
    let (hq, hkv) = (heads("q_num_heads")?, heads("kv_num_heads")?);
    let split = |s: &[u64], h: u64| -> Option<Vec<u64>> {
        match s {
            [b, l, width] if width % h == 0 => Some(vec![*b, h, *l, width / h]),
            _ => None,
        }
    };
    Some([split(&q, hq)?, split(&k, hkv)?, split(&v, hkv)?])
}

/// `W` (directions, gates × hidden, input) and `R` (directions, gates × hidden, hidden) as the
/// per-direction matrices a recurrent layer multiplies every step.
fn recurrent_weights(inputs: &[Option<Vec<u64>>]) -> Option<Vec<Vec<u64>>> {
    let w = inputs.get(1).cloned().flatten()?;
    let r = inputs.get(2).cloned().flatten()?;
    let ([dirs, gw, i], [_, gr, h]) = (w.as_slice(), r.as_slice()) else {
        return None;
    };
    let mut out = Vec::new();
    for _ in 0..(*dirs).min(2) {
        out.push(vec![*gw, *i]);
        out.push(vec![*gr, *h]);
    }
    Some(out)
}

/// The shapes of initializers used as parameters, for [`Tensor`]s.
fn tensor_of(name: String, t: &Initializer, dtype: DType, buffer: bool) -> Result<Tensor, String> {
    let shape: Vec<u64> = t
        .dims
        .iter()
        .map(|&d| {
            u64::try_from(d).map_err(|_| format!("initializer {} has a negative dimension", t.name))
        })
        .collect::<Result<_, _>>()?;
    let value = tensor_value(shape, dtype).map_err(|e| format!("initializer {}: {e}", t.name))?;
    Ok(Tensor {
        name,
        shape: value.shape,
        dtype,
        requires_grad: !buffer && dtype.is_floating_point(),
        buffer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_is_told_apart_from_other_files_by_content() {
        let p = Path::new("m.bin");
        assert!(looks_like_onnx(&[0x08, 0x0a, 0x12, 0x07], p));
        assert!(looks_like_onnx(&[0x08, 0x07, 0x3a, 0x80], p));
        // A safetensors header length of 264 bytes starts 08 01 00 …
        assert!(!looks_like_onnx(&[0x08, 0x01, 0x00, 0x00], p));
        assert!(!looks_like_onnx(b"PK\x03\x04", p));
        assert!(!looks_like_onnx(&[0x80, 0x02], p));
        assert!(looks_like_onnx(b"junk", Path::new("m.ONNX")));
    }

    #[test]
    fn the_pytorch_operator_behind_a_node() {
        let text = "%scaled_dot_product_attention : [num_users=1] = call_function[target=torch.ops.aten.\
                    scaled_dot_product_attention.default](args = (%view_4, %view_5, %view_6), kwargs = {})";
        let (name, op, args) = fx_call(text).unwrap();
        assert_eq!(name, "scaled_dot_product_attention");
        assert_eq!(op, "aten::scaled_dot_product_attention");
        assert_eq!(args, ["view_4", "view_5", "view_6"]);
        let (_, _, args) =
            fx_call("%x : [] = call_function[target=torch.ops.aten.cat.default](args = ([%a, %b], 1), kwargs = {})")
                .unwrap();
        assert_eq!(args, ["", ""]);
        assert!(fx_call("not an fx node").is_none());
    }

    #[test]
    fn attention_heads_split_the_width() {
        let node = Node {
            op_type: "Attention".into(),
            attributes: vec![
                proto::Attribute {
                    name: "q_num_heads".into(),
                    i: Some(4),
                    ..Default::default()
                },
                proto::Attribute {
                    name: "kv_num_heads".into(),
                    i: Some(2),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let shapes = [
            Some(vec![2, 8, 64]),
            Some(vec![2, 10, 32]),
            Some(vec![2, 10, 32]),
        ];
        assert_eq!(
            attention_shapes(&node, &shapes),
            Some([vec![2, 4, 8, 16], vec![2, 2, 10, 16], vec![2, 2, 10, 16]])
        );
        let c = cost(&node, &shapes, &[Some(vec![2, 8, 64])]);
        assert_eq!(c, Cost::Counted(2 * 2 * 4 * 8 * 10 * 16));
    }
}
