//! MobileNet V3 small and large (Howard et al., 2019), width 1.0, as torchvision builds them: inverted
//! residual blocks with ReLU or hard-swish, squeeze-and-excitation with a hard sigmoid in some of them,
//! BatchNorm with eps 0.001, and a two-Linear classifier.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{Activation, conv_norm_activation, make_divisible, squeeze_excitation};
use tch::TchError;

/// One inverted residual block: input, kernel, expanded and output channels, squeeze-and-excitation,
/// hard-swish (else ReLU), stride — the paper's tables 1 and 2.
type Block = (i64, i64, i64, i64, bool, bool, i64);

pub(super) const LARGE: (&[Block], i64) = (
    &[
        (16, 3, 16, 16, false, false, 1),
        (16, 3, 64, 24, false, false, 2),
        (24, 3, 72, 24, false, false, 1),
        (24, 5, 72, 40, true, false, 2),
        (40, 5, 120, 40, true, false, 1),
        (40, 5, 120, 40, true, false, 1),
        (40, 3, 240, 80, false, true, 2),
        (80, 3, 200, 80, false, true, 1),
        (80, 3, 184, 80, false, true, 1),
        (80, 3, 184, 80, false, true, 1),
        (80, 3, 480, 112, true, true, 1),
        (112, 3, 672, 112, true, true, 1),
        (112, 5, 672, 160, true, true, 2),
        (160, 5, 960, 160, true, true, 1),
        (160, 5, 960, 160, true, true, 1),
    ],
    1280,
);

pub(super) const SMALL: (&[Block], i64) = (
    &[
        (16, 3, 16, 16, true, false, 2),
        (16, 3, 72, 24, false, false, 2),
        (24, 3, 88, 24, false, false, 1),
        (24, 5, 96, 40, true, true, 2),
        (40, 5, 240, 40, true, true, 1),
        (40, 5, 240, 40, true, true, 1),
        (40, 5, 120, 48, true, true, 1),
        (48, 5, 144, 48, true, true, 1),
        (48, 5, 288, 96, true, true, 2),
        (96, 5, 576, 96, true, true, 1),
        (96, 5, 576, 96, true, true, 1),
    ],
    1024,
);

const BN_EPS: f64 = 0.001;

/// torchvision's `adjust_channels` at width 1.0.
fn channels(c: i64) -> i64 {
    make_divisible(c as f64, 8)
}

pub(super) fn mobilenet_v3(
    root: &Scope,
    (blocks, last_channel): (&[Block], i64),
    num_classes: i64,
) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    let stem = channels(blocks[0].0);
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(3, stem, 3).stride(2),
        BN_EPS,
        Activation::Hardswish,
    )?);
    for &block in blocks {
        f.push(inverted_residual(&f.next(), block)?);
    }
    let last_in = channels(blocks[blocks.len() - 1].3);
    let last_out = 6 * last_in;
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(last_in, last_out, 1),
        BN_EPS,
        Activation::Hardswish,
    )?);
    let last_channel = channels(last_channel);
    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().linear(last_out, last_channel)?);
    classifier.push(classifier.next().hardswish());
    classifier.push(classifier.next().dropout(0.2));
    classifier.push(classifier.next().linear(last_channel, num_classes)?);
    let children = vec![
        f.finish(),
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        classifier.finish(),
    ];
    Ok(root.block(
        "torchvision.models.mobilenetv3.MobileNetV3",
        |m, x, rec| {
            let x = m.call("features", x, rec)?;
            let x = m.call("avgpool", &x, rec)?;
            let x = ops::flatten(m, rec, &x)?;
            m.call("classifier", &x, rec)
        },
        children,
    ))
}

fn inverted_residual(
    s: &Scope,
    (cin, kernel, expanded, cout, se, hardswish, stride): Block,
) -> Result<Module, TchError> {
    let (cin, expanded, cout) = (channels(cin), channels(expanded), channels(cout));
    let activation = if hardswish {
        Activation::Hardswish
    } else {
        Activation::ReLU
    };
    let mut block = s.sub("block").seq();
    if expanded != cin {
        block.push(conv_norm_activation(
            &block.next(),
            Conv::new(cin, expanded, 1),
            BN_EPS,
            activation,
        )?);
    }
    let depthwise = Conv::new(expanded, expanded, kernel)
        .stride(stride)
        .groups(expanded);
    block.push(conv_norm_activation(
        &block.next(),
        depthwise,
        BN_EPS,
        activation,
    )?);
    if se {
        block.push(squeeze_excitation(
            &block.next(),
            expanded,
            make_divisible((expanded / 4) as f64, 8),
            Activation::ReLU,
            Activation::Hardsigmoid,
        )?);
    }
    block.push(conv_norm_activation(
        &block.next(),
        Conv::new(expanded, cout, 1),
        BN_EPS,
        Activation::None,
    )?);
    let residual = stride == 1 && cin == cout;
    Ok(s.block(
        "torchvision.models.mobilenetv3.InvertedResidual",
        move |m, x, rec| residual_forward(m, x, rec, residual),
        vec![block.finish()],
    ))
}

fn residual_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    residual: bool,
) -> Result<Act, ForwardError> {
    let out = m.call("block", x, rec)?;
    if residual {
        ops::add(m, rec, &out, x)
    } else {
        Ok(out)
    }
}
