//! EfficientNet-B0 (Tan & Le), as torchvision builds it: MBConv blocks (expand, depthwise,
//! squeeze-and-excitation, project) with SiLU, BatchNorm with PyTorch's default eps, and stochastic
//! depth on the residual branches (the identity in eval mode).

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{Activation, conv_norm_activation, make_divisible, squeeze_excitation};
use tch::TchError;

/// (expand ratio, kernel, first stride, input channels, output channels, layers) per stage, B0.
const STAGES: [(i64, i64, i64, i64, i64, usize); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// torchvision gives B0–B4 `nn.BatchNorm2d` as it comes (eps 1e-5); only B5–B7 and the V2 models
/// pass `eps=0.001`. Eps changes no shape or count, only the values a forward pass computes.
const BN_EPS: f64 = 1e-5;

pub(super) fn efficientnet_b0(root: &Scope, num_classes: i64) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    let stem = STAGES[0].3;
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(3, stem, 3).stride(2),
        BN_EPS,
        Activation::SiLU,
    )?);
    for (expand, kernel, stride, cin, cout, layers) in STAGES {
        let mut stage = f.next().seq();
        for i in 0..layers {
            let (cin, stride) = if i == 0 { (cin, stride) } else { (cout, 1) };
            stage.push(mb_conv(&stage.next(), expand, kernel, stride, cin, cout)?);
        }
        f.push(stage.finish());
    }
    let last = STAGES[STAGES.len() - 1].4;
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(last, 4 * last, 1),
        BN_EPS,
        Activation::SiLU,
    )?);

    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().dropout());
    classifier.push(classifier.next().linear(4 * last, num_classes)?);
    let children = vec![
        f.finish(),
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        classifier.finish(),
    ];
    Ok(root.block(
        "torchvision.models.efficientnet.EfficientNet",
        efficientnet_forward,
        children,
    ))
}

fn mb_conv(
    s: &Scope,
    expand: i64,
    kernel: i64,
    stride: i64,
    cin: i64,
    cout: i64,
) -> Result<Module, TchError> {
    let expanded = make_divisible((cin * expand) as f64, 8);
    let mut block = s.sub("block").seq();
    if expanded != cin {
        block.push(conv_norm_activation(
            &block.next(),
            Conv::new(cin, expanded, 1),
            BN_EPS,
            Activation::SiLU,
        )?);
    }
    let depthwise = Conv::new(expanded, expanded, kernel)
        .stride(stride)
        .groups(expanded);
    block.push(conv_norm_activation(
        &block.next(),
        depthwise,
        BN_EPS,
        Activation::SiLU,
    )?);
    block.push(squeeze_excitation(
        &block.next(),
        expanded,
        (cin / 4).max(1),
        Activation::SiLU,
        Activation::Sigmoid,
    )?);
    block.push(conv_norm_activation(
        &block.next(),
        Conv::new(expanded, cout, 1),
        BN_EPS,
        Activation::None,
    )?);
    let children = vec![block.finish(), s.sub("stochastic_depth").stochastic_depth()];
    let forward = if stride == 1 && cin == cout {
        residual_forward
    } else {
        plain_forward
    };
    Ok(s.block("torchvision.models.efficientnet.MBConv", forward, children))
}

fn plain_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    m.call("block", x, rec)
}

/// Only blocks with a residual connection call their stochastic depth, as in torchvision.
fn residual_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let out = m.call("block", x, rec)?;
    let out = m.call("stochastic_depth", &out, rec)?;
    ops::add(m, rec, &out, x)
}

fn efficientnet_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("features", x, rec)?;
    let x = m.call("avgpool", &x, rec)?;
    let x = ops::flatten(m, rec, &x)?;
    m.call("classifier", &x, rec)
}
