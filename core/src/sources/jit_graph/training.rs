//! Training steps of a TorchScript file, measured for `plan` in the sandboxed child, as built-ins are
//! measured in-process: the file's module in training mode, forward with autograd recording, the mean
//! of its first floating output as the loss, backward, under the counting CPU allocator (the shim's
//! `train` request, src/shim/jit_graph.cpp). The parent gets bytes, never tensors.
//!
//! The promise: a plan is extrapolated only from batches the file really runs at. Batches 1 and 2 are
//! measured in one child; when batch 2 fails, or gives the output batch 1 gave (a trace with its batch
//! baked in), the file is planned at the batch it was asked for alone, measured there, and the plan says
//! why. A model whose output needs no gradient (frozen, or integer all the way) holds nothing for
//! backward: its runs are zeros and the method says so.

use std::path::Path;

use super::protocol::{self, Line};
use super::{InputSpec, Sandbox, error, input_specs, input_values, sandboxed_error};
use crate::plan::{TrainingRun, TrainingRuns};
use crate::sandbox;
use crate::sources::{LoadOptions, SourceError, first_line};
use crate::summary::TensorValue;

const METHOD: &str = "counting CPU allocator around real training steps of the file's forward, run in \
                      the sandbox (training mode, float32, forward and backward)";

/// What one child answered to a training request.
#[derive(Debug, Default)]
struct Steps {
    steps: Vec<(TrainingRun, Vec<u64>)>,
    failed: Vec<(u64, String)>,
    no_grad: bool,
}

impl Steps {
    fn at(&self, batch: u64) -> Option<&(TrainingRun, Vec<u64>)> {
        self.steps.iter().find(|(r, _)| r.batch == batch)
    }

    fn failure(&self, batch: u64) -> Option<&str> {
        self.failed
            .iter()
            .find(|(b, _)| *b == batch)
            .map(|(_, m)| m.as_str())
    }
}

/// Training steps of the TorchScript file at `path` on the inputs `opts` asks for, at `batches` (each
/// input's first dimension replaced), in the sandbox. With the two batches `plan` asks first (1 and 2)
/// a fixed batch is detected and planned for alone; with any other list the runs are returned as they
/// come, and a failed batch is an error.
pub fn measure_training_sandboxed(
    path: &Path,
    opts: &LoadOptions,
    batches: &[i64],
    sandbox: &Sandbox,
) -> Result<TrainingRuns, SourceError> {
    let model = crate::text::path(path);
    let inputs = input_specs(opts);
    let values = input_values(&model, &inputs)?;
    let asked = inputs
        .first()
        .and_then(|i| i.shape.first())
        .map_or(1, |&b| b.max(1) as u64);
    let batches: Vec<u64> = batches.iter().map(|&b| b.max(1) as u64).collect();
    let steps = run(path, &model, &inputs, &values, &batches, sandbox)?;
    if steps.no_grad {
        return Ok(no_grad(asked));
    }
    let runs_of = |steps: &Steps, wanted: &[u64]| -> Option<Vec<TrainingRun>> {
        wanted
            .iter()
            .map(|b| steps.at(*b).map(|(r, _)| *r))
            .collect()
    };
    if batches.len() != 2 {
        return match runs_of(&steps, &batches) {
            Some(runs) => Ok(TrainingRuns {
                runs,
                fixed_batch: None,
                method: METHOD.to_string(),
            }),
            None => Err(step_failed(&model, &steps, &batches)),
        };
    }
    let (small, large) = (batches[0], batches[1]);
    let why_fixed = match (steps.at(small), steps.at(large)) {
        (Some((_, a)), Some((_, b))) if a != b => {
            return Ok(TrainingRuns {
                runs: runs_of(&steps, &batches).unwrap_or_default(),
                fixed_batch: None,
                method: METHOD.to_string(),
            });
        }
        (Some(_), Some((_, out))) => format!(
            "at batch {large} its output kept batch {small}'s shape ({})",
            dims(out)
        ),
        (_, None) => format!(
            "it fails at batch {large} ({})",
            crate::text::shorten(first_line(steps.failure(large).unwrap_or("no result")), 160)
        ),
        (None, Some(_)) => format!(
            "it fails at batch {small} ({})",
            crate::text::shorten(first_line(steps.failure(small).unwrap_or("no result")), 160)
        ),
    };
    // The file's own batch: the one asked for, measured alone unless it was one of the two.
    let run_at_asked = match steps.at(asked) {
        Some((r, _)) => *r,
        None => {
            let again = run(path, &model, &inputs, &values, &[asked], sandbox)?;
            if again.no_grad {
                return Ok(no_grad(asked));
            }
            match again.at(asked) {
                Some((r, _)) => *r,
                // A trace that ran at the small batch and fails at the one asked for.
                None if steps.at(small).is_some() => {
                    return Err(SourceError::Input {
                        model,
                        problem: format!(
                            "its batch is fixed: {why_fixed}; it runs at batch {small}, not at the \
                             {asked} asked for ({})",
                            crate::text::shorten(
                                first_line(again.failure(asked).unwrap_or("no result")),
                                160
                            )
                        ),
                    });
                }
                None => return Err(step_failed(&model, &again, &[asked])),
            }
        }
    };
    Ok(TrainingRuns {
        runs: vec![run_at_asked],
        fixed_batch: Some(asked),
        method: format!("{METHOD}; its batch is fixed: {why_fixed}"),
    })
}

