//! The part of torch.export's serialized `ExportedProgram` (`torch/_export/serde/schema.py`, schema
//! 8.x) this reader needs, as serde structs. Unions (`Argument`, `SymInt`, `InputSpec` …) are objects
//! with one key; here they are structs of optional fields, so a key this reader does not know is
//! skipped rather than refused. Fields not listed (stack traces, strides of activations …) are skipped
//! by the JSON parser without being kept.

use serde::Deserialize;
use std::collections::HashMap;

/// The newest schema major version this reader knows (PyTorch 2.13 writes 8.20).
pub const KNOWN_MAJOR: i64 = 8;

#[derive(Debug, Deserialize)]
pub struct ExportedProgram {
    pub graph_module: GraphModule,
    #[serde(default)]
    pub range_constraints: HashMap<String, RangeConstraint>,
    #[serde(default)]
    pub schema_version: Option<SchemaVersion>,
    #[serde(default)]
    pub torch_version: Option<String>,
}

/// `{"major": 8, "minor": 20}`; files of PyTorch 2.2 wrote a bare integer.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SchemaVersion {
    Split { major: i64, minor: i64 },
    Major(i64),
}

impl SchemaVersion {
    pub fn major(&self) -> i64 {
        match self {
            SchemaVersion::Split { major, .. } | SchemaVersion::Major(major) => *major,
        }
    }

    pub fn text(&self) -> String {
        match self {
            SchemaVersion::Split { major, minor } => format!("{major}.{minor}"),
            SchemaVersion::Major(major) => major.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RangeConstraint {
    pub min_val: Option<i64>,
    pub max_val: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct GraphModule {
    pub graph: Graph,
    pub signature: Signature,
    #[serde(default)]
    pub module_call_graph: Vec<ModuleCallEntry>,
}

#[derive(Debug, Deserialize)]
pub struct ModuleCallEntry {
    pub fqn: String,
}

#[derive(Debug, Deserialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub tensor_values: HashMap<String, TensorMeta>,
    #[serde(default)]
    pub outputs: Vec<Argument>,
}

#[derive(Debug, Deserialize)]
pub struct Node {
    pub target: String,
    #[serde(default)]
    pub inputs: Vec<NamedArgument>,
    #[serde(default)]
    pub outputs: Vec<Argument>,
    #[serde(default)]
    pub metadata: NodeMetadata,
}

#[derive(Debug, Default, Deserialize)]
pub struct NodeMetadata {
    /// `key,path,type;key,path,type…` from the root module to the innermost one.
    pub nn_module_stack: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NamedArgument {
    pub arg: Argument,
}

/// One argument; exactly one field is set in a well-formed file.
#[derive(Debug, Default, Deserialize)]
pub struct Argument {
    pub as_none: Option<serde::de::IgnoredAny>,
    pub as_tensor: Option<TensorArgument>,
    pub as_tensors: Option<Vec<TensorArgument>>,
    pub as_optional_tensors: Option<Vec<OptionalTensorArgument>>,
    pub as_optional_tensor: Option<OptionalTensorArgument>,
    pub as_int: Option<i64>,
    pub as_ints: Option<Vec<i64>>,
    pub as_bool: Option<bool>,
    pub as_string: Option<String>,
    pub as_graph: Option<GraphArgument>,
}

#[derive(Debug, Deserialize)]
pub struct TensorArgument {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct OptionalTensorArgument {
    pub as_tensor: Option<TensorArgument>,
}

#[derive(Debug, Deserialize)]
pub struct GraphArgument {
    pub graph: Graph,
}

/// A tensor's metadata as the file records it.
#[derive(Debug, Clone, Deserialize)]
pub struct TensorMeta {
    pub dtype: i64,
    pub sizes: Vec<SymInt>,
    #[serde(default)]
    pub requires_grad: bool,
    #[serde(default)]
    pub strides: Vec<SymInt>,
    #[serde(default)]
    pub storage_offset: Option<SymInt>,
}

/// A size: a number, or an expression with the example value the export ran with.
#[derive(Debug, Clone, Deserialize)]
pub struct SymInt {
    pub as_int: Option<i64>,
    pub as_expr: Option<SymExpr>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SymExpr {
    pub expr_str: String,
    #[serde(default)]
    pub hint: Option<SymHint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SymHint {
    pub as_int: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Signature {
    pub input_specs: Vec<InputSpec>,
    #[serde(default)]
    pub output_specs: Vec<OutputSpec>,
}

#[derive(Debug, Deserialize)]
pub struct InputSpec {
    pub user_input: Option<UserSpec>,
    pub parameter: Option<ParameterSpec>,
    pub buffer: Option<BufferSpec>,
    pub tensor_constant: Option<ConstantSpec>,
    pub custom_obj: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
pub struct UserSpec {
    pub arg: Argument,
}

#[derive(Debug, Deserialize)]
pub struct ParameterSpec {
    pub arg: TensorArgument,
    pub parameter_name: String,
}

#[derive(Debug, Deserialize)]
pub struct BufferSpec {
    pub arg: TensorArgument,
    pub buffer_name: String,
}

#[derive(Debug, Deserialize)]
pub struct ConstantSpec {
    pub arg: TensorArgument,
    pub tensor_constant_name: String,
}

#[derive(Debug, Deserialize)]
pub struct OutputSpec {
    pub user_output: Option<UserSpec>,
    pub loss_output: Option<LossSpec>,
}

#[derive(Debug, Deserialize)]
pub struct LossSpec {
    pub arg: TensorArgument,
}

/// `data/weights/<model>_weights_config.json` and `data/constants/<model>_constants_config.json`.
#[derive(Debug, Deserialize)]
pub struct PayloadConfig {
    #[serde(default)]
    pub config: HashMap<String, PayloadMeta>,
}

#[derive(Debug, Deserialize)]
pub struct PayloadMeta {
    /// The record holding the bytes (`weight_0`); tensors sharing one are views of one storage.
    pub path_name: String,
    pub tensor_meta: Option<TensorMeta>,
}
