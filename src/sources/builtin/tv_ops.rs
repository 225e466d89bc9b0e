//! Building blocks torchvision shares between families (`torchvision.ops.misc`): the
//! convolution–norm–activation triple and squeeze-and-excitation.

use super::module::{Module, children_in_order};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use tch::TchError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Activation {
    ReLU6,
    SiLU,
    None,
}

/// `Conv2dNormActivation`: `conv` made bias-free with "same" padding, BatchNorm, then the activation
/// (if any), numbered `0`, `1`, `2` as in the Sequential it is.
pub(super) fn conv_norm_activation(
    s: &Scope,
    conv: Conv,
    bn_eps: f64,
    activation: Activation,
) -> Result<Module, TchError> {
    let conv = conv.same_padding().no_bias();
    let mut children = vec![
        s.sub(0).conv2d(conv)?,
        s.sub(1).batch_norm2d(conv.out_channels(), bn_eps)?,
    ];
    match activation {
        Activation::ReLU6 => children.push(s.sub(2).relu6()),
        Activation::SiLU => children.push(s.sub(2).silu()),
        Activation::None => {}
    }
    Ok(s.block(
        "torchvision.ops.misc.Conv2dNormActivation",
        children_in_order,
        children,
    ))
}

/// `SqueezeExcitation` with a SiLU between its two 1×1 convolutions (EfficientNet's choice).
pub(super) fn squeeze_excitation(
    s: &Scope,
    channels: i64,
    squeeze: i64,
) -> Result<Module, TchError> {
    let children = vec![
        s.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        s.sub("fc1").conv2d(Conv::new(channels, squeeze, 1))?,
        s.sub("fc2").conv2d(Conv::new(squeeze, channels, 1))?,
        s.sub("activation").silu(),
        s.sub("scale_activation").sigmoid(),
    ];
    Ok(s.block(
        "torchvision.ops.misc.SqueezeExcitation",
        squeeze_excitation_forward,
        children,
    ))
}

fn squeeze_excitation_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
) -> Result<Act, ForwardError> {
    let mut scale = x.share();
    for name in ["avgpool", "fc1", "activation", "fc2", "scale_activation"] {
        scale = m.call(name, &scale, rec)?;
    }
    ops::mul(m, rec, &scale, x)
}
