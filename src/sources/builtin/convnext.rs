//! ConvNeXt (Liu et al., 2022), as torchvision builds it: a 4×4 patchify stem, four stages of CNBlocks
//! (7×7 depthwise convolution, then a channels-last LayerNorm and an inverted-bottleneck MLP, scaled
//! by a learned per-channel `layer_scale`), LayerNorm2d + 2×2 convolutions between stages, and a
//! LayerNorm2d / Flatten / Linear head.

use super::module::{GeluApproximation, Module};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{Activation, NormLayer, conv_norm_activation_with, permute};
use tch::TchError;

/// Blocks per stage and the width of each stage.
pub(super) struct Variant {
    pub(super) depths: [usize; 4],
    pub(super) widths: [i64; 4],
}

pub(super) const TINY: Variant = Variant {
    depths: [3, 3, 9, 3],
    widths: [96, 192, 384, 768],
};
pub(super) const SMALL: Variant = Variant {
    depths: [3, 3, 27, 3],
    widths: [96, 192, 384, 768],
};
pub(super) const BASE: Variant = Variant {
    depths: [3, 3, 27, 3],
    widths: [128, 256, 512, 1024],
};
pub(super) const LARGE: Variant = Variant {
    depths: [3, 3, 27, 3],
    widths: [192, 384, 768, 1536],
};

/// Every LayerNorm (and LayerNorm2d) in ConvNeXt.
const EPS: f64 = 1e-6;

pub(super) fn convnext(root: &Scope, v: &Variant, num_classes: i64) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    f.push(conv_norm_activation_with(
        &f.next(),
        Conv::new(3, v.widths[0], 4).stride(4),
        NormLayer::LayerNorm2d { eps: EPS },
        Activation::None,
    )?);
    for (i, (&depth, &dim)) in v.depths.iter().zip(&v.widths).enumerate() {
        let mut stage = f.next().seq();
        for _ in 0..depth {
            stage.push(cn_block(&stage.next(), dim)?);
        }
        f.push(stage.finish());
        if let Some(&next) = v.widths.get(i + 1) {
            let mut down = f.next().seq();
            down.push(down.next().layer_norm2d(dim, EPS)?);
            down.push(down.next().conv2d(Conv::new(dim, next, 2).stride(2))?);
            f.push(down.finish());
        }
    }
    let last = v.widths[3];
    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().layer_norm2d(last, EPS)?);
    classifier.push(classifier.next().flatten());
    classifier.push(classifier.next().linear(last, num_classes)?);
    let children = vec![
        f.finish(),
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        classifier.finish(),
    ];
    Ok(root.block(
        "torchvision.models.convnext.ConvNeXt",
        convnext_forward,
        children,
    ))
}

fn cn_block(s: &Scope, dim: i64) -> Result<Module, TchError> {
    let mut block = s.sub("block").seq();
    block.push(
        block
            .next()
            .conv2d(Conv::new(dim, dim, 7).padding(3).groups(dim))?,
    );
    block.push(permute(&block.next(), [0, 2, 3, 1]));
    block.push(block.next().layer_norm(dim, EPS, true)?);
    block.push(block.next().linear(dim, 4 * dim)?);
    block.push(block.next().gelu(GeluApproximation::None));
    block.push(block.next().linear(4 * dim, dim)?);
    block.push(permute(&block.next(), [0, 3, 1, 2]));
    let own = vec![s.own_param("layer_scale", &[dim, 1, 1])?];
    let children = vec![block.finish(), s.sub("stochastic_depth").stochastic_depth()];
    Ok(s.block_owning(
        "torchvision.models.convnext.CNBlock",
        cn_block_forward,
        own,
        children,
    ))
}

/// `layer_scale * block(x)`, through stochastic depth (the identity in eval mode), plus the input.
fn cn_block_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let out = m.call("block", x, rec)?;
    let scale = m.own("layer_scale")?;
    let out = ops::apply(m, rec, &[&out], || out.t.f_mul(scale))?;
    let out = m.call("stochastic_depth", &out, rec)?;
    ops::add(m, rec, &out, x)
}

fn convnext_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("features", x, rec)?;
    let x = m.call("avgpool", &x, rec)?;
    m.call("classifier", &x, rec)
}
