//! The few ONNX messages (`onnx.proto`) this reader needs, decoded by hand from the wire format: the
//! model's producer and opsets, the graph's nodes, initializers (dims, type, where the data lives —
//! never the data), inputs, outputs and `value_info` shapes. Subgraphs (`If`/`Loop` bodies) and
//! everything else are skipped. Each list is bounded.
//!
//! Field numbers, from onnx.proto3:
//! - ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8,
//!   functions 25;
//! - GraphProto: node 1, initializer 5, input 11, output 12, value_info 13, sparse_initializer 15;
//! - NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7, metadata_props 9;
//! - AttributeProto: name 1, i 3, s 4, g 6, ints 8, graphs 11;
//! - TensorProto: dims 1, data_type 2, name 8, raw_data 9, external_data 13, data_location 14;
//! - ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → elem_type 1, shape 2 → dim 1 →
//!   dim_value 1 | dim_param 2.

use super::wire::{LEN, VARINT, Wire};
use std::io::{Read, Seek};

/// Bounds on what one file may make the reader keep.
pub const MAX_NAME_BYTES: u64 = 1 << 20;
pub const MAX_TEXT_BYTES: u64 = 256 << 20;
pub const MAX_NODES: usize = 1 << 21;
pub const MAX_TENSORS: usize = 1 << 22;
pub const MAX_VALUES: usize = 1 << 22;
pub const MAX_NODE_IO: usize = 1 << 16;
pub const MAX_DIMS: usize = crate::sources::graph::MAX_DIMS;
/// Integer lists of attributes are kept up to this length (kernel shapes, permutations).
const MAX_ATTR_INTS: usize = 64;
/// Metadata values kept (module scopes and classes); longer ones are skipped.
const MAX_METADATA_BYTES: u64 = 64 << 10;

#[derive(Debug, Default)]
pub struct Model {
    pub ir_version: Option<i64>,
    pub producer: String,
    pub producer_version: String,
    /// (domain, version); the default domain is `""` (ai.onnx).
    pub opsets: Vec<(String, i64)>,
    pub graph: Option<Graph>,
    /// Model-local functions by (domain, name): nodes calling them are not expanded.
    pub functions: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Initializer>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    pub value_info: Vec<ValueInfo>,
    pub sparse_initializers: usize,
}

#[derive(Debug, Default)]
pub struct Node {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub attributes: Vec<Attribute>,
    /// `pkg.torch.onnx.name_scopes`: the module path of every enclosing module, as a Python list.
    pub name_scopes: Option<String>,
    /// `pkg.torch.onnx.class_hierarchy`: their classes, in the same order.
    pub class_hierarchy: Option<String>,
    /// `pkg.onnxscript.rewriter.rule_name`: the optimizer rules that made this node.
    pub rewrite_rules: Option<String>,
    /// `pkg.torch.onnx.fx_node`: the PyTorch operator this node was translated from, with its
    /// arguments (`%sdpa : … = call_function[target=torch.ops.aten.….default](args = (%q, %k, %v), …)`).
    pub fx_node: Option<String>,
}

#[derive(Debug, Default)]
pub struct Attribute {
    pub name: String,
    pub i: Option<i64>,
    pub s: Option<String>,
    pub ints: Vec<i64>,
    /// The attribute holds a subgraph (`If`, `Loop`, `Scan` bodies).
    pub has_graph: bool,
}

impl Node {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn has_subgraph(&self) -> bool {
        self.attributes.iter().any(|a| a.has_graph)
    }
}

