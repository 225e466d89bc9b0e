//! The command line: argument definitions (clap derive) and dispatch to the reports.
//!
//! Sources are reached through [`Loader`]: the `tchinfo` front binary uses [`FileLoader`] (files, no
//! libtorch) and hands everything else to `tchinfo-torch`, whose loader adds built-ins and forward passes.

use crate::dtype::DType;
use crate::linear::LinearReport;
use crate::output::emit;
use crate::reports::table::{Column, TableOptions};
use crate::reports::{self, Format};
use crate::sources::{LoadOptions, SourceError, torchscript};
use crate::summary::ModelSummary;
use anyhow::anyhow;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tchinfo",
    version,
    about = "Show what is inside a neural network: module tree, parameters, output shapes and memory",
    long_about = "Show what is inside a neural network: module tree, parameter counts per layer, output \
                  shapes, where the parameters sit and how much memory weights and training state take.\n\n\
                  `tchinfo MODEL` is short for `tchinfo summary MODEL`. MODEL is a built-in architecture \
                  (`tchinfo list`) or a TorchScript / torch.save file.\n\n\
                  Units: KiB, MiB, GiB are powers of 2^10 bytes; KB, MB, GB powers of 10^3. Every figure \
                  names the unit it was computed in.",
    after_help = "Examples:\n  tchinfo vgg16\n  tchinfo summary resnet50 --depth 2 --batch-size 8\n  \
                  tchinfo model.pt --input-size 1,3,224,224\n  tchinfo compare vgg16 resnet50 googlenet\n  \
                  tchinfo linear 4096 4096 --no-bias"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The layer table: module tree, output shapes, parameters, mult-adds, and a footer with totals,
    /// where the parameters sit and memory.
    Summary(SummaryArgs),
    /// Several models side by side: parameters by layer kind, heads, mult-adds and memory.
    Compare(CompareArgs),
    /// Memory for training (or inference) at a batch size, and the largest batch that fits a budget.
    ///
    /// Training = weights + gradients + optimizer state + activations, plus float32 master weights under
    /// mixed precision. Adam keeps momentum and variance (so weights + state = ×3, with gradients ×4);
    /// mixed precision with Adam is 16 bytes per parameter (ZeRO's count). Activations are measured by
    /// running the model at two batch sizes (the given one and one more): every leaf layer's output is
    /// what autograd keeps for the backward pass. Inference = weights + the largest live activations
    /// (2 × the largest layer output). KiB/MiB/GiB = 2^10/2^20/2^30 bytes, KB/MB/GB = 10^3/10^6/10^9.
    Plan(PlanArgs),
    /// Find convolutions and Linear layers whose bias feeds straight into a BatchNorm (wasted parameters).
    Lint(LintArgs),
    /// Parameters and memory of one Linear (fully connected) layer.
    Linear(LinearArgs),
    /// The built-in architectures: name, family, default input and parameter count.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A built-in architecture or a model file (files need --input-size).
    pub model: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Optimizer: sgd (no state), momentum (1 state), adam or adamw (2 states).
    #[arg(long, default_value = "adam")]
    pub optimizer: crate::memory::Optimizer,
    /// Precision: fp32, fp16-mixed or bf16-mixed.
    #[arg(long, default_value = "fp32")]
    pub precision: crate::memory::Precision,
    /// Memory budget, e.g. 24GiB or 16GB: report the largest batch that fits.
    #[arg(long, value_parser = crate::units::parse_bytes)]
    pub budget: Option<u64>,
    /// Plan for inference instead of training: weights + the largest live activations.
    #[arg(long)]
    pub inference: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// A built-in architecture or a model file (with --input-size, files are checked on their data flow).
    pub model: String,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Classes of the classifier for built-in architectures (default: the architecture's own, 1000).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub num_classes: Option<i64>,
    /// Input shape: C,H,W for built-ins (batch from --batch-size), the full shape (e.g. 1,3,224,224) for
    /// files. Repeat for a forward that takes several inputs. Giving it for a file runs the model once.
    #[arg(long = "input-size", value_name = "DIMS", value_parser = parse_dims)]
    pub input_sizes: Vec<Vec<i64>>,
    /// Batch size for the forward pass (built-ins; default 1).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: Option<i64>,
    /// Element type of file inputs: f32 (default), f16, bf16, f64, i64 (token ids) …
    #[arg(long)]
    pub dtype: Option<DType>,
    /// Do not run a forward pass: structure and parameters only.
    #[arg(long)]
    pub no_forward: bool,
}

