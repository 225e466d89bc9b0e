//! One function per command: load what it names, build the report, write it.

use super::args::{
    Cli, Command, CompareArgs, LinearArgs, LintArgs, ListArgs, PlanArgs, SourceArgs, SummaryArgs,
};
use super::{Failure, Loader};
use crate::linear::LinearReport;
use crate::output::emit;
use crate::reports::table::{Column, TableOptions};
use crate::reports::{self, Format};
use crate::sources::builtins::ModelRef;
use crate::summary::ModelSummary;
use anyhow::anyhow;
use std::ffi::{OsStr, OsString};
use std::path::Path;

fn table_options(args: &SummaryArgs) -> Result<TableOptions, Failure> {
    let columns = args
        .columns
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.parse::<Column>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Usage(anyhow!(e)))?;
    Ok(TableOptions {
        max_depth: args.depth,
        columns,
        ascii: args.ascii,
        var_names: args.var_names,
    })
}

/// The model files among `models`, which `--output` must not replace.
fn input_files(models: &[OsString]) -> Vec<&Path> {
    models
        .iter()
        .filter_map(|m| ModelRef::resolve(m).ok().and_then(ModelRef::file))
        .collect()
}

/// Writes a report as `--output` and `--force` ask, never onto one of `models`.
fn write(text: &str, output: &super::args::OutputArgs, models: &[OsString]) -> Result<(), Failure> {
    Ok(emit(
        text,
        output.output.as_deref(),
        output.force,
        &input_files(models),
    )?)
}

/// A model argument as messages show it.
fn shown(model: &OsStr) -> String {
    crate::text::path(Path::new(model))
}

/// The load options the arguments ask for, once they are consistent (a `--dtype` per input or one).
fn load_options(source: &SourceArgs) -> Result<crate::sources::LoadOptions, Failure> {
    let opts = source.load_options();
    opts.check_dtypes()
        .map_err(|e| Failure::Usage(anyhow!(e)))?;
    Ok(opts)
}

fn load_model(
    loader: &dyn Loader,
    model: &OsStr,
    source: &SourceArgs,
) -> Result<ModelSummary, Failure> {
    loader
        .load(model, &load_options(source)?)
        .map_err(|e| Failure::Run(e.into()))
}

fn summary(loader: &dyn Loader, args: SummaryArgs) -> Result<(), Failure> {
    let opts = table_options(&args)?;
    let summary = load_model(loader, &args.model, &args.source)?;
    let text = match args.output.format {
        Format::Table => reports::summary::render(&summary, &opts),
        Format::Json => reports::json::to_string(&reports::json::summary_json(&summary)),
        Format::Csv => reports::csv::render(&summary),
        Format::Markdown => reports::markdown::render(&summary, &opts),
        Format::Html => reports::html::summary(&summary, opts.max_depth),
    };
    write(&text, &args.output, std::slice::from_ref(&args.model))
}

fn compare(loader: &dyn Loader, args: CompareArgs) -> Result<(), Failure> {
    let summaries = args
        .models
        .iter()
        .map(|m| load_model(loader, m, &args.source))
        .collect::<Result<Vec<_>, _>>()?;
    let text = match args.output.format {
        Format::Json => reports::compare::render_json(&summaries),
        Format::Html => reports::html::compare(&summaries),
        format => {
            let comparison = reports::compare::compare(&summaries);
            match format {
                Format::Csv => reports::compare::render_csv(&comparison),
                Format::Markdown => reports::compare::render_markdown(&comparison),
                _ => reports::compare::render_text(&comparison),
            }
        }
    };
    write(&text, &args.output, &args.models)
}

