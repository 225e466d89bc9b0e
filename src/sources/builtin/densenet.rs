//! DenseNet (Huang et al.), as torchvision builds it: every `_DenseLayer` sees the concatenation of the
//! block input and all earlier layers' outputs; `_Transition`s halve channels and resolution.

use super::module::{Module, children_in_order};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use tch::TchError;

pub(super) struct Variant {
    pub(super) growth_rate: i64,
    pub(super) block_config: [usize; 4],
    pub(super) init_features: i64,
}

/// Bottleneck width factor: each layer's 1×1 convolution outputs `BN_SIZE × growth_rate` channels.
const BN_SIZE: i64 = 4;

pub(super) fn densenet(root: &Scope, v: &Variant, num_classes: i64) -> Result<Module, TchError> {
    let f = root.sub("features");
    let mut features = vec![
        f.sub("conv0").conv2d(
            Conv::new(3, v.init_features, 7)
                .stride(2)
                .padding(3)
                .no_bias(),
        )?,
        f.sub("norm0").batch_norm2d(v.init_features, 1e-5)?,
        f.sub("relu0").relu(),
        f.sub("pool0").max_pool2d(Pool::new(3, 2).padding(1)),
    ];
    let mut channels = v.init_features;
    for (i, &layers) in v.block_config.iter().enumerate() {
        let block = f.sub(format!("denseblock{}", i + 1));
        let dense_layers = (0..layers)
            .map(|j| {
                dense_layer(
                    &block.sub(format!("denselayer{}", j + 1)),
                    channels + j as i64 * v.growth_rate,
                    v,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        features.push(block.block(
            "torchvision.models.densenet._DenseBlock",
            dense_block_forward,
            dense_layers,
        ));
        channels += layers as i64 * v.growth_rate;
        if i + 1 < v.block_config.len() {
            let t = f.sub(format!("transition{}", i + 1));
            let children = vec![
                t.sub("norm").batch_norm2d(channels, 1e-5)?,
                t.sub("relu").relu(),
                t.sub("conv")
                    .conv2d(Conv::new(channels, channels / 2, 1).no_bias())?,
                t.sub("pool").avg_pool2d(Pool::new(2, 2)),
            ];
            features.push(t.block(
                "torchvision.models.densenet._Transition",
                children_in_order,
                children,
            ));
            channels /= 2;
        }
    }
    features.push(f.sub("norm5").batch_norm2d(channels, 1e-5)?);

    let children = vec![
        f.sequential(features),
        root.sub("classifier").linear(channels, num_classes)?,
    ];
    Ok(root.block(
        "torchvision.models.densenet.DenseNet",
        densenet_forward,
        children,
    ))
}

fn dense_layer(s: &Scope, cin: i64, v: &Variant) -> Result<Module, TchError> {
    let width = BN_SIZE * v.growth_rate;
    let children = vec![
        s.sub("norm1").batch_norm2d(cin, 1e-5)?,
        s.sub("relu1").relu(),
        s.sub("conv1").conv2d(Conv::new(cin, width, 1).no_bias())?,
        s.sub("norm2").batch_norm2d(width, 1e-5)?,
        s.sub("relu2").relu(),
        s.sub("conv2")
            .conv2d(Conv::new(width, v.growth_rate, 3).padding(1).no_bias())?,
    ];
    Ok(s.block(
        "torchvision.models.densenet._DenseLayer",
        children_in_order,
        children,
    ))
}

/// Each layer gets `cat(input, earlier outputs)`; the block returns the concatenation of all of them.
/// (torchvision concatenates inside `_DenseLayer`; the shapes and the data flow are the same.)
fn dense_block_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut features = vec![x.share()];
    for layer in &m.children {
        let input = ops::cat(m, rec, &features)?;
        features.push(layer.forward(&input, rec)?);
    }
    ops::cat(m, rec, &features)
}

fn densenet_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("features", x, rec)?;
    let x = ops::relu(m, rec, &x)?;
    let x = ops::adaptive_avg_pool2d(m, rec, &x, [1, 1])?;
    let x = ops::flatten(m, rec, &x)?;
    m.call("classifier", &x, rec)
}