impl SourceArgs {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            num_classes: self.num_classes,
            input_sizes: self.input_sizes.clone(),
            batch_size: self.batch_size,
            dtype: self.dtype,
            forward: !self.no_forward,
        }
    }
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// A built-in architecture (see `tchinfo list`) or a TorchScript / torch.save file.
    pub model: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Show modules down to this depth; deeper ones are folded into their parent row, which then shows its
    /// whole subtree's parameters and mult-adds.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Columns after the layer column, comma separated: output, params, percent, mult-adds, trainable.
    #[arg(long, value_delimiter = ',', default_values_t = Column::DEFAULT.map(|c| c.key().to_string()))]
    pub columns: Vec<String>,
    /// Plain ASCII tree glyphs and bars.
    #[arg(long)]
    pub ascii: bool,
    /// Show each module's name beside its type: `Conv2d (0): 2-1`.
    #[arg(long)]
    pub var_names: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more built-in names or model files.
    #[arg(required = true, num_args = 2..)]
    pub models: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LinearArgs {
    /// Input features (IN).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub in_features: u64,
    /// Output features (OUT).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub out_features: u64,
    /// Leave out the bias (as `bias=False`), and show what that saves.
    #[arg(long)]
    pub no_bias: bool,
    /// Element type of the weights: f32, f16, bf16, f64 or i8.
    #[arg(long, default_value = "f32", value_parser = parse_linear_dtype)]
    pub dtype: DType,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_linear_dtype(s: &str) -> Result<DType, String> {
    let d: DType = s.parse()?;
    match d {
        DType::Float32 | DType::Float16 | DType::BFloat16 | DType::Float64 | DType::Int8 => Ok(d),
        other => Err(format!(
            "dtype {other} is not offered here (use f32, f16, bf16, f64 or i8)"
        )),
    }
}

/// `3,224,224`, `1x3x224x224` or `1 3 224 224`: positive dimensions.
pub fn parse_dims(s: &str) -> Result<Vec<i64>, String> {
    let dims: Result<Vec<i64>, String> = s
        .split([',', 'x', 'X', ' ', '×'])
        .filter(|p| !p.is_empty())
        .map(|p| match p.trim().parse::<i64>() {
            Ok(d) if d > 0 => Ok(d),
            _ => Err(format!("'{p}' in '{s}' is not a positive dimension")),
        })
        .collect();
    let dims = dims?;
    if dims.is_empty() {
        return Err(format!("'{s}' has no dimensions (example: 3,224,224)"));
    }
    Ok(dims)
}

/// How a run failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Arguments that cannot be used (exit code 2, like clap's own errors).
    Usage(anyhow::Error),
    /// A model, file or computation that failed (exit code 1).
    Run(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
        }
    }

    pub fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Usage(e) | Failure::Run(e) => e,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

const SUBCOMMANDS: &[&str] = &[
    "summary", "compare", "plan", "lint", "linear", "list", "help",
];

/// `tchinfo vgg16` means `tchinfo summary vgg16`: insert the subcommand when the first argument is not one.
pub fn normalize_args(mut args: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = args.get(1).and_then(|a| a.to_str())
        && !first.starts_with('-')
        && !SUBCOMMANDS.contains(&first)
    {
        args.insert(1, OsString::from("summary"));
    }
    args
}

/// One built-in architecture, for `tchinfo list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltinRow {
    pub name: String,
    pub family: String,
    pub default_input: [i64; 3],
    pub params: u64,
}

/// What the commands need from the sources.
pub trait Loader {
    fn load(&self, model: &str, opts: &LoadOptions) -> Result<ModelSummary, SourceError>;
    /// Parameters of a real Linear layer of these sizes, to cross-check the formula; `None` if not built.
    fn count_linear(&self, in_features: i64, out_features: i64, bias: bool) -> Option<u64>;
    fn builtins(&self) -> Result<Vec<BuiltinRow>, SourceError>;
}

/// Files only, without libtorch: TorchScript archives and state dicts read for their structure.
pub struct FileLoader;

impl Loader for FileLoader {
    fn load(&self, model: &str, _opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        if std::path::Path::new(model).is_file() {
            torchscript::read_file(std::path::Path::new(model))
        } else {
            Err(SourceError::UnknownModel {
                name: model.to_string(),
                suggestion: None,
            })
        }
    }

    fn count_linear(&self, _: i64, _: i64, _: bool) -> Option<u64> {
        None
    }

    fn builtins(&self) -> Result<Vec<BuiltinRow>, SourceError> {
        Ok(Vec::new())
    }
}

/// True when the command needs libtorch: built-in architectures, forward passes, the Linear cross-check,
/// the list of built-ins. Reading files for their structure does not.
pub fn needs_libtorch(cli: &Cli) -> bool {
    match &cli.command {
        Command::Summary(a) => a.source.load_options().needs_libtorch(&a.model),
        Command::Compare(a) => a
            .models
            .iter()
            .any(|m| a.source.load_options().needs_libtorch(m)),
        Command::Lint(a) => a.source.load_options().needs_libtorch(&a.model),
        Command::Plan(_) | Command::Linear(_) | Command::List(_) => true,
    }
}

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

fn load_model(
    loader: &dyn Loader,
    model: &str,
    source: &SourceArgs,
) -> Result<ModelSummary, Failure> {
    loader
        .load(model, &source.load_options())
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
    };
    Ok(emit(&text, args.output.output.as_deref())?)
}

