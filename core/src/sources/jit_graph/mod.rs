//! Output shapes, operator-level mult-adds and module data flow of a TorchScript model, measured by
//! running its `forward` once through libtorch's TorchScript interpreter.
//!
//! tch does not expose TorchScript graphs, so a small C++ shim (src/shim/jit_graph.cpp, in the `tchinfo`
//! crate) inlines `forward`, remembers which module every node came from, and records each module
//! call's returned tensors and each counted operator's runtime arguments as text ([`protocol`]). This
//! module builds the shim's request, turns its record into measurements keyed by module path
//! (`features.0`, `layer1.0.conv1`) and attaches them to a [`ModelSummary`] built by the structure
//! reader. It needs no libtorch: the shim runs in a sandboxed child process ([`measure_sandboxed`],
//! what the command line uses, see [`crate::sandbox`]), or in the calling process through
//! [`measure_with`] (`tchinfo::sources::jit_graph::measure`, for files one trusts).
//!
//! Two choices shape what the run sees. Tensors of 64 KiB or more are not read from the file: they
//! hold zeros, since shapes and operator counts do not depend on weight values and copying them is
//! most of the cost of a large model (a model whose shapes depend on its weights' values would
//! measure differently). And the graph is told gradients are enabled, so PyTorch's fused inference
//! paths, which hide submodule calls and which eager torchinfo's hooks always disable, are not taken;
//! the run itself records no autograd graph.

pub mod protocol;
pub mod training;

pub use protocol::Fill;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::dtype::DType;
use crate::op_macs;
use crate::progress::Progress;
use crate::sandbox::{self, Limits};
use crate::sources::{LoadOptions, MAX_INPUT_ELEMENTS, SourceError, first_line};
use crate::summary::macs::fill_torchinfo_mult_adds;
use crate::summary::{DataEdge, ModelSummary, TensorValue};
use protocol::{ErrorKind, Line};

/// One tensor to pass to `forward`: floating types are filled with ones; an integer input an Embedding
/// reads gets token ids in its range, a mask or a boolean ones, any other integer zeros (a valid index
/// anywhere); the measurement says which ([`Measurement::fills`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    pub shape: Vec<i64>,
    pub dtype: DType,
}

/// What one module did during the forward pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleMeasurement {
    /// Dotted path as in `named_modules()`; empty for the root.
    pub path: String,
    /// The tensors its forward returned (tuples, lists and dict values flattened), from its first
    /// call; empty when its forward was not called (its operators ran from another of its methods)
    /// or returned no tensor, or when, traced, it returned a tensor it was given and tensors of
    /// different shapes could have been that one (a trace does not record which).
    pub outputs: Vec<TensorValue>,
    /// What the second and later calls returned, in call order, for a module the forward calls more
    /// than once (a shared ReLU); empty otherwise.
    pub repeat_outputs: Vec<Vec<TensorValue>>,
    /// Mult-adds of the counted operators that ran in its own code (children excluded), over all
    /// of its calls.
    pub op_mult_adds: u64,
}

/// Everything one forward pass of a TorchScript model showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    pub inputs: Vec<TensorValue>,
    /// Modules in the order the run first showed them: a counted operator of theirs, or their
    /// forward returning (children before their parent, unless the parent computed first).
    pub modules: Vec<ModuleMeasurement>,
    /// Module A's returned value consumed directly by code of module B (B's innermost module).
    pub edges: Vec<DataEdge>,
    /// `forward(Tensor x) -> Tensor`, without `self`.
    pub forward_schema: String,
    /// What libtorch warned about while loading and running, each on one line (the first ten
    /// distinct warnings).
    pub warnings: Vec<String>,
    /// How many more distinct warnings libtorch gave after those ten.
    pub more_warnings: u64,
    /// Work that went uncounted: operators that multiply and accumulate but have no formula, or whose
    /// arguments the formula could not read, with how often they ran and where.
    pub uncounted: Vec<UncountedOp>,
    /// (module path, operator) where an output's size depended on tensor values.
    pub value_dependent: Vec<(String, String)>,
    /// How each integer or boolean input was filled, by input number (1-based).
    pub fills: Vec<(usize, Fill)>,
}