/// Nothing reaches the output with a gradient: no activations are held for backward, none computed.
fn no_grad(batch: u64) -> TrainingRuns {
    TrainingRuns {
        runs: vec![TrainingRun {
            batch,
            held_for_backward: 0,
            backward_peak: 0,
            gradients: 0,
        }],
        fixed_batch: None,
        method: "none: the file's output does not require grad (frozen parameters, or no floating \
                 output), so autograd holds nothing for backward"
            .to_string(),
    }
}

fn dims(d: &[u64]) -> String {
    let d: Vec<String> = d.iter().map(u64::to_string).collect();
    d.join("×")
}

/// The first requested batch that has no step, as an input error naming what libtorch said.
fn step_failed(model: &str, steps: &Steps, batches: &[u64]) -> SourceError {
    let batch = batches
        .iter()
        .copied()
        .find(|b| steps.at(*b).is_none())
        .unwrap_or(1);
    SourceError::Input {
        model: model.to_string(),
        problem: format!(
            "its training step fails at batch {batch}: {}",
            first_line(steps.failure(batch).unwrap_or("no result from the shim"))
        ),
    }
}

/// One sandboxed child measuring `batches`.
fn run(
    path: &Path,
    model: &str,
    inputs: &[InputSpec],
    values: &[TensorValue],
    batches: &[u64],
    sandbox: &Sandbox,
) -> Result<Steps, SourceError> {
    let request = protocol::training_request(inputs, batches);
    let text = {
        let _progress = crate::progress::Progress::spinner(format!(
            "loading {model} and measuring training steps in the sandbox"
        ));
        sandbox::give_notice_once(model, &sandbox.limits);
        sandbox::run_forward(&sandbox.exe, path, &request, &sandbox.limits)
            .map_err(|failure| SourceError::Sandbox {
                model: model.to_string(),
                problem: failure.to_string(),
            })?
            .result
    };
    let lines = protocol::parse(&text).map_err(|message| {
        sandboxed_error(super::shim_error(model, message), model, &sandbox.limits)
    })?;
    let mut schema = String::new();
    let mut steps = Steps::default();
    for line in lines {
        match line {
            Line::Schema(s) => schema = s,
            Line::Step {
                batch,
                held,
                peak,
                gradients,
                output,
            } => steps.steps.push((
                TrainingRun {
                    batch,
                    held_for_backward: held,
                    backward_peak: peak,
                    gradients,
                },
                output,
            )),
            Line::StepError { batch, message } => steps
                .failed
                .push((batch, super::interpreter_reason(&message).to_string())),
            Line::NoGrad { .. } => steps.no_grad = true,
            Line::Error {
                kind,
                message,
                running,
            } => {
                let e = error(
                    path,
                    model,
                    &schema,
                    values,
                    kind,
                    &message,
                    running.as_deref(),
                );
                return Err(sandboxed_error(e, model, &sandbox.limits));
            }
            _ => {}
        }
    }
    Ok(steps)
}
