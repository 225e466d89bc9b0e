//! The loader behind `tchinfo-torch`: files, plus everything that needs libtorch.

use super::{LoadOptions, SourceError, builtin};
use crate::cli::{BuiltinRow, Loader};
use crate::summary::{ModelSummary, SourceKind};
use std::path::Path;

pub struct TorchLoader;

/// The options as given: how `--batch-size` and a full `N,C,H,W` combine is decided in one place for
/// built-ins and TorchScript alike, [`super::apply_batch`].
fn builtin_options(
    model: &str,
    opts: &LoadOptions,
) -> Result<builtin::BuiltinOptions, SourceError> {
    if opts.input_sizes.len() > 1 {
        return Err(SourceError::Input {
            model: model.to_string(),
            problem: format!(
                "built-in architectures take one input, {} were given",
                opts.input_sizes.len()
            ),
        });
    }
    Ok(builtin::BuiltinOptions {
        num_classes: opts.num_classes,
        input_size: opts.input_sizes.first().cloned(),
        batch_size: opts.batch_size,
        forward: opts.forward,
    })
}

impl Loader for TorchLoader {
    /// An existing file wins over a built-in name, as in the front binary.
    fn load(&self, model: &str, opts: &LoadOptions) -> Result<ModelSummary, SourceError> {
        let path = Path::new(model);
        if path.is_file() {
            let mut summary = super::read_file_with(path, opts)?;
            // A recorded graph (.pt2, ONNX) has its shapes evaluated at the sizes asked for already.
            if opts.forward && !opts.input_sizes.is_empty() && !super::records_shapes(&summary) {
                // Only TorchScript carries code; a state dict is weights under names.
                if summary.source != SourceKind::TorchScript {
                    return Err(SourceError::Input {
                        model: model.to_string(),
                        problem: "a state dict has no forward to run; --input-size needs a \
                                  TorchScript file"
                            .to_string(),
                    });
                }
                super::jit_graph::measure_into(&mut summary, path, opts)?;
            }
            return Ok(summary);
        }
        if builtin::is_builtin(model) {
            return builtin::summarize(model, &builtin_options(model, opts)?);
        }
        Err(SourceError::not_a_model(model, builtin::suggest(model)))
    }

    /// Builds a real `tch::nn::linear` layer and counts the elements of every variable it created.
    fn count_linear(&self, in_features: i64, out_features: i64, bias: bool) -> Option<u64> {
        let _guard = tch::no_grad_guard();
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let config = tch::nn::LinearConfig {
            ws_init: tch::nn::Init::Const(0.0),
            bs_init: Some(tch::nn::Init::Const(0.0)),
            bias,
        };
        let _layer = tch::nn::linear(vs.root(), in_features, out_features, config);
        Some(vs.variables().values().map(|t| t.numel() as u64).sum())
    }

    fn builtins(&self) -> Result<Vec<BuiltinRow>, SourceError> {
        builtin::list()
            .into_iter()
            .map(|info| {
                Ok(BuiltinRow {
                    name: info.name.to_string(),
                    family: info.family.to_string(),
                    default_input: info.default_input,
                    params: builtin::param_count(info.name, None)?,
                })
            })
            .collect()
    }
}