#[derive(Debug, Default)]
pub struct Initializer {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    /// `data_location` is EXTERNAL: the bytes live in another file.
    pub external: bool,
    /// That file, as the model names it (`external_data` key `location`).
    pub location: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct ValueInfo {
    pub name: String,
    /// The tensor's element type, when the value is a tensor and the file says.
    pub elem_type: Option<i32>,
    /// Its dimensions; `None` when the file records no shape.
    pub dims: Option<Vec<Dim>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    Value(i64),
    Param(String),
    Unknown,
}

/// Decodes the model at the reader's start.
pub fn read_model<R: Read + Seek>(reader: R) -> Result<Model, String> {
    let mut w =
        Wire::new(reader, MAX_TEXT_BYTES).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut m = Model::default();
    w.top(|w, field, wt| {
        match (field, wt) {
            (1, VARINT) => m.ir_version = Some(w.varint()? as i64),
            (2, LEN) => m.producer = w.string(MAX_NAME_BYTES)?,
            (3, LEN) => m.producer_version = w.string(MAX_NAME_BYTES)?,
            (7, LEN) => {
                if m.graph.is_some() {
                    return Err("the model has two graphs".into());
                }
                m.graph = Some(graph(w)?);
            }
            (8, LEN) => {
                let (mut domain, mut version) = (String::new(), 0);
                w.message(|w, f, wt| match (f, wt) {
                    (1, LEN) => {
                        domain = w.string(MAX_NAME_BYTES)?;
                        Ok(())
                    }
                    (2, VARINT) => {
                        version = w.varint()? as i64;
                        Ok(())
                    }
                    _ => w.skip(wt),
                })?;
                if m.opsets.len() < 1024 {
                    m.opsets.push((domain, version));
                }
            }
            (25, LEN) => {
                let (mut name, mut domain) = (String::new(), String::new());
                w.message(|w, f, wt| match (f, wt) {
                    (1, LEN) => {
                        name = w.string(MAX_NAME_BYTES)?;
                        Ok(())
                    }
                    (10, LEN) => {
                        domain = w.string(MAX_NAME_BYTES)?;
                        Ok(())
                    }
                    _ => w.skip(wt),
                })?;
                if m.functions.len() < 1 << 16 {
                    m.functions.push((domain, name));
                }
            }
            _ => w.skip(wt)?,
        }
        Ok(())
    })?;
    Ok(m)
}

fn graph<R: Read + Seek>(w: &mut Wire<R>) -> Result<Graph, String> {
    let mut g = Graph::default();
    w.message(|w, field, wt| {
        match (field, wt) {
            (1, LEN) => {
                bounded(g.nodes.len(), MAX_NODES, "nodes")?;
                g.nodes.push(node(w)?);
            }
            (5, LEN) => {
                bounded(g.initializers.len(), MAX_TENSORS, "initializers")?;
                g.initializers.push(initializer(w)?);
            }
            (11, LEN) => {
                bounded(g.inputs.len(), MAX_VALUES, "inputs")?;
                g.inputs.push(value_info(w)?);
            }
            (12, LEN) => {
                bounded(g.outputs.len(), MAX_VALUES, "outputs")?;
                g.outputs.push(value_info(w)?);
            }
            (13, LEN) => {
                bounded(g.value_info.len(), MAX_VALUES, "value_info entries")?;
                g.value_info.push(value_info(w)?);
            }
            (15, LEN) => {
                g.sparse_initializers += 1;
                w.skip(wt)?;
            }
            _ => w.skip(wt)?,
        }
        Ok(())
    })?;
    Ok(g)
}

fn bounded(len: usize, max: usize, what: &str) -> Result<(), String> {
    if len >= max {
        return Err(format!("more than {max} {what}: a damaged or hostile file"));
    }
    Ok(())
}

fn node<R: Read + Seek>(w: &mut Wire<R>) -> Result<Node, String> {
    let mut n = Node::default();
    w.message(|w, field, wt| {
        match (field, wt) {
            (1, LEN) => {
                bounded(n.inputs.len(), MAX_NODE_IO, "inputs of one node")?;
                n.inputs.push(w.string(MAX_NAME_BYTES)?);
            }
            (2, LEN) => {
                bounded(n.outputs.len(), MAX_NODE_IO, "outputs of one node")?;
                n.outputs.push(w.string(MAX_NAME_BYTES)?);
            }
            (3, LEN) => n.name = w.string(MAX_NAME_BYTES)?,
            (4, LEN) => n.op_type = w.string(MAX_NAME_BYTES)?,
            (7, LEN) => n.domain = w.string(MAX_NAME_BYTES)?,
            (5, LEN) => {
                bounded(n.attributes.len(), 1 << 12, "attributes of one node")?;
                n.attributes.push(attribute(w)?);
            }
            (9, LEN) => metadata(w, &mut n)?,
            _ => w.skip(wt)?,
        }
        Ok(())
    })?;
    Ok(n)
}

/// A `StringStringEntryProto`: only the keys this reader uses are kept, their values read only when
/// they follow the key (as every writer orders them) and are short.
fn metadata<R: Read + Seek>(w: &mut Wire<R>, n: &mut Node) -> Result<(), String> {
    let mut key: Option<String> = None;
    let mut value: Option<String> = None;
    w.message(|w, f, wt| match (f, wt) {
        (1, LEN) => {
            key = Some(w.string(MAX_NAME_BYTES)?);
            Ok(())
        }
        (2, LEN) => {
            let wanted = matches!(
                key.as_deref(),
                Some(
                    "pkg.torch.onnx.name_scopes"
                        | "pkg.torch.onnx.class_hierarchy"
                        | "pkg.onnxscript.rewriter.rule_name"
                        | "pkg.torch.onnx.fx_node"
                )
            );
            if wanted {
                value = w.string_if_short(MAX_METADATA_BYTES)?;
                Ok(())
            } else {
                w.skip(wt)
            }
        }
        _ => w.skip(wt),
    })?;
    match key.as_deref() {
        Some("pkg.torch.onnx.name_scopes") => n.name_scopes = value,
        Some("pkg.torch.onnx.class_hierarchy") => n.class_hierarchy = value,
        Some("pkg.onnxscript.rewriter.rule_name") => n.rewrite_rules = value,
        Some("pkg.torch.onnx.fx_node") => n.fx_node = value,
        _ => {}
    }
    Ok(())
}

fn attribute<R: Read + Seek>(w: &mut Wire<R>) -> Result<Attribute, String> {
    let mut a = Attribute::default();
    w.message(|w, field, wt| {
        match (field, wt) {
            (1, LEN) => a.name = w.string(MAX_NAME_BYTES)?,
            (3, VARINT) => a.i = Some(w.varint()? as i64),
            (4, LEN) => {
                // Strings (an einsum's equation) are short; a long one is not needed.
                a.s = w.string_if_short(MAX_METADATA_BYTES)?;
            }
            (6, LEN) | (11, LEN) => {
                a.has_graph = true;
                w.skip(wt)?;
            }
            (8, VARINT) | (8, LEN) => {
                w.int64s(wt, &mut a.ints, MAX_ATTR_INTS)?;
            }
            _ => w.skip(wt)?,
        }
        Ok(())
    })?;
    Ok(a)
}

fn initializer<R: Read + Seek>(w: &mut Wire<R>) -> Result<Initializer, String> {
    let mut t = Initializer::default();
    let mut dims_complete = true;
    w.message(|w, field, wt| {
        match (field, wt) {
            (1, VARINT) | (1, LEN) => dims_complete &= w.int64s(wt, &mut t.dims, MAX_DIMS)?,
            (2, VARINT) => t.data_type = w.varint()? as i32,
            (8, LEN) => t.name = w.string(MAX_NAME_BYTES)?,
            (13, LEN) => {
                let mut key: Option<String> = None;
                let mut value: Option<String> = None;
                w.message(|w, f, wt| match (f, wt) {
                    (1, LEN) => {
                        key = Some(w.string(MAX_NAME_BYTES)?);
                        Ok(())
                    }
                    (2, LEN) if key.as_deref() == Some("location") => {
                        value = Some(w.string(MAX_NAME_BYTES)?);
                        Ok(())
                    }
                    _ => w.skip(wt),
                })?;
                if value.is_some() {
                    t.location = value;
                }
            }
            (14, VARINT) => t.external = w.varint()? == 1,
            // raw_data (9) and the typed data fields: the weights, skipped without being read.
            _ => w.skip(wt)?,
        }
        Ok(())
    })?;
    if !dims_complete {
        return Err(format!(
            "initializer {}: more than {MAX_DIMS} dimensions",
            t.name
        ));
    }
    Ok(t)
}

fn value_info<R: Read + Seek>(w: &mut Wire<R>) -> Result<ValueInfo, String> {
    let mut v = ValueInfo::default();
    w.message(|w, field, wt| {
        match (field, wt) {
            (1, LEN) => v.name = w.string(MAX_NAME_BYTES)?,
            // TypeProto: only tensor_type (1) is read; sequences, maps and optionals have no shape.
            (2, LEN) => w.message(|w, f, wt| match (f, wt) {
                (1, LEN) => tensor_type(w, &mut v),
                _ => w.skip(wt),
            })?,
            _ => w.skip(wt)?,
        }
        Ok(())
    })?;
    Ok(v)
}

fn tensor_type<R: Read + Seek>(w: &mut Wire<R>, v: &mut ValueInfo) -> Result<(), String> {
    w.message(|w, f, wt| match (f, wt) {
        (1, VARINT) => {
            v.elem_type = Some(w.varint()? as i32);
            Ok(())
        }
        (2, LEN) => {
            let mut dims = Vec::new();
            w.message(|w, f, wt| match (f, wt) {
                (1, LEN) => {
                    if dims.len() >= MAX_DIMS {
                        return Err(format!("{}: more than {MAX_DIMS} dimensions", v.name));
                    }
                    let mut d = Dim::Unknown;
                    w.message(|w, f, wt| match (f, wt) {
                        (1, VARINT) => {
                            d = Dim::Value(w.varint()? as i64);
                            Ok(())
                        }
                        (2, LEN) => {
                            d = Dim::Param(w.string(MAX_NAME_BYTES)?);
                            Ok(())
                        }
                        _ => w.skip(wt),
                    })?;
                    dims.push(d);
                    Ok(())
                }
                _ => w.skip(wt),
            })?;
            v.dims = Some(dims);
            Ok(())
        }
        _ => w.skip(wt),
    })
}
