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

/// A small CNN for 28×28 greyscale images, laid out the way torchvision names its layers.
fn mnist_cnn(root: &nn::Path) -> impl Module + use<> {
    let features = root / "features";
    let classifier = root / "classifier";
    let padded = nn::ConvConfig {
        padding: 1,
        ..Default::default()
    };
    record::seq()
        .add(
            record::seq()
                .add(nn::conv2d(&features / 0, 1, 32, 3, padded))
                .add(record::func("ReLU", |x| x.relu()))
                .add(record::func("MaxPool2d", |x| x.max_pool2d_default(2)))
                .add(nn::conv2d(&features / 3, 32, 64, 3, padded))
                .add(record::func("ReLU", |x| x.relu()))
                .add(record::func("MaxPool2d", |x| x.max_pool2d_default(2))),
        )
        .add(record::func("Flatten", |x| x.flatten(1, -1)))
        .add(
            record::seq()
                .add(nn::linear(
                    &classifier / 0,
                    64 * 7 * 7,
                    128,
                    Default::default(),
                ))
                .add(record::func("ReLU", |x| x.relu()))
                .add(nn::linear(&classifier / 2, 128, 10, Default::default())),
        )
}

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