/// An operator that did work the mult-adds do not include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncountedOp {
    pub op: String,
    /// Module paths it ran in (the root is empty), in order.
    pub paths: Vec<String>,
    pub runs: u64,
}

/// Operators whose output size can depend on the values of their inputs, not only on shapes
/// (`aten::index` only with a boolean mask, `aten::where` only with one argument).
pub const VALUE_DEPENDENT_OPS: &[&str] = &[
    "aten::nonzero",
    "aten::nonzero_numpy",
    "aten::argwhere",
    "aten::masked_select",
    "aten::unique",
    "aten::_unique",
    "aten::_unique2",
    "aten::unique_dim",
    "aten::unique_consecutive",
    "aten::unique_dim_consecutive",
    "aten::where",
    "aten::index",
    "aten::bincount",
    "aten::repeat_interleave",
];

/// Runs `forward` of the TorchScript file at `path` once on `inputs` through `run_shim` (which takes the
/// path and the shim's request, and returns the shim's text) and measures every module.
pub fn measure_with(
    path: &Path,
    inputs: &[InputSpec],
    run_shim: impl FnOnce(&Path, &str) -> Result<String, SourceError>,
) -> Result<Measurement, SourceError> {
    let model = crate::text::path(path);
    std::fs::metadata(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let values = input_values(&model, inputs)?;
    let watch = protocol::Watch {
        counted: op_macs::COUNTED_OPS,
        tallied: op_macs::TALLIED_OPS,
        value_dependent: VALUE_DEPENDENT_OPS,
    };
    let request = protocol::request(inputs, &watch);
    let text = {
        let _progress = Progress::spinner(format!("loading {model} and running forward once"));
        run_shim(path, &request)
    }?;
    let lines = protocol::parse(&text).map_err(|message| shim_error(&model, message))?;
    assemble(path, values, lines)
}

/// Where and how a forward pass runs sandboxed: the `tchinfo-torch` binary and the limits.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub exe: std::path::PathBuf,
    pub limits: Limits,
}

/// [`measure_with`] in a sandboxed child process ([`crate::sandbox`]), after the one-line notice that
/// the file's code runs. Also returns what the child printed (the model's `print()`s), as a note.
pub fn measure_sandboxed(
    path: &Path,
    inputs: &[InputSpec],
    sandbox: &Sandbox,
) -> Result<(Measurement, Option<String>), SourceError> {
    let model = crate::text::path(path);
    let mut printed = None;
    let measured = measure_with(path, inputs, |path, request| {
        sandbox::give_notice_once(&model, &sandbox.limits);
        let finished = sandbox::run_forward(&sandbox.exe, path, request, &sandbox.limits).map_err(
            |failure| SourceError::Sandbox {
                model: model.clone(),
                problem: failure.to_string(),
            },
        )?;
        printed = finished.printed.map(|c| printed_note(&c));
        Ok(finished.result)
    });
    match measured {
        Ok(m) => Ok((m, printed)),
        Err(e) => Err(sandboxed_error(e, &model, &sandbox.limits)),
    }
}

/// An error the shim reported from inside the sandbox, said in the sandbox's terms where that is what
/// happened: a failed allocation is the memory limit, a refused file or call is the sandbox's refusal.
fn sandboxed_error(e: SourceError, model: &str, limits: &Limits) -> SourceError {
    let text = e.to_string();
    let out_of_memory = [
        "can't allocate memory",
        "std::bad_alloc",
        "Cannot allocate memory",
    ];
    if out_of_memory.iter().any(|m| text.contains(m)) {
        return SourceError::Sandbox {
            model: model.to_string(),
            problem: sandbox::SandboxFailure::Memory(limits.max_memory).to_string(),
        };
    }
    let refused = ["Permission denied", "Operation not permitted"];
    match e {
        SourceError::Input { model, problem } if refused.iter().any(|r| problem.contains(r)) => {
            SourceError::Input {
                model,
                problem: format!(
                    "{problem} (refused by the sandbox: the model's code may not write files, read \
                     files other than the model, use the network or start programs)"
                ),
            }
        }
        other => other,
    }
}

