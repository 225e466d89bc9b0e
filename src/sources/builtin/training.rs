//! Training steps of a built-in image model, measured for `plan`: at each batch, a fresh model runs
//! forward in training mode (BatchNorm with batch statistics, dropout dropping) with autograd
//! recording, then backward, under the counting CPU allocator. What stays allocated after the forward
//! (the model's output and the loss aside) is what autograd keeps for backward; the highest the count
//! reaches during backward is the backward's peak; what is left after it, the gradients.
//!
//! The loss is the mean of the output, which keeps nothing for backward itself: a classifier's
//! cross-entropy would add its log-probabilities (batch × classes), negligible beside the activations.

use super::recorder::{Act, Recorder};
use super::scope::Scope;
use super::{BuiltinOptions, forward_error, input_shape, lookup, torch_error};
use crate::sources::SourceError;
use crate::sources::alloc_counter::Counter;
use tch::{Device, Kind, Tensor, nn::VarStore};
use tchinfo_core::plan::TrainingRun;

/// One measured step per batch in `batches`, in that order.
pub fn measure(
    name: &str,
    opts: &BuiltinOptions,
    batches: &[i64],
) -> Result<Vec<TrainingRun>, SourceError> {
    let entry = lookup(name)?;
    let num_classes = super::classes(entry, opts.num_classes)?;
    let counter = Counter::install().map_err(|message| SourceError::Torch {
        model: entry.name.to_string(),
        context: "measuring a training step".into(),
        message,
    })?;
    let mut runs = Vec::with_capacity(batches.len());
    for &batch in batches {
        let shape = input_shape(
            entry,
            &BuiltinOptions {
                batch_size: Some(batch),
                ..opts.clone()
            },
        )?;
        // A fresh model each time: its gradients do not exist yet, as after `zero_grad(set_to_none)`.
        let vs = VarStore::new(Device::Cpu);
        let mut model = {
            let _no_grad = tch::no_grad_guard();
            (entry.build)(&Scope::root(&vs), num_classes)
                .map_err(|e| torch_error(entry, "building the model", e))?
        };
        let modules = model.number();
        let base = counter.live();
        let input = Tensor::f_zeros(shape, (Kind::Float, Device::Cpu))
            .map_err(|e| torch_error(entry, "allocating the input", e))?;
        let mut rec = Recorder::for_training(modules);
        let output = model
            .forward(&Act::free(input), &mut rec)
            .map_err(|e| forward_error(entry, &shape, e))?;
        let loss = output
            .t
            .f_mean(Kind::Float)
            .map_err(|e| torch_error(entry, "computing the loss", e))?;
        drop(output);
        let loss_bytes = 4;
        let held = counter.live() - base - loss_bytes;
        counter.reset_peak();
        loss.f_backward()
            .map_err(|e| torch_error(entry, "running backward", e))?;
        let peak = counter.peak() - base - loss_bytes;
        let gradients = counter.live() - base - loss_bytes;
        drop(loss);
        drop(model);
        drop(vs);
        let bytes = |v: i64| v.max(0) as u64;
        runs.push(TrainingRun {
            batch: batch as u64,
            held_for_backward: bytes(held),
            backward_peak: bytes(peak),
            gradients: bytes(gradients),
        });
    }
    Ok(runs)
}
