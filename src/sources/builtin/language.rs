//! The built-in language models: the presets of `tchinfo_core::architectures::presets` (GPT-2, BERT,
//! Llama, Mistral, Qwen2.5, Mixtral), and any config of those families.
//!
//! A model whose weights fit ([`BUILD_LIMIT_BYTES`]) is built with tch in its config's dtype — every
//! variable named as in the transformers model's state dict — and run once on token ids (eval mode, no
//! grad, no KV cache, sdpa attention), as the image models are. A larger one (a 7B, Mixtral) is described
//! from its config without allocating any weight: the module tree by `tchinfo_core::architectures`,
//! output shapes and mult-adds computed from the architecture, and a note says so. The two descriptions
//! are the same for every model small enough to build (tests/transformers_builtin.rs), so which one a
//! summary came from changes no number. A forward pass too heavy to run here (its outputs over
//! [`FORWARD_LIMIT_BYTES`], or its products over [`FORWARD_LIMIT_MULT_ADDS`]) is likewise computed from
//! the architecture.

use super::describe;
use super::module::Module;
use super::recorder::{self, Act, Recorder};
use super::scope::Scope;
use super::{BuiltinOptions, ModuleCall, bert, gpt2, llama};
use crate::progress::Progress;
use crate::sources::{MAX_INPUT_ELEMENTS, SourceError};
use crate::summary::ModelSummary;
use tch::{Device, Kind, TchError, Tensor, nn::VarStore};
use tchinfo_core::architectures::{Architecture, Tokens, presets};
use tchinfo_core::dtype::DType;
use tchinfo_core::units;

/// Weights up to this size are built with tch; larger models are described from their config (a shared
/// machine has room for a few GiB, not for a 7B model's 14 GiB).
pub const BUILD_LIMIT_BYTES: u64 = 2 << 30;
/// A forward pass whose module outputs would take more than this is computed from the architecture.
pub const FORWARD_LIMIT_BYTES: u64 = 2 << 30;
/// A forward pass of more mult-adds than this (several seconds on a CPU) is computed from the
/// architecture.
pub const FORWARD_LIMIT_MULT_ADDS: u64 = 100_000_000_000;

/// The preset called `name` (its name or its Hub id, any case).
pub(super) fn find(name: &str) -> Option<&'static presets::Preset> {
    presets::find(name)
}

fn input_error(name: &str, problem: impl Into<String>) -> SourceError {
    SourceError::Input {
        model: name.to_string(),
        problem: problem.into(),
    }
}

/// The token ids to run on: `--batch-size` sequences (1 by default) of `--seq-len` tokens (128).
fn tokens(name: &str, arch: &Architecture, opts: &BuiltinOptions) -> Result<Tokens, SourceError> {
    if opts.num_classes.is_some() {
        return Err(input_error(
            name,
            "a language model has no classifier to resize; --num-classes is for image models",
        ));
    }
    if opts.input_size.is_some() {
        return Err(input_error(
            name,
            "a language model takes token ids: give their number with --seq-len (and --batch-size), \
             not --input-size",
        ));
    }
    let batch = opts.batch_size.unwrap_or(1);
    let seq = opts.seq_len.unwrap_or(arch.default_seq_len() as i64);
    if batch < 1 || seq < 1 {
        return Err(input_error(
            name,
            format!(
                "the batch size and the sequence length must be at least 1, got {batch} × {seq}"
            ),
        ));
    }
    let t = Tokens {
        batch: batch as u64,
        seq: seq as u64,
    };
    arch.check_tokens(t).map_err(|p| input_error(name, p))?;
    if t.batch
        .checked_mul(t.seq)
        .is_none_or(|n| n > MAX_INPUT_ELEMENTS)
    {
        return Err(input_error(
            name,
            format!(
                "{batch} × {seq} tokens is more than the {} a summary takes",
                units::thousands(MAX_INPUT_ELEMENTS)
            ),
        ));
    }
    Ok(t)
}

fn kind_of(dtype: DType) -> Kind {
    match dtype {
        DType::BFloat16 => Kind::BFloat16,
        DType::Float16 => Kind::Half,
        DType::Float64 => Kind::Double,
        _ => Kind::Float,
    }
}

fn build(root: &Scope, arch: &Architecture) -> Result<Module, TchError> {
    let root = root.with_param_kind(kind_of(arch.dtype()));
    match arch {
        Architecture::Gpt2(c) => gpt2::gpt2(&root, c),
        Architecture::Bert(c) => bert::bert(&root, c),
        Architecture::Llama(c) => llama::causal_lm(&root, c),
    }
}

/// What the summary says about where its numbers come from.
fn input_note(name: &str, arch: &Architecture, t: Option<Tokens>) -> String {
    let dtype = match arch.dtype() {
        DType::Float32 => String::new(),
        d => format!(
            "; weights in {d}, the config's torch_dtype, as transformers' from_config builds them"
        ),
    };
    match t {
        Some(t) => format!(
            "{name}: input {} × {} token ids (int64; --batch-size, --seq-len, default 1 × {}), eval \
             mode, no KV cache{dtype}",
            t.batch,
            t.seq,
            arch.default_seq_len()
        ),
        None => format!("{name}: no forward pass{dtype}"),
    }
}

