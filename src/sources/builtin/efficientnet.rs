//! EfficientNet B0–B7 (Tan & Le, 2019) and EfficientNet V2 S/M/L (Tan & Le, 2021), as torchvision
//! builds them: MBConv blocks (expand, depthwise, squeeze-and-excitation, project) with SiLU — V2 starts
//! with FusedMBConv blocks (one full convolution instead of expand + depthwise, no squeeze-and-
//! excitation) — and stochastic depth on the residual branches (the identity in eval mode).
//! B1–B7 scale B0's widths (rounded to multiples of 8) and depths (rounded up).

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{Activation, conv_norm_activation, make_divisible, squeeze_excitation};
use tch::TchError;

/// One stage: block kind, expand ratio, kernel, first stride, input and output channels, layers.
type Stage = (Kind, i64, i64, i64, i64, i64, usize);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    MBConv,
    Fused,
}
use Kind::{Fused, MBConv};

/// B0's stages, which B1–B7 scale.
const B0: [Stage; 7] = [
    (MBConv, 1, 3, 1, 32, 16, 1),
    (MBConv, 6, 3, 2, 16, 24, 2),
    (MBConv, 6, 5, 2, 24, 40, 2),
    (MBConv, 6, 3, 2, 40, 80, 3),
    (MBConv, 6, 5, 1, 80, 112, 3),
    (MBConv, 6, 5, 2, 112, 192, 4),
    (MBConv, 6, 3, 1, 192, 320, 1),
];

const V2_S: [Stage; 6] = [
    (Fused, 1, 3, 1, 24, 24, 2),
    (Fused, 4, 3, 2, 24, 48, 4),
    (Fused, 4, 3, 2, 48, 64, 4),
    (MBConv, 4, 3, 2, 64, 128, 6),
    (MBConv, 6, 3, 1, 128, 160, 9),
    (MBConv, 6, 3, 2, 160, 256, 15),
];

const V2_M: [Stage; 7] = [
    (Fused, 1, 3, 1, 24, 24, 3),
    (Fused, 4, 3, 2, 24, 48, 5),
    (Fused, 4, 3, 2, 48, 80, 5),
    (MBConv, 4, 3, 2, 80, 160, 7),
    (MBConv, 6, 3, 1, 160, 176, 14),
    (MBConv, 6, 3, 2, 176, 304, 18),
    (MBConv, 6, 3, 1, 304, 512, 5),
];

const V2_L: [Stage; 7] = [
    (Fused, 1, 3, 1, 32, 32, 4),
    (Fused, 4, 3, 2, 32, 64, 7),
    (Fused, 4, 3, 2, 64, 96, 7),
    (MBConv, 4, 3, 2, 96, 192, 10),
    (MBConv, 6, 3, 1, 192, 224, 19),
    (MBConv, 6, 3, 2, 224, 384, 25),
    (MBConv, 6, 3, 1, 384, 640, 7),
];

/// One EfficientNet: its stages (already scaled), BatchNorm eps and head width.
pub(super) struct Variant {
    stages: Vec<Stage>,
    /// torchvision gives B0–B4 `nn.BatchNorm2d` as it comes (eps 1e-5); B5–B7 and V2 pass 1e-3. Eps
    /// changes no shape or count, only the values a forward pass computes.
    bn_eps: f64,
    /// Output channels of the last 1×1 convolution: 4× the last stage's for V1, 1280 for V2.
    head: i64,
}

/// B0 scaled: widths × `width` rounded to multiples of 8, layers × `depth` rounded up.
pub(super) fn v1(width: f64, depth: f64, bn_eps: f64) -> Variant {
    let channels = |c: i64| make_divisible(c as f64 * width, 8);
    let stages: Vec<Stage> = B0
        .iter()
        .map(|&(kind, expand, kernel, stride, cin, cout, layers)| {
            let layers = (layers as f64 * depth).ceil() as usize;
            (
                kind,
                expand,
                kernel,
                stride,
                channels(cin),
                channels(cout),
                layers,
            )
        })
        .collect();
    let head = 4 * stages[stages.len() - 1].5;
    Variant {
        stages,
        bn_eps,
        head,
    }
}

pub(super) fn v2(size: char) -> Variant {
    let stages = match size {
        's' => V2_S.to_vec(),
        'm' => V2_M.to_vec(),
        _ => V2_L.to_vec(),
    };
    Variant {
        stages,
        bn_eps: 1e-3,
        head: 1280,
    }
}

pub(super) fn efficientnet(
    root: &Scope,
    v: &Variant,
    num_classes: i64,
) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    let stem = v.stages[0].4;
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(3, stem, 3).stride(2),
        v.bn_eps,
        Activation::SiLU,
    )?);
    for &(kind, expand, kernel, stride, cin, cout, layers) in &v.stages {
        let mut stage = f.next().seq();
        for i in 0..layers {
            let (cin, stride) = if i == 0 { (cin, stride) } else { (cout, 1) };
            let block = match kind {
                MBConv => mb_conv(&stage.next(), v.bn_eps, expand, kernel, stride, cin, cout)?,
                Fused => fused_mb_conv(&stage.next(), v.bn_eps, expand, kernel, stride, cin, cout)?,
            };
            stage.push(block);
        }
        f.push(stage.finish());
    }
    let last = v.stages[v.stages.len() - 1].5;
    f.push(conv_norm_activation(
        &f.next(),
        Conv::new(last, v.head, 1),
        v.bn_eps,
        Activation::SiLU,
    )?);

    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().dropout(0.2));
    classifier.push(classifier.next().linear(v.head, num_classes)?);
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

/// FusedMBConv: one full convolution (expanding when the ratio is above 1, then a 1×1 projection).
fn fused_mb_conv(
    s: &Scope,
    bn_eps: f64,
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
            Conv::new(cin, expanded, kernel).stride(stride),
            bn_eps,
            Activation::SiLU,
        )?);
        block.push(conv_norm_activation(
            &block.next(),
            Conv::new(expanded, cout, 1),
            bn_eps,
            Activation::None,
        )?);
    } else {
        block.push(conv_norm_activation(
            &block.next(),
            Conv::new(cin, cout, kernel).stride(stride),
            bn_eps,
            Activation::SiLU,
        )?);
    }
    with_residual(
        s,
        "torchvision.models.efficientnet.FusedMBConv",
        block.finish(),
        stride == 1 && cin == cout,
    )
}

fn mb_conv(
    s: &Scope,
    bn_eps: f64,
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
            bn_eps,
            Activation::SiLU,
        )?);
    }
    let depthwise = Conv::new(expanded, expanded, kernel)
        .stride(stride)
        .groups(expanded);
    block.push(conv_norm_activation(
        &block.next(),
        depthwise,
        bn_eps,
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
        bn_eps,
        Activation::None,
    )?);
    with_residual(
        s,
        "torchvision.models.efficientnet.MBConv",
        block.finish(),
        stride == 1 && cin == cout,
    )
}

/// The block and its stochastic depth; only blocks with a residual connection call it, as in
/// torchvision.
fn with_residual(
    s: &Scope,
    class: &'static str,
    block: Module,
    residual: bool,
) -> Result<Module, TchError> {
    let children = vec![block, s.sub("stochastic_depth").stochastic_depth()];
    let forward = if residual {
        residual_forward
    } else {
        plain_forward
    };
    Ok(s.block(class, forward, children))
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
