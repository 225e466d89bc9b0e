//! A summary of your own tch model, from its VarStore: `cargo run --release --example varstore_summary`.
//!
//! Build the model as usual, hand its `VarStore` to `summarize_varstore`, and optionally run one forward
//! pass to record the overall output shape. Layer types are inferred from the variable names and shapes
//! (a VarStore records no classes), and the summary says so in its notes.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};
use tchinfo::reports::table::TableOptions;
use tchinfo::sources::varstore::{record_module_output, summarize_varstore};

/// A small CNN for 28×28 greyscale images, laid out the way torchvision names its layers.
fn mnist_cnn(vs: &nn::VarStore) -> impl Module + use<> {
    let root = vs.root();
    let features = &root / "features";
    let classifier = &root / "classifier";
    nn::seq()
        .add(nn::conv2d(
            &features / 0,
            1,
            32,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        ))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(nn::conv2d(
            &features / 3,
            32,
            64,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        ))
        .add_fn(|x| x.relu().max_pool2d_default(2).flatten(1, -1))
        .add(nn::linear(
            &classifier / 0,
            64 * 7 * 7,
            128,
            Default::default(),
        ))
        .add_fn(|x| x.relu())
        .add(nn::linear(&classifier / 2, 128, 10, Default::default()))
}

fn main() -> anyhow::Result<()> {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = mnist_cnn(&vs);

    let mut summary = summarize_varstore(&vs, "mnist_cnn");
    let input = Tensor::zeros([1, 1, 28, 28], (Kind::Float, Device::Cpu));
    record_module_output(&mut summary, &model, &input)?;

    print!(
        "{}",
        tchinfo::reports::summary::render(&summary, &TableOptions::default())
    );
    Ok(())
}
