//! MobileNet V2 (Sandler et al.), width 1.0, as torchvision builds it: inverted residual blocks
//! (1×1 expand, 3×3 depthwise, 1×1 linear projection) between a stem and a 1×1 head.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{Activation, conv_norm_activation};
use tch::TchError;

/// (expansion t, output channels c, repeats n, first stride s), from the paper's table 2.
const SETTINGS: [(i64, i64, usize, i64); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

const STEM: i64 = 32;
const HEAD: i64 = 1280;

pub(super) fn mobilenet_v2(root: &Scope, num_classes: i64) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(3, STEM, 3).stride(2),
        1e-5,
        Activation::ReLU6,
    )?);
    let mut channels = STEM;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            f.push(inverted_residual(&f.next(), channels, c, stride, t)?);
            channels = c;
        }
    }
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(channels, HEAD, 1),
        1e-5,
        Activation::ReLU6,
    )?);

    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().dropout(0.2));
    classifier.push(classifier.next().linear(HEAD, num_classes)?);
    let children = vec![f.finish(), classifier.finish()];
    Ok(root.block(
        "torchvision.models.mobilenetv2.MobileNetV2",
        mobilenet_v2_forward,
        children,
    ))
}

fn inverted_residual(
    s: &Scope,
    cin: i64,
    cout: i64,
    stride: i64,
    expand: i64,
) -> Result<Module, TchError> {
    let hidden = cin * expand;
    let mut conv = s.sub("conv").seq();
    if expand != 1 {
        conv.push(conv_norm_activation(
            &conv.next(),
            Conv::new(cin, hidden, 1),
            1e-5,
            Activation::ReLU6,
        )?);
    }
    let depthwise = Conv::new(hidden, hidden, 3).stride(stride).groups(hidden);
    conv.push(conv_norm_activation(
        &conv.next(),
        depthwise,
        1e-5,
        Activation::ReLU6,
    )?);
    conv.push(conv.next().conv2d(Conv::new(hidden, cout, 1).no_bias())?);
    conv.push(conv.next().batch_norm2d(cout, 1e-5)?);
    let forward = if stride == 1 && cin == cout {
        residual_forward
    } else {
        plain_forward
    };
    Ok(s.block(
        "torchvision.models.mobilenetv2.InvertedResidual",
        forward,
        vec![conv.finish()],
    ))
}

fn plain_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    m.call("conv", x, rec)
}

fn residual_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let out = m.call("conv", x, rec)?;
    ops::add(m, rec, x, &out)
}

fn mobilenet_v2_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("features", x, rec)?;
    let x = ops::adaptive_avg_pool2d(m, rec, &x, [1, 1])?;
    let x = ops::flatten(m, rec, &x)?;
    m.call("classifier", &x, rec)
}