/// The note for what a forward pass printed: its start, escaped and on one line.
fn printed_note(c: &sandbox::supervise::Captured) -> String {
    const SHOWN: usize = 400;
    let total = c.text.len() as u64 + c.dropped;
    let text = crate::text::shorten(&crate::text::escape(c.text.trim_end()), SHOWN).into_owned();
    format!(
        "the forward pass printed {} (the model's print() or libtorch's messages, kept out of the report): {text}",
        crate::units::binary(total)
    )
}

/// Measures the TorchScript file `summary` was read from on the inputs `opts` asks for, in the sandbox,
/// and attaches the measurement (see [`apply`]) and a note of anything it printed.
pub fn measure_into_sandboxed(
    summary: &mut ModelSummary,
    path: &Path,
    opts: &LoadOptions,
    sandbox: &Sandbox,
) -> Result<(), SourceError> {
    let (measurement, printed) = measure_sandboxed(path, &input_specs(opts), sandbox)
        .map_err(|e| explain_optimized_for_inference(summary, e))?;
    apply(summary, &measurement);
    summary.notes.extend(printed);
    Ok(())
}

/// The forward inputs `--input-size`, `--batch-size` and `--dtype` ask for: each size in full, the
/// batch size (when given) replacing every first dimension ([`crate::sources::apply_batch`]), each
/// input's dtype its own `--dtype` (one given applies to all), float32 unless given.
pub fn input_specs(opts: &LoadOptions) -> Vec<InputSpec> {
    opts.input_sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let mut shape = size.clone();
            crate::sources::apply_batch(&mut shape, opts.batch_size);
            InputSpec {
                shape,
                dtype: opts.dtype_of(i).unwrap_or(DType::Float32),
            }
        })
        .collect()
}

/// A forward pass that failed on a file `torch.jit.optimize_for_inference` wrote, said as such: libtorch's
/// own words ("required keyword attribute 'value' is undefined") say nothing of why.
pub fn explain_optimized_for_inference(summary: &ModelSummary, e: SourceError) -> SourceError {
    let ofi = crate::sources::torchscript::OPTIMIZED_FOR_INFERENCE_NOTE;
    match e {
        SourceError::Format { path, .. } if summary.notes.iter().any(|n| n == ofi) => {
            SourceError::format(path, format!("cannot run it: {ofi}"))
        }
        e => e,
    }
}

/// Attaches a measurement to a summary of the same model: output shapes, operator mult-adds,
/// inputs and data flow, then the torchinfo-style mult-adds those shapes allow. A module path the
/// summary does not have gives its operator mult-adds to its nearest ancestor that it has.
pub fn apply(summary: &mut ModelSummary, m: &Measurement) {
    let mut op_mult_adds: HashMap<String, u64> = HashMap::new();
    let mut calls: HashMap<&str, Vec<&Vec<TensorValue>>> = HashMap::new();
    for module in &m.modules {
        let owner = nearest_known(&summary.root, &module.path);
        let total = op_mult_adds.entry(owner.to_string()).or_default();
        *total = total.saturating_add(module.op_mult_adds);
        if owner == module.path {
            // A call that returned no tensor the shim could attribute shows nothing.
            let seen: Vec<&Vec<TensorValue>> = std::iter::once(&module.outputs)
                .chain(&module.repeat_outputs)
                .filter(|o| !o.is_empty())
                .collect();
            if !seen.is_empty() {
                calls.insert(&module.path, seen);
            }
        }
    }
    summary.root.visit_mut(&mut |node| {
        let seen = calls.get(node.path.as_str());
        node.outputs = seen.map(|c| c[0].clone());
        node.repeat_outputs =
            seen.map_or_else(Vec::new, |c| c[1..].iter().map(|o| (*o).clone()).collect());
        node.op_mult_adds = op_mult_adds.get(&node.path).copied();
        node.mult_adds = None;
    });
    summary.inputs = m.inputs.clone();
    summary.dataflow = Some(m.edges.clone());
    for warning in &m.warnings {
        summary.notes.push(format!(
            "libtorch warned while loading or running the model: {warning}"
        ));
    }
    if m.more_warnings > 0 {
        summary.notes.push(format!(
            "libtorch gave {} more distinct warning{}, not shown",
            m.more_warnings,
            if m.more_warnings == 1 { "" } else { "s" }
        ));
    }
    summary.notes.extend(fills_note(m));
    summary.notes.extend(uncounted_note(&m.uncounted));
    summary
        .notes
        .extend(value_dependent_note(&m.value_dependent));
    fill_torchinfo_mult_adds(&mut summary.root);
}