fn compare(loader: &dyn Loader, args: CompareArgs) -> Result<(), Failure> {
    let summaries = args
        .models
        .iter()
        .map(|m| load_model(loader, m, &args.source))
        .collect::<Result<Vec<_>, _>>()?;
    let text = match args.output.format {
        Format::Json => reports::compare::render_json(&summaries),
        format => {
            let comparison = reports::compare::compare(&summaries);
            match format {
                Format::Csv => reports::compare::render_csv(&comparison),
                Format::Markdown => reports::compare::render_markdown(&comparison),
                _ => reports::compare::render_text(&comparison),
            }
        }
    };
    Ok(emit(&text, args.output.output.as_deref())?)
}

fn plan(loader: &dyn Loader, args: PlanArgs) -> Result<(), Failure> {
    let batch = args.source.batch_size.unwrap_or(1);
    let mut opts = args.source.load_options();
    opts.forward = true;
    let at = |b: i64| {
        let mut o = opts.clone();
        o.batch_size = Some(b);
        loader
            .load(&args.model, &o)
            .map_err(|e| Failure::Run(e.into()))
    };
    let (first, second) = (at(batch)?, at(batch + 1)?);
    let options = crate::plan::PlanOptions {
        batch_size: batch as u64,
        optimizer: args.optimizer,
        precision: args.precision,
        budget: args.budget,
        inference: args.inference,
    };
    let plan = crate::plan::Plan::new(&first, &second, options).ok_or_else(|| {
        Failure::Run(anyhow!(
            "{}: no forward pass could be run to measure activations (files need --input-size)",
            args.model
        ))
    })?;
    let text = match args.output.format {
        Format::Json => reports::plan::render_json(&plan),
        _ => reports::plan::render_text(&plan),
    };
    Ok(emit(&text, args.output.output.as_deref())?)
}

fn lint(loader: &dyn Loader, args: LintArgs) -> Result<(), Failure> {
    let summary = load_model(loader, &args.model, &args.source)?;
    let report = crate::summary::lint::redundant_biases(&summary);
    let text = match args.output.format {
        Format::Json => reports::lint::render_json(&summary.name, &report),
        _ => reports::lint::render_text(&summary.name, &report),
    };
    Ok(emit(&text, args.output.output.as_deref())?)
}

fn linear(loader: &dyn Loader, args: LinearArgs) -> Result<(), Failure> {
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
    };
    Ok(emit(&text, args.output.output.as_deref())?)
}

fn list(loader: &dyn Loader, args: ListArgs) -> Result<(), Failure> {
    let rows = loader.builtins().map_err(|e| Failure::Run(e.into()))?;
    let text = match args.output.format {
        Format::Json => reports::json::to_string(&serde_json::json!({
            "schema": "tchinfo/list",
            "schema_version": reports::json::SCHEMA_VERSION,
            "tchinfo_version": env!("CARGO_PKG_VERSION"),
            "builtins": rows,
        })),
        format => {
            let header: Vec<String> = ["Name", "Family", "Default input", "Params"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let input = r
                        .default_input
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>();
                    vec![
                        r.name.clone(),
                        r.family.clone(),
                        input.join("×"),
                        crate::units::thousands(r.params),
                    ]
                })
                .collect();
            let right = [false, false, false, true];
            match format {
                Format::Markdown => reports::markdown::pipe_table(&header, &cells, &right),
                Format::Csv => {
                    let mut s = reports::csv::line(
                        &["name", "family", "default_input", "params"].map(String::from),
                    );
                    for r in &rows {
                        let input = r
                            .default_input
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>();
                        s += &reports::csv::line(&[
                            r.name.clone(),
                            r.family.clone(),
                            input.join("x"),
                            r.params.to_string(),
                        ]);
                    }
                    s
                }
                _ => {
                    let mut all = vec![header];
                    all.extend(cells);
                    reports::footer::aligned(&all, &right, "")
                }
            }
        }
    };
    Ok(emit(&text, args.output.output.as_deref())?)
}

pub fn run(cli: Cli, loader: &dyn Loader) -> Result<(), Failure> {
    match cli.command {
        Command::Summary(args) => summary(loader, args),
        Command::Compare(args) => compare(loader, args),
        Command::Plan(args) => plan(loader, args),
        Command::Lint(args) => lint(loader, args),
        Command::Linear(args) => linear(loader, args),
        Command::List(args) => list(loader, args),
    }
}

/// The process arguments, parsed (`tchinfo vgg16` meaning `tchinfo summary vgg16`). Bad arguments exit
/// here with clap's message and code 2.
pub fn parse() -> Cli {
    Cli::parse_from(normalize_args(std::env::args_os().collect()))
}

/// Prints a failure as one line on stderr and exits with its code.
pub fn exit_on_failure(result: Result<(), Failure>) {
    if let Err(failure) = result {
        eprintln!("tchinfo: error: {:#}", failure.error());
        std::process::exit(failure.exit_code());
    }
}