/// `name` as `arch` describes it, built with tch and run when it fits, else from its config; with every
/// module call of the forward pass when one ran (empty otherwise).
pub fn summarize_traced(
    name: &str,
    arch: &Architecture,
    opts: &BuiltinOptions,
) -> Result<(ModelSummary, Vec<ModuleCall>), SourceError> {
    let t = tokens(name, arch, opts)?;
    let forward = opts.forward.then_some(t);
    let params = arch.parameter_count();
    let weight_bytes = params.saturating_mul(arch.dtype().bytes());
    if weight_bytes > BUILD_LIMIT_BYTES {
        let mut summary = arch.summary(name, forward);
        summary.notes.push(format!(
            "{name} was not built: its {} parameters take {} in {}, over the {} tchinfo builds here. \
             Described from its config without allocating any weight: the module tree as transformers \
             builds it, {}",
            units::thousands(params),
            units::binary(weight_bytes),
            arch.dtype(),
            units::binary(BUILD_LIMIT_BYTES),
            if forward.is_some() {
                "output shapes and mult-adds computed from the architecture (no forward pass ran)"
            } else {
                "no forward pass"
            }
        ));
        summary.notes.push(input_note(name, arch, forward));
        return Ok((summary, Vec::new()));
    }
    if let Some(t) = forward {
        let estimate = arch.summary(name, Some(t));
        let totals = estimate.totals();
        let outputs = totals.activations.map_or(0, |a| a.leaf_output_bytes);
        let products = totals.op_mult_adds.unwrap_or(0);
        if outputs > FORWARD_LIMIT_BYTES || products > FORWARD_LIMIT_MULT_ADDS {
            let mut summary = estimate;
            summary.notes.push(format!(
                "{name} at {} × {} tokens: a forward pass would keep {} of outputs and take {} \
                 mult-adds, more than tchinfo runs here ({}, {}); output shapes and mult-adds computed \
                 from the architecture instead, which gives the same numbers",
                t.batch,
                t.seq,
                units::binary(outputs),
                units::si(products),
                units::binary(FORWARD_LIMIT_BYTES),
                units::si(FORWARD_LIMIT_MULT_ADDS)
            ));
            summary.notes.push(input_note(name, arch, forward));
            return Ok((summary, Vec::new()));
        }
    }
    run(name, arch, forward)
}

fn torch_error(name: &str, context: &str, e: TchError) -> SourceError {
    SourceError::Torch {
        model: name.to_string(),
        context: context.to_string(),
        message: e.to_string(),
    }
}

/// Builds the model with tch and runs it once on distinct valid token ids.
fn run(
    name: &str,
    arch: &Architecture,
    forward: Option<Tokens>,
) -> Result<(ModelSummary, Vec<ModuleCall>), SourceError> {
    let progress = Progress::spinner(format!("building {name}"));
    let _no_grad = tch::no_grad_guard();
    let vs = VarStore::new(Device::Cpu);
    let mut model =
        build(&Scope::root(&vs), arch).map_err(|e| torch_error(name, "building the model", e))?;
    let modules = model.number();
    let recorded = match forward {
        None => None,
        Some(t) => {
            progress.set_message(format!("running {name} on {} × {} tokens", t.batch, t.seq));
            let shape = [t.batch as i64, t.seq as i64];
            let ids = Tensor::f_arange(shape[0] * shape[1], (Kind::Int64, Device::Cpu))
                .and_then(|ids| ids.f_remainder(arch.vocab_size() as i64))
                .and_then(|ids| ids.f_view(shape))
                .map_err(|e| torch_error(name, "making the token ids", e))?;
            let mut rec = Recorder::new(modules);
            let x = Act::free(ids);
            model
                .forward(&x, &mut rec)
                .map_err(|e| SourceError::Input {
                    model: name.to_string(),
                    problem: format!(
                        "the forward pass failed in {} ({}): {}",
                        if e.path.is_empty() { name } else { &e.path },
                        e.type_name,
                        e.message
                    ),
                })?;
            Some((rec, recorder::tensor_value(&x.t)))
        }
    };
    let mut summary = describe::summary(
        name,
        &model,
        &vs,
        recorded.as_ref().map(|(rec, input)| (rec, input.clone())),
    );
    summary.notes.push(input_note(name, arch, forward));
    let paths: Vec<&str> = model.walk().iter().map(|m| m.path.as_str()).collect();
    let calls = match &recorded {
        Some((rec, _)) => rec
            .trace()
            .iter()
            .map(|(id, output)| ModuleCall {
                path: paths[*id].to_string(),
                output: output.clone(),
            })
            .collect(),
        None => Vec::new(),
    };
    Ok((summary, calls))
}