/// At most three paths (the root named as such), then how many more.
fn some_paths(paths: &[String]) -> String {
    let name = |p: &String| {
        if p.is_empty() {
            "the root".to_string()
        } else {
            p.clone()
        }
    };
    let mut text = paths
        .iter()
        .take(3)
        .map(name)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > 3 {
        text += &format!(" +{} more", paths.len() - 3);
    }
    text
}

/// What the integer and boolean inputs held, so a reader knows the run's token ids were valid.
fn fills_note(m: &Measurement) -> Option<String> {
    if m.fills.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = m
        .fills
        .iter()
        .map(|(i, fill)| {
            let dtype = m
                .inputs
                .get(i.wrapping_sub(1))
                .map_or(String::new(), |v| format!(" ({})", v.dtype));
            let what = match fill {
                Fill::Ids { rows, embedding } => {
                    let at = if embedding.is_empty() {
                        "the root's Embedding".to_string()
                    } else {
                        embedding.clone()
                    };
                    format!(
                        "token ids 1 to {} in turn, in range of {at} ({} rows)",
                        rows.saturating_sub(1).max(1),
                        crate::units::thousands(*rows)
                    )
                }
                Fill::Ones => "ones".to_string(),
                Fill::Zeros => "zeros (no Embedding reads it)".to_string(),
            };
            format!("input {i}{dtype} held {what}")
        })
        .collect();
    if m.inputs.iter().any(|v| v.dtype.is_floating_point()) {
        parts.push("floating-point inputs held ones".to_string());
    }
    Some(format!(
        "the forward pass ran on valid values: {}",
        parts.join("; ")
    ))
}

fn uncounted_note(uncounted: &[UncountedOp]) -> Option<String> {
    if uncounted.is_empty() {
        return None;
    }
    let parts: Vec<String> = uncounted
        .iter()
        .map(|u| {
            format!(
                "{} ×{} (in {})",
                u.op,
                crate::units::thousands(u.runs),
                some_paths(&u.paths)
            )
        })
        .collect();
    Some(format!(
        "operators that multiply and accumulate ran but are not in the mult-adds: {}",
        parts.join(", ")
    ))
}

fn value_dependent_note(found: &[(String, String)]) -> Option<String> {
    if found.is_empty() {
        return None;
    }
    let mut by_op: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, op) in found {
        by_op.entry(op.as_str()).or_default().push(path.clone());
    }
    let parts: Vec<String> = by_op
        .iter()
        .map(|(op, paths)| {
            let what = match *op {
                "aten::index" => "boolean indexing".to_string(),
                "aten::where" => "one-argument where".to_string(),
                other => other.trim_start_matches("aten::").to_string(),
            };
            format!("{what} in {}", some_paths(paths))
        })
        .collect();
    Some(format!(
        "output sizes here depend on tensor values ({}): the run used ones or token ids as inputs and \
         zeros for large weights, so these modules' output shapes, and those after them, may differ \
         with real weights and data",
        parts.join("; ")
    ))
}

