//! The torchinfo-style table of your own tch model: `cargo run --release --example varstore_summary`.
//!
//! Two changes to how the model is written: `record::seq()` where it said `nn::seq()`, and each
//! closure that stands for a PyTorch layer (`relu`, `max_pool2d`) added as `record::func("ReLU", …)`
//! so it gets a row of its own. Then `record::summarize` runs one forward pass and every row has its
//! output shape and mult-adds; the parameters come from the `VarStore`, as before.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};
use tchinfo::record;
use tchinfo::reports::table::TableOptions;

#[path = "models/mnist_cnn.rs"]
mod mnist_cnn;
use mnist_cnn::mnist_cnn;

fn main() -> anyhow::Result<()> {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = mnist_cnn(&vs.root());

    let input = Tensor::zeros([1, 1, 28, 28], (Kind::Float, Device::Cpu));
    let summary = record::summarize(&vs, "mnist_cnn", &[&input], || model.forward(&input))?;

    print!(
        "{}",
        tchinfo::reports::summary::render(&summary, &TableOptions::default())
    );
    Ok(())
}
