//! Activations measured from real training steps: what autograd holds for backward, and the peak
//! during backward, as straight lines in the batch size through two small measured batches.
//!
//! A source that can run a model (a built-in, a TorchScript file in the sandbox) runs it in training mode
//! with autograd recording, forward then backward, under a counting CPU allocator, in float32, at a few
//! small batches, and hands back one [`TrainingRun`] per batch. Both figures are allocator bytes: a
//! tensor autograd saves twice, or a view of another, is counted once, and the parameters (allocated
//! before the step) are not counted at all — as PyTorch's own saved-tensor hooks deduplicated by storage
//! count them.

use super::inference::Linear;

/// One measured training step (forward + backward, training mode, float32) at one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingRun {
    pub batch: u64,
    /// Bytes autograd holds for backward once the forward is done: the tensors allocated during the
    /// forward (the input included) that are still alive, the loss and the outputs no autograd node
    /// saved left out. What the forward saved for an output the loss does not use (BERT's pooler) is
    /// in: a training loop holds it while the forward's result lives.
    pub held_for_backward: u64,
    /// The highest the bytes allocated since the start of the step reached during backward: what is
    /// still held, the gradients it allocates and its own temporaries.
    pub backward_peak: u64,
    /// Bytes the backward left allocated: the gradients of the trainable parameters (float32).
    pub gradients: u64,
}

/// The runs a source measured, and whether the model could run at another batch at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRuns {
    /// In order of batch; at least one.
    pub runs: Vec<TrainingRun>,
    /// The one batch the model runs at, when its batch cannot change (a trace with the batch baked in):
    /// the plan is then for that batch only.
    pub fixed_batch: Option<u64>,
    /// How the bytes were counted, for the plan's one line about it.
    pub method: String,
}

/// Measured activations as lines in the batch size, and how straight they were.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredActivations {
    pub runs: Vec<TrainingRun>,
    pub held: Linear,
    pub backward_peak: Linear,
    /// float32 gradient bytes the backward allocated (the same at every batch).
    pub gradients: u64,
    /// Largest relative distance of a third measured point from the line through the first two, in
    /// percent; `None` when only two (or one) points were measured.
    pub linearity_error_percent: Option<f64>,
    pub fixed_batch: Option<u64>,
    pub method: String,
}

/// A line through two points of (batch, bytes).
fn line(a: (u64, u64), b: (u64, u64)) -> Linear {
    let per_sample = (b.1 as i128 - a.1 as i128) / (b.0 as i128 - a.0 as i128);
    Linear {
        fixed: a.1 as i128 - per_sample * a.0 as i128,
        per_sample,
    }
}

impl MeasuredActivations {
    /// Lines through the first two runs (a flat line from one run when the batch is fixed), checked
    /// against a third when there is one.
    pub fn from_runs(runs: &TrainingRuns) -> Option<MeasuredActivations> {
        let first = *runs.runs.first()?;
        let flat = |v: u64| Linear {
            fixed: v as i128,
            per_sample: 0,
        };
        let (held, backward_peak, check) = match runs.runs.get(1) {
            Some(second) if second.batch != first.batch && runs.fixed_batch.is_none() => (
                line(
                    (first.batch, first.held_for_backward),
                    (second.batch, second.held_for_backward),
                ),
                line(
                    (first.batch, first.backward_peak),
                    (second.batch, second.backward_peak),
                ),
                runs.runs.get(2).copied(),
            ),
            _ => (
                flat(first.held_for_backward),
                flat(first.backward_peak),
                None,
            ),
        };
        let linearity_error_percent = check.map(|third| {
            let off = |l: Linear, v: u64| {
                let predicted = l.at(third.batch) as f64;
                if v == 0 {
                    0.0
                } else {
                    (predicted - v as f64).abs() * 100.0 / v as f64
                }
            };
            off(held, third.held_for_backward).max(off(backward_peak, third.backward_peak))
        });
        Some(MeasuredActivations {
            runs: runs.runs.clone(),
            held,
            backward_peak,
            gradients: first.gradients,
            linearity_error_percent,
            fixed_batch: runs.fixed_batch,
            method: runs.method.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(batch: u64, held: u64, peak: u64) -> TrainingRun {
        TrainingRun {
            batch,
            held_for_backward: held,
            backward_peak: peak,
            gradients: 40,
        }
    }

    #[test]
    fn lines_through_two_runs_checked_by_a_third() {
        let runs = TrainingRuns {
            runs: vec![run(1, 150, 200), run(2, 250, 330), run(3, 350, 460)],
            fixed_batch: None,
            method: "test".into(),
        };
        let m = MeasuredActivations::from_runs(&runs).unwrap();
        assert_eq!(m.held.at(256), 50 + 100 * 256);
        assert_eq!(m.backward_peak.at(10), 70 + 130 * 10);
        assert_eq!(m.linearity_error_percent, Some(0.0));
        let bent = TrainingRuns {
            runs: vec![run(1, 100, 100), run(2, 200, 200), run(3, 400, 300)],
            ..runs
        };
        let m = MeasuredActivations::from_runs(&bent).unwrap();
        assert_eq!(m.linearity_error_percent, Some(25.0));
    }

    #[test]
    fn a_fixed_batch_is_a_flat_line() {
        let runs = TrainingRuns {
            runs: vec![run(4, 400, 500)],
            fixed_batch: Some(4),
            method: "test".into(),
        };
        let m = MeasuredActivations::from_runs(&runs).unwrap();
        assert_eq!((m.held.at(4), m.held.per_sample), (400, 0));
    }
}