/// `path` if the tree has it, else its closest ancestor that it has (the root at worst).
fn nearest_known<'a>(root: &crate::summary::ModuleNode, path: &'a str) -> &'a str {
    let mut candidate = path;
    loop {
        if candidate.is_empty() || root.find(candidate).is_some() {
            return candidate;
        }
        candidate = candidate.rsplit_once('.').map_or("", |(parent, _)| parent);
    }
}

/// The inputs as tensor values, once their sizes are known to be usable.
fn input_values(model: &str, inputs: &[InputSpec]) -> Result<Vec<TensorValue>, SourceError> {
    let mut values = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let problem = |what: &str| SourceError::Input {
            model: model.to_string(),
            problem: format!("input {} {}: {what}", i + 1, shape_text(&input.shape)),
        };
        if input.shape.iter().any(|&d| d < 1) {
            return Err(problem("every size must be at least 1"));
        }
        let shape: Vec<u64> = input.shape.iter().map(|&d| d as u64).collect();
        let value = TensorValue {
            shape,
            dtype: input.dtype,
        };
        // The same limit as for built-ins, checked here: libtorch's allocator would fail with a raw message.
        let elements = value
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        if elements.is_none_or(|n| n > MAX_INPUT_ELEMENTS) {
            return Err(problem(&format!(
                "too large for a CPU forward pass (limit {} elements); use a smaller batch or input size",
                crate::units::thousands(MAX_INPUT_ELEMENTS)
            )));
        }
        values.push(value);
    }
    Ok(values)
}

