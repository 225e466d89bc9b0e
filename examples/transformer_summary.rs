//! The torchinfo-style table of a small transformer written in tch (embeddings, causal
//! self-attention, MLP): `cargo run --release --example transformer_summary`.
//!
//! The model is in `examples/models/tiny_lm.rs`: its fields are `Recorded<…>` layers, so each gets a
//! row with its output shape and mult-adds, the attention's row counting its attention product.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};
use tchinfo::record;
use tchinfo::reports::table::TableOptions;

#[path = "models/tiny_lm.rs"]
mod tiny_lm;

fn main() -> anyhow::Result<()> {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = record::layer(tiny_lm::TinyLm::new(&vs.root(), tiny_lm::CONFIG));

    let ids = Tensor::zeros([2, 32], (Kind::Int64, Device::Cpu));
    let summary = record::summarize(&vs, "tiny_lm", &[&ids], || model.forward(&ids))?;

    let options = TableOptions {
        max_depth: 4,
        ..Default::default()
    };
    print!("{}", tchinfo::reports::summary::render(&summary, &options));
    Ok(())
}
