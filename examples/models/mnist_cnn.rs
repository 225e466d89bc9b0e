//! The MNIST CNN of `examples/varstore_summary.rs`, shared with the tests that check its recorded
//! rows against torchinfo's (`tests/record.rs`).

use tch::nn::{self, Module};
use tchinfo::record;

/// A small CNN for 28×28 greyscale images, laid out the way torchvision names its layers.
pub fn mnist_cnn(root: &nn::Path) -> impl Module + use<> {
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