fn shape_text(shape: &[i64]) -> String {
    let dims: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// A failure of the shim itself (or its answer), as an error of measuring `model`.
pub fn shim_error(model: &str, message: String) -> SourceError {
    SourceError::Torch {
        model: model.to_string(),
        context: "measuring output shapes".to_string(),
        message,
    }
}

/// Builds the measurement from the shim's lines, or the error they report.
fn assemble(
    path: &Path,
    inputs: Vec<TensorValue>,
    lines: Vec<Line>,
) -> Result<Measurement, SourceError> {
    let model = crate::text::path(path);
    let mut schema = String::new();
    let mut modules: Vec<ModuleMeasurement> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut called: Vec<bool> = Vec::new();
    let mut edges: Vec<DataEdge> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut more_warnings = 0;
    let mut uncounted: BTreeMap<String, UncountedOp> = BTreeMap::new();
    let mut note_uncounted = |op: &str, path: &str, runs: u64| {
        if !op_macs::does_work(op) {
            return;
        }
        let entry = uncounted.entry(op.to_string()).or_insert(UncountedOp {
            op: op.to_string(),
            paths: Vec::new(),
            runs: 0,
        });
        entry.runs = entry.runs.saturating_add(runs);
        if !entry.paths.iter().any(|p| p == path) {
            entry.paths.push(path.to_string());
        }
    };
    let mut value_dependent: Vec<(String, String)> = Vec::new();
    let mut fills: Vec<(usize, Fill)> = Vec::new();
    let mut module =
        |path: String, modules: &mut Vec<ModuleMeasurement>, called: &mut Vec<bool>| {
            *index.entry(path.clone()).or_insert_with(|| {
                modules.push(ModuleMeasurement {
                    path,
                    outputs: Vec::new(),
                    repeat_outputs: Vec::new(),
                    op_mult_adds: 0,
                });
                called.push(false);
                modules.len() - 1
            })
        };
    for line in lines {
        match line {
            Line::Schema(s) => schema = s,
            Line::Warning(message) => warnings.push(one_line(&message)),
            Line::MoreWarnings(n) => more_warnings = n,
            Line::Edge {
                from,
                to,
                only_consumer,
            } => {
                // A module called several times reports its edges once per call.
                match edges.iter_mut().find(|e| e.from == from && e.to == to) {
                    Some(e) => e.only_consumer &= only_consumer,
                    None => edges.push(DataEdge {
                        from,
                        to,
                        only_consumer,
                    }),
                }
            }
            Line::Call { path, outputs } => {
                let i = module(path, &mut modules, &mut called);
                if called[i] {
                    modules[i].repeat_outputs.push(outputs);
                } else {
                    modules[i].outputs = outputs;
                    called[i] = true;
                }
            }
            Line::Op { path, op, args } => match op_macs::try_mult_adds(&op, &args) {
                Some(m) => {
                    let i = module(path, &mut modules, &mut called);
                    modules[i].op_mult_adds = modules[i].op_mult_adds.saturating_add(m);
                }
                None => note_uncounted(&op, &path, 1),
            },
            Line::Ran { path, op, count } => note_uncounted(&op, &path, count),
            Line::Dynamic { path, op } => value_dependent.push((path, op)),
            Line::Filled { input, fill } => fills.push((input, fill)),
            // Only a training request (see [`training`]) is answered with these.
            Line::Step { .. } | Line::StepError { .. } | Line::NoGrad { .. } => {}
            Line::Error {
                kind,
                message,
                running,
            } => {
                return Err(error(
                    path,
                    &model,
                    &schema,
                    &inputs,
                    kind,
                    &message,
                    running.as_deref(),
                ));
            }
        }
    }
    Ok(Measurement {
        inputs,
        modules,
        edges,
        forward_schema: schema,
        warnings,
        more_warnings,
        uncounted: uncounted.into_values().collect(),
        value_dependent,
        fills,
    })
}

/// A multi-line warning as one line: its non-empty lines, trimmed, joined by spaces.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

fn error(
    path: &Path,
    model: &str,
    schema: &str,
    inputs: &[TensorValue],
    kind: ErrorKind,
    message: &str,
    running: Option<&str>,
) -> SourceError {
    let input = |problem: String| SourceError::Input {
        model: model.to_string(),
        problem,
    };
    match kind {
        ErrorKind::Load => {
            // miniz's advice about corrupted checkpoints follows the actual reason on the same line.
            let reason = first_line(message);
            let reason = reason
                .split(". This is an internal miniz error")
                .next()
                .unwrap_or(reason);
            // The parser's "found '"' here:" points at a code excerpt this one line leaves out; the
            // place it names stands in for it.
            let text = match code_location(message) {
                Some(place) => {
                    let reason = reason.strip_suffix(" here:").unwrap_or(reason);
                    format!("{} at {place}", reason.trim_end_matches(':'))
                }
                None => reason.to_string(),
            };
            SourceError::format(
                path,
                format!("libtorch cannot load it as TorchScript: {text}"),
            )
        }
        ErrorKind::Input => input(format!("{}; it expects {schema}", first_line(message))),
        // The inputs were acceptable to forward; libtorch could not make one (a dtype it cannot fill).
        ErrorKind::MakeInput => {
            let number: Option<usize> = running.and_then(|n| n.parse().ok());
            let which = match number.and_then(|n| Some((n, inputs.get(n.checked_sub(1)?)?))) {
                Some((n, v)) => format!("input {n} {} {:?}", v.dtype, v.shape),
                None => "an input".to_string(),
            };
            input(format!(
                "{which}: libtorch cannot make it: {}",
                first_line(message)
            ))
        }
        ErrorKind::Run => {
            let given: Vec<String> = inputs
                .iter()
                .map(|v| format!("{} {:?}", v.dtype, v.shape))
                .collect();
            let place = match running {
                Some(p) if !p.is_empty() => format!(" in {p}"),
                _ => String::new(),
            };
            input(format!(
                "forward failed{place} on {}: {} (it expects {schema})",
                given.join(" and "),
                interpreter_reason(message)
            ))
        }
        ErrorKind::Internal => SourceError::Torch {
            model: model.to_string(),
            context: "measuring output shapes".to_string(),
            message: message.to_string(),
        },
    }
}

/// Where in the archive's code libtorch's parser stopped, `code/__torch__.py, line 6`, from the
/// `File "code/__torch__.py", line 6` line that follows its first line ("… found '"' here:").
fn code_location(message: &str) -> Option<String> {
    message
        .lines()
        .skip(1)
        .find_map(|line| line.trim_start().strip_prefix("File \""))
        .map(|place| place.trim_end().replacen('"', "", 1))
}

/// The TorchScript interpreter puts the real error after a traceback of code excerpts, as a Python
/// exception line ("RuntimeError: Given groups=1, weight of size …"); that is what a user needs.
fn interpreter_reason(message: &str) -> &str {
    const WRAPPED: &str = "The following operation failed in the TorchScript interpreter";
    if !message.starts_with(WRAPPED) {
        return first_line(message);
    }
    message
        .lines()
        .rev()
        .find_map(exception_text)
        .unwrap_or_else(|| first_line(message))
}

/// "RuntimeError: text" → "text"; `None` for a line that is not a Python exception line.
fn exception_text(line: &str) -> Option<&str> {
    let (class, rest) = line.split_once(": ")?;
    let is_name = class
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (is_name && (class.ends_with("Error") || class.ends_with("Exception"))).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{ModuleNode, SourceKind};

    #[test]
    fn the_interpreter_traceback_is_reduced_to_its_reason() {
        let message = "The following operation failed in the TorchScript interpreter.\n\
                       Traceback of TorchScript (most recent call last):\n  File \"code/x.py\", line 3\n    \
                       x = conv(x)\n        ~~~~ <--- HERE\nclass Pool(Module):\n  return x\n\
                       RuntimeError: Given groups=1, expected 3 channels\n";
        assert_eq!(
            interpreter_reason(message),
            "Given groups=1, expected 3 channels"
        );
        assert_eq!(
            interpreter_reason("plain message\nbacktrace"),
            "plain message"
        );
    }

    fn tree() -> ModelSummary {
        let mut root = ModuleNode::new("", "", "Net");
        let mut fc = ModuleNode::new("fc", "fc", "Linear");
        fc.parameters = vec![crate::summary::TensorRecord::new(
            "weight",
            vec![10, 512],
            DType::Float32,
            true,
        )];
        root.children.push(fc);
        ModelSummary::new("net.pt", SourceKind::TorchScript, root)
    }

    #[test]
    fn apply_places_outputs_and_counts_by_path() {
        let out = TensorValue {
            shape: vec![2, 10],
            dtype: DType::Float32,
        };
        let m = Measurement {
            inputs: vec![TensorValue {
                shape: vec![2, 512],
                dtype: DType::Float32,
            }],
            modules: vec![
                ModuleMeasurement {
                    path: "fc".into(),
                    outputs: vec![out.clone()],
                    repeat_outputs: vec![],
                    op_mult_adds: 10_240,
                },
                // A path the tree lacks hands its count to the nearest ancestor it has.
                ModuleMeasurement {
                    path: "fc.inner".into(),
                    outputs: vec![out.clone()],
                    repeat_outputs: vec![],
                    op_mult_adds: 5,
                },
                ModuleMeasurement {
                    path: "".into(),
                    outputs: vec![out.clone()],
                    repeat_outputs: vec![],
                    op_mult_adds: 0,
                },
            ],
            edges: vec![],
            forward_schema: "forward(Tensor x) -> Tensor".into(),
            warnings: vec!["deprecated".into()],
            more_warnings: 0,
            uncounted: vec![],
            value_dependent: vec![],
            fills: vec![],
        };
        let mut s = tree();
        apply(&mut s, &m);
        let fc = s.root.find("fc").unwrap();
        assert_eq!(fc.outputs, Some(vec![out.clone()]));
        assert_eq!(fc.op_mult_adds, Some(10_245));
        assert_eq!(fc.mult_adds, Some(5_120 * 2));
        assert_eq!(s.root.op_mult_adds, Some(0));
        assert_eq!(s.root.subtree_op_mult_adds(), Some(10_245));
        assert_eq!(s.inputs, m.inputs);
        assert_eq!(s.dataflow, Some(vec![]));
        assert_eq!(
            s.notes,
            vec!["libtorch warned while loading or running the model: deprecated"]
        );
    }

    #[test]
    fn repeated_calls_keep_every_output_and_add_their_operators() {
        let v = |n| TensorValue {
            shape: vec![1, n],
            dtype: DType::Float32,
        };
        let lines = vec![
            Line::Schema("forward(Tensor x) -> Tensor".into()),
            Line::Edge {
                from: "act".into(),
                to: "fc".into(),
                only_consumer: true,
            },
            Line::Edge {
                from: "act".into(),
                to: "fc".into(),
                only_consumer: false,
            },
            Line::Op {
                path: "fc".into(),
                op: "aten::mm".into(),
                args: vec![
                    protocol::Arg::Tensor(vec![1, 4]),
                    protocol::Arg::Tensor(vec![4, 2]),
                ],
            },
            Line::Call {
                path: "act".into(),
                outputs: vec![v(4)],
            },
            Line::Call {
                path: "act".into(),
                outputs: vec![v(2)],
            },
        ];
        let m = assemble(Path::new("x.pt"), vec![], lines).unwrap();
        assert_eq!(
            m.edges,
            vec![DataEdge {
                from: "act".into(),
                to: "fc".into(),
                only_consumer: false
            }]
        );
        assert_eq!(
            m.modules[0],
            ModuleMeasurement {
                path: "fc".into(),
                outputs: vec![],
                repeat_outputs: vec![],
                op_mult_adds: 8
            }
        );
        assert_eq!(m.modules[1].outputs, vec![v(4)]);
        assert_eq!(m.modules[1].repeat_outputs, vec![vec![v(2)]]);
    }

    #[test]
    fn options_become_inputs() {
        let opts = LoadOptions {
            input_sizes: vec![vec![1, 16], vec![1, 8]],
            batch_size: Some(4),
            dtypes: vec![DType::Float16],
            ..LoadOptions::default()
        };
        let specs = input_specs(&opts);
        assert_eq!(
            specs,
            vec![
                InputSpec {
                    shape: vec![4, 16],
                    dtype: DType::Float16
                },
                InputSpec {
                    shape: vec![4, 8],
                    dtype: DType::Float16
                },
            ]
        );
        // One dtype per input, in order: Whisper's float features and integer token ids.
        let mixed = LoadOptions {
            input_sizes: vec![vec![1, 8, 32], vec![1, 4]],
            dtypes: vec![DType::Float32, DType::Int64],
            ..LoadOptions::default()
        };
        let dtypes: Vec<DType> = input_specs(&mixed).iter().map(|s| s.dtype).collect();
        assert_eq!(dtypes, [DType::Float32, DType::Int64]);
        let plain = LoadOptions {
            input_sizes: vec![vec![1, 8]],
            ..LoadOptions::default()
        };
        assert_eq!(
            input_specs(&plain)[0],
            InputSpec {
                shape: vec![1, 8],
                dtype: DType::Float32
            }
        );
    }

    #[test]
    fn bad_sizes_are_refused_before_libtorch_sees_them() {
        let spec = |shape: Vec<i64>| InputSpec {
            shape,
            dtype: DType::Float32,
        };
        let err = input_values("m.pt", &[spec(vec![1, 0, 4])])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.pt: input 1 [1, 0, 4]: every size must be at least 1"
        );
        let err = input_values("m.pt", &[spec(vec![1 << 40, 1 << 40])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("too large"), "{err}");
        // The built-ins' limit, 2^26 elements, exactly.
        assert!(input_values("m.pt", &[spec(vec![1, 1, 8192, 8192])]).is_ok());
        let err = input_values("m.pt", &[spec(vec![1, 1, 8192, 8193])])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.pt: input 1 [1, 1, 8192, 8193]: too large for a CPU forward pass (limit 67,108,864 \
             elements); use a smaller batch or input size"
        );
    }
}