/// A transformer `plan` can take from its architecture alone: a built-in language model's name, or a
/// `config.json` file.
fn architecture_of(model: &OsStr) -> Result<Option<crate::architectures::Architecture>, Failure> {
    if let Some(preset) = model.to_str().and_then(crate::architectures::presets::find) {
        return Ok(Some(preset.architecture()));
    }
    let path = Path::new(model);
    if path.extension().is_some_and(|e| e == "json") && path.is_file() {
        // A config is a few KiB; anything far larger is not one.
        const MAX_CONFIG_BYTES: u64 = 1 << 20;
        let too_large = std::fs::metadata(path).map(|m| m.len() > MAX_CONFIG_BYTES);
        if too_large.unwrap_or(false) {
            return Err(Failure::Run(anyhow!(
                "{}: larger than 1 MiB, not a model config",
                shown(model)
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Run(anyhow!("{}: {e}", shown(model))))?;
        let arch = crate::architectures::Architecture::from_json(&text)
            .map_err(|e| Failure::Run(anyhow!("{}: {e}", shown(model))))?;
        return Ok(Some(arch));
    }
    Ok(None)
}

fn render_step(plan: &crate::plan::StepPlan, format: Format) -> String {
    match format {
        Format::Table => reports::plan::step_text(plan),
        Format::Json => reports::plan::step_json(plan),
        Format::Csv => reports::plan::step_csv(plan),
        Format::Markdown => reports::plan::step_markdown(plan),
        Format::Html => reports::html::step_plan(plan),
    }
}

fn step_options(args: &PlanArgs, batch: u64) -> crate::plan::StepPlanOptions {
    crate::plan::StepPlanOptions {
        optimizer: args.optimizer,
        precision: args.precision_or_fp32(),
        parallelism: args.parallelism(),
        budget: args.budget,
        batch,
        checkpointing: args.checkpointing,
        attention: args.attention.unwrap_or_default(),
        device: args.device,
    }
}

fn state_options(args: &PlanArgs) -> crate::plan::StateOptions {
    crate::plan::StateOptions {
        optimizer: args.optimizer,
        precision: args.precision_or_fp32(),
        parallelism: args.parallelism(),
        inference: false,
    }
}

/// A transformer's weights read header-only, with the architecture found for them.
struct TransformerFile {
    summary: ModelSummary,
    found: crate::plan::from_file::FileArchitecture,
}

/// The precision a weights file's dtype implies when none is asked for: float32 → fp32, 16-bit →
/// 16-bit mixed precision, anything else (quantized) → bf16 mixed precision with the weights as stored.
fn implied_precision(summary: &ModelSummary) -> crate::memory::Precision {
    use crate::dtype::DType;
    use crate::memory::Precision;
    let mut by_dtype: std::collections::BTreeMap<DType, u64> = Default::default();
    for (_, n) in summary.root.walk() {
        for p in n.parameters.iter().filter(|p| !p.is_tied()) {
            *by_dtype.entry(p.dtype).or_default() += p.numel();
        }
    }
    match by_dtype.into_iter().max_by_key(|(_, n)| *n).map(|(d, _)| d) {
        Some(DType::Float32) | None => Precision::Full(DType::Float32),
        Some(DType::Float64) => Precision::Full(DType::Float64),
        Some(DType::Float16) => Precision::Mixed(DType::Float16),
        Some(_) => Precision::Mixed(DType::BFloat16),
    }
}

/// A transformer's weights file (a Hugging Face folder, safetensors, a state dict, GGUF) whose
/// architecture can be found: `Ok(None)` when `model` is not weights, or is but names no transformer
/// and no --seq-len asks for one.
fn transformer_file(args: &PlanArgs) -> Result<Option<TransformerFile>, Failure> {
    let path = Path::new(&args.model);
    if !args.source.input_sizes.is_empty() || !(path.is_dir() || path.is_file()) {
        return Ok(None);
    }
    let Ok(summary) = crate::sources::read_file(path) else {
        // Not a file tchinfo reads as weights: the usual path reports why.
        return Ok(None);
    };
    if !crate::plan::from_file::is_weights(&summary) {
        return Ok(None);
    }
    let name = shown(&args.model);
    match crate::plan::from_file::architecture(path, &summary) {
        Ok(Some(found)) => Ok(Some(TransformerFile { summary, found })),
        Ok(None) if args.source.seq_len.is_some() => Err(Failure::Run(anyhow!(
            "{name}: its tensor names are not a Llama, Mistral, Qwen2, Mixtral, GPT-2 or BERT layout, \
             so the transformer's architecture is unknown; put its config.json beside it (or give the \
             config.json as the model)"
        ))),
        Ok(None) => Ok(None),
        Err(e) => Err(Failure::Run(anyhow!("{name}: {e}"))),
    }
}

/// A transformer from its architecture: no weights, no run (see [`crate::plan::transformer`]). With
/// a weights file, its parameters (count, names, and dtype when no --precision is given) are the
/// file's.
fn plan_transformer(
    args: &PlanArgs,
    arch: &crate::architectures::Architecture,
    file: Option<&TransformerFile>,
) -> Result<String, Failure> {
    use crate::architectures::Tokens;
    use crate::plan::trainable::Training;
    use crate::plan::transformer::{FormulaOptions, activations_trained};
    let name = shown(&args.model);
    let batch = args.source.batch_size.unwrap_or(1) as u64;
    let seq = args
        .source
        .seq_len
        .map_or_else(|| arch.default_seq_len(), |s| s as u64);
    arch.check_tokens(Tokens { batch, seq })
        .map_err(|e| Failure::Run(anyhow!("{name}: {e}")))?;
    let heads_known = file.is_none_or(|f| f.found.heads_known);
    let attention = args.attention.unwrap_or(
        if args.device == crate::plan::Device::Cpu
            && heads_known
            && crate::plan::transformer::has_dropout(arch)
        {
            crate::plan::AttentionKind::Eager
        } else {
            crate::plan::AttentionKind::Fused
        },
    );
    if !heads_known && attention == crate::plan::AttentionKind::Eager {
        return Err(Failure::Run(anyhow!(
            "{name}: eager attention's s² term needs the head count, which tensor shapes do not hold; \
             put the model's config.json beside it"
        )));
    }
    let built;
    let tree = match file {
        Some(f) => &f.summary.root,
        None => {
            built = arch.module_tree();
            &built
        }
    };
    let finetune = args.finetune();
    let selected = finetune
        .select(tree)
        .map_err(|e| Failure::Usage(anyhow!("{name}: {e}")))?;
    let mut options = step_options(args, batch);
    options.attention = attention;
    let stored_as_file = file.is_some() && args.precision.is_none();
    if let (Some(f), true) = (file, stored_as_file) {
        options.precision = implied_precision(&f.summary);
    }
    let state_options = crate::plan::StateOptions {
        precision: options.precision,
        ..state_options(args)
    };
    let mut state = crate::plan::state::state_of(&selected.tensors, &state_options);
    state.gathered = crate::plan::state::zero3_gathered(
        tree,
        options.activation_bytes(),
        &state_options.parallelism,
    );
    if let (Some(f), true) = (file, stored_as_file) {
        // The file's own bytes (quantized blocks included), adapters in the training precision.
        let stored: u64 = f
            .summary
            .root
            .walk()
            .iter()
            .flat_map(|(_, n)| n.parameters.iter().filter(|p| !p.is_tied()))
            .map(|p| p.bytes())
            .sum();
        let adapters: u64 = selected.adapters.iter().map(|a| a.params()).sum();
        let width = match options.precision {
            crate::memory::Precision::Full(d) | crate::memory::Precision::Mixed(d) => d.bytes(),
        };
        state.per_gpu.weights = adapters
            .checked_mul(width)
            .and_then(|a| a.checked_add(stored))
            .map(|bytes| crate::plan::state::split_weights(bytes, &state_options.parallelism));
    }
    let mut notes = Vec::new();
    if let Some(f) = file {
        notes.push(format!("architecture from {}", f.found.from));
        if !f.found.heads_known {
            notes.push(
                "head count assumed (shapes do not hold it; under fused attention it sets only a 4-byte log-sum-exp per head and token)"
                    .into(),
            );
        }
        if stored_as_file {
            notes.push(format!(
                "weights as stored in the file, trained in {} (give --precision to change)",
                options.precision.name()
            ));
        }
    }
    if !finetune.is_active() && selected.trainable() < selected.params() {
        notes.push(
            "only the parameters the file marks trainable are trained (a GGUF file's quantized \
             tensors are frozen): give --lora-rank for an adapter fine-tune"
                .into(),
        );
    }
    if let Some(d) = finetune.describe(&selected) {
        notes.push(d);
        notes.push(
            "activations as the fine-tune keeps them: nothing below the first trained part, frozen \
             projections keep no input, adapters their input and rank-wide intermediate"
                .into(),
        );
    }
    // Full training unless a fine-tune is asked (a file's frozen tensors alone do not change what the
    // formula counts: the note above says they are frozen).
    let training = if finetune.is_active() {
        Training::of(&selected, arch.layers())
    } else {
        Training::full(arch.layers())
    };
    let formula = |batch| {
        let mut a = activations_trained(
            arch,
            &FormulaOptions {
                tokens: Tokens { batch, seq },
                activation_bytes: options.activation_bytes(),
                mask_bytes: args.device.mask_bytes(options.activation_bytes()),
                attention,
                checkpointing: args.checkpointing,
                tensor_parallel: args.tensor_parallel,
            },
            &training,
        );
        let head_trains = selected
            .tensors
            .iter()
            .any(|t| t.trainable && t.shape.iter().product::<u64>() == a.head_params);
        if !head_trains {
            a.head_params = 0;
        }
        for n in &notes {
            a.formula.push_str("; ");
            a.formula.push_str(n);
        }
        a
    };
    let plan = crate::plan::StepPlan::new(
        &format!("{name} ({seq} tokens per sequence)"),
        selected.params(),
        selected.trainable(),
        state,
        crate::plan::Activations::Formula(formula(batch)),
        Some((formula(1), formula(2))),
        options,
    )
    .ok_or_else(|| Failure::Run(anyhow!("{name}: the plan's figures overflow 64 bits")))?;
    Ok(render_step(&plan, args.output.format))
}

/// A batch-2 step holding at most this much for backward is small enough that a third point is cheap.
const THIRD_POINT_MAX_HELD: u64 = 64 << 20;

/// Measured training steps at batches 1 and 2 (and 3 when they are small, to check the line).
fn plan_measured(
    loader: &dyn Loader,
    args: &PlanArgs,
    opts: &crate::sources::LoadOptions,
) -> Option<Result<String, Failure>> {
    let mut runs = match loader.measure_training(&args.model, opts, &[1, 2])? {
        Ok(runs) => runs,
        Err(e) => return Some(Err(Failure::Run(e.into()))),
    };
    // A third point costs as much as the first two together; it is taken when the steps are small.
    // Judged by the bytes measured, not by how long the steps took, so one model's plan is the same
    // on every run, however loaded the machine.
    if runs.fixed_batch.is_none()
        && runs
            .runs
            .iter()
            .all(|r| r.held_for_backward <= THIRD_POINT_MAX_HELD)
        && let Some(Ok(third)) = loader.measure_training(&args.model, opts, &[3])
    {
        runs.runs.extend(third.runs);
    }
    Some((|| {
        let mut structure = opts.clone();
        structure.forward = false;
        let summary = load_model_with(loader, &args.model, &structure)?;
        // Fine-tuning changes which parameters get gradients and optimizer state; the activations
        // stay as measured with everything trained (frozen layers still keep what backward through
        // them needs; frozen convolutions and linears need not keep their inputs: an upper bound).
        let selected = args
            .finetune()
            .select(&summary.root)
            .map_err(|e| Failure::Usage(anyhow!("{}: {e}", shown(&args.model))))?;
        let mut state = crate::plan::state::state_of(&selected.tensors, &state_options(args));
        state.gathered = crate::plan::state::zero3_gathered(
            &summary.root,
            step_options(args, 1).activation_bytes(),
            &state_options(args).parallelism,
        );
        let batch = opts
            .batch_size
            .or_else(|| {
                opts.input_sizes
                    .first()
                    .filter(|s| s.len() == 4)
                    .map(|s| s[0])
            })
            .unwrap_or(1) as u64;
        let batch = runs.fixed_batch.unwrap_or(batch);
        let measured = crate::plan::MeasuredActivations::from_runs(&runs).ok_or_else(|| {
            Failure::Run(anyhow!(
                "{}: no training step was measured",
                shown(&args.model)
            ))
        })?;
        let plan = crate::plan::StepPlan::new(
            &summary.name,
            selected.params(),
            selected.trainable(),
            state,
            crate::plan::Activations::Measured(measured),
            None,
            step_options(args, batch),
        )
        .ok_or_else(|| {
            Failure::Run(anyhow!(
                "{}: the plan's figures overflow 64 bits",
                shown(&args.model)
            ))
        })?;
        Ok(render_step(&plan, args.output.format))
    })())
}

fn load_model_with(
    loader: &dyn Loader,
    model: &OsStr,
    opts: &crate::sources::LoadOptions,
) -> Result<ModelSummary, Failure> {
    loader.load(model, opts).map_err(|e| Failure::Run(e.into()))
}

/// Training plans come from measured steps (built-in image models), or from the architecture
/// (transformer language models and configs); other models, and inference plans, from two forward
/// passes: at the batch asked for (`--batch-size`, else the batch of `--input-size`, else 1) and at one
/// more, so activations per sample are measured.
fn plan(loader: &dyn Loader, args: PlanArgs) -> Result<(), Failure> {
    args.parallelism()
        .check()
        .map_err(|e| Failure::Usage(anyhow!(e)))?;
    if args.device == crate::plan::Device::Cpu
        && (args.gpus > 1 || args.zero > 0 || args.tensor_parallel > 1)
    {
        return Err(Failure::Usage(anyhow!(
            "--device cpu plans one CPU process: --gpus, --zero and --tensor-parallel are for GPUs"
        )));
    }
    if !args.inference
        && let Some(arch) = architecture_of(&args.model)?
    {
        let text = plan_transformer(&args, &arch, None)?;
        return write(&text, &args.output, std::slice::from_ref(&args.model));
    }
    if !args.inference
        && let Some(file) = transformer_file(&args)?
    {
        let text = plan_transformer(&args, &file.found.arch.clone(), Some(&file))?;
        return write(&text, &args.output, std::slice::from_ref(&args.model));
    }
    if args.tensor_parallel > 1 || args.checkpointing != crate::plan::Checkpointing::None {
        if !Path::new(&args.model).exists() {
            // A name that is nothing at all is reported as such, not as an option misused.
            let mut structure = load_options(&args.source)?;
            structure.forward = false;
            load_model_with(loader, &args.model, &structure)?;
        }
        return Err(Failure::Usage(anyhow!(
            "--tensor-parallel and --checkpointing are for transformer plans (a built-in language model \
             or a config.json)"
        )));
    }
    let mut opts = load_options(&args.source)?;
    opts.forward = true;
    if !args.inference
        && let Some(text) = plan_measured(loader, &args, &opts)
    {
        return write(&text?, &args.output, std::slice::from_ref(&args.model));
    }
    if args.gpus > 1 || args.zero > 0 {
        return Err(Failure::Usage(anyhow!(
            "--gpus and --zero are for measured and transformer training plans"
        )));
    }
    if args.finetune().is_active() {
        return Err(Failure::Usage(anyhow!(
            "--train, --freeze and --lora-rank are for training plans (built-in models, transformer \
             configs and weights files)"
        )));
    }
    let load = |o: &crate::sources::LoadOptions| {
        loader
            .load(&args.model, o)
            .map_err(|e| Failure::Run(e.into()))
    };
    let first = load(&opts)?;
    if crate::sources::graph::has_unshaped_outputs(&first) {
        return Err(Failure::Run(anyhow!(
            "{}: the file records no shape for some module outputs, so their activations cannot be counted",
            shown(&args.model)
        )));
    }
    let model_error =
        |e: crate::plan::PlanError| Failure::Run(anyhow!("{}: {e}", shown(&args.model)));
    // The batch the first run used, which the loader took from --batch-size or from the input size.
    let batch = first
        .inputs
        .first()
        .and_then(|i| i.shape.first())
        .ok_or_else(|| model_error(crate::plan::PlanError::NoForwardPass))?;
    opts.batch_size = Some(
        i64::try_from(*batch)
            .ok()
            .and_then(|b| b.checked_add(1))
            .ok_or_else(|| {
                Failure::Run(anyhow!(
                    "{}: batch {batch} is too large",
                    shown(&args.model)
                ))
            })?,
    );
    let second = load(&opts)?;
    let options = crate::plan::PlanOptions {
        optimizer: args.optimizer,
        precision: args.precision_or_fp32(),
        budget: args.budget,
        inference: args.inference,
    };
    let plan = crate::plan::Plan::new(&first, &second, options).map_err(model_error)?;
    let text = match args.output.format {
        Format::Table => reports::plan::render_text(&plan),
        Format::Json => reports::plan::render_json(&plan),
        Format::Csv => reports::plan::render_csv(&plan),
        Format::Markdown => reports::plan::render_markdown(&plan),
        Format::Html => reports::html::plan(&plan),
    };
    write(&text, &args.output, std::slice::from_ref(&args.model))
}

/// The HTML report draws models and plans; a command with nothing to draw says so before any work.
fn no_html(format: Format, command: &str) -> Result<(), Failure> {
    if format == Format::Html {
        return Err(Failure::Usage(anyhow!(
            "{command} has no HTML report (--format html is for summary, compare and plan; use table, json, \
             csv or markdown)"
        )));
    }
    Ok(())
}

fn lint(loader: &dyn Loader, args: LintArgs) -> Result<(), Failure> {
    no_html(args.output.format, "lint")?;
    let summary = load_model(loader, &args.model, &args.source)?;
    let report = crate::summary::lint::redundant_biases(&summary);
    let text = match args.output.format {
        Format::Table => reports::lint::render_text(&summary.name, &report),
        Format::Json => reports::lint::render_json(&summary.name, &report),
        Format::Csv => reports::lint::render_csv(&report),
        Format::Markdown => reports::lint::render_markdown(&summary.name, &report),
        Format::Html => unreachable!("refused above"),
    };
    write(&text, &args.output, std::slice::from_ref(&args.model))
}

fn linear(loader: &dyn Loader, args: LinearArgs) -> Result<(), Failure> {
    no_html(args.output.format, "linear")?;
    let mut report = LinearReport::new(
        args.in_features,
        args.out_features,
        !args.no_bias,
        args.dtype,
    )
    .map_err(|e| Failure::Usage(e.into()))?;
    if report.small_enough_to_build()
        && let Some(counted) = loader.count_linear(
            args.in_features as i64,
            args.out_features as i64,
            !args.no_bias,
        )
    {
        report = report
            .checked_against(counted)
            .map_err(|e| Failure::Run(e.into()))?;
    }
    let text = match args.output.format {
        Format::Table => reports::linear::render_text(&report),
        Format::Json => reports::linear::render_json(&report),
        Format::Csv => reports::linear::render_csv(&report),
        Format::Markdown => reports::linear::render_markdown(&report),
        Format::Html => unreachable!("refused above"),
    };
    write(&text, &args.output, &[])
}

/// The catalogue of built-ins: data, so nothing is built and libtorch is not needed.
fn list(args: ListArgs) -> Result<(), Failure> {
    no_html(args.output.format, "list")?;
    let text = reports::list::render(crate::sources::catalog::CATALOG, args.output.format);
    write(&text, &args.output, &[])
}

pub fn run(cli: Cli, loader: &dyn Loader) -> Result<(), Failure> {
    match cli.command {
        Command::Summary(args) => summary(loader, args),
        Command::Compare(args) => compare(loader, args),
        Command::Plan(args) => plan(loader, args),
        Command::Lint(args) => lint(loader, args),
        Command::Linear(args) => linear(loader, args),
        Command::List(args) => list(args),
    }
}
