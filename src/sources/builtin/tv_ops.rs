//! Building blocks torchvision shares between families (`torchvision.ops.misc`): the
//! convolution–norm–activation triple, squeeze-and-excitation and `Permute`.

use super::module::{GeluApproximation, Module, children_in_order};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use tch::TchError;

/// An activation module, as the `activation_layer` a torchvision block is given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Activation {
    ReLU,
    ReLU6,
    SiLU,
    Hardswish,
    Hardsigmoid,
    Sigmoid,
    GELU,
    None,
}

impl Activation {
    /// The module at `s`, or none for [`Activation::None`].
    pub(super) fn module(self, s: &Scope) -> Option<Module> {
        Some(match self {
            Activation::ReLU => s.relu(),
            Activation::ReLU6 => s.relu6(),
            Activation::SiLU => s.silu(),
            Activation::Hardswish => s.hardswish(),
            Activation::Hardsigmoid => s.hardsigmoid(),
            Activation::Sigmoid => s.sigmoid(),
            Activation::GELU => s.gelu(GeluApproximation::None),
            Activation::None => return None,
        })
    }
}

/// The `norm_layer` of a `Conv2dNormActivation`.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Norm {
    BatchNorm {
        eps: f64,
    },
    /// ConvNeXt's channels-first LayerNorm.
    LayerNorm2d {
        eps: f64,
    },
    None,
}

/// `Conv2dNormActivation` as most families use it: `conv` made bias-free with "same" padding,
/// BatchNorm, then the activation (if any), numbered `0`, `1`, `2` as in the Sequential it is.
pub(super) fn conv_norm_activation(
    s: &Scope,
    conv: Conv,
    bn_eps: f64,
    activation: Activation,
) -> Result<Module, TchError> {
    conv_norm_activation_with(
        s,
        conv.same_padding().no_bias(),
        Norm::BatchNorm { eps: bn_eps },
        activation,
    )
}

/// `Conv2dNormActivation` with the convolution exactly as given (padding and bias included) and any
/// norm; children are numbered in order, so a block without a norm has its activation at `1`.
pub(super) fn conv_norm_activation_with(
    s: &Scope,
    conv: Conv,
    norm: Norm,
    activation: Activation,
) -> Result<Module, TchError> {
    let mut children = vec![s.sub(0).conv2d(conv)?];
    let next = |children: &Vec<Module>| s.sub(children.len());
    match norm {
        Norm::BatchNorm { eps } => {
            children.push(next(&children).batch_norm2d(conv.out_channels(), eps)?)
        }
        Norm::LayerNorm2d { eps } => {
            children.push(next(&children).layer_norm2d(conv.out_channels(), eps)?)
        }
        Norm::None => {}
    }
    children.extend(activation.module(&next(&children)));
    Ok(s.block(
        "torchvision.ops.misc.Conv2dNormActivation",
        children_in_order,
        children,
    ))
}

/// `SqueezeExcitation(channels, squeeze, activation, scale_activation)`: global pool, two 1×1
/// convolutions, and the input scaled by the result.
pub(super) fn squeeze_excitation(
    s: &Scope,
    channels: i64,
    squeeze: i64,
    activation: Activation,
    scale_activation: Activation,
) -> Result<Module, TchError> {
    let mut children = vec![
        s.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        s.sub("fc1").conv2d(Conv::new(channels, squeeze, 1))?,
        s.sub("fc2").conv2d(Conv::new(squeeze, channels, 1))?,
    ];
    children.extend(activation.module(&s.sub("activation")));
    children.extend(scale_activation.module(&s.sub("scale_activation")));
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

/// `Permute(dims)`: a view with the dimensions reordered (channels-last and back, around the
/// LayerNorms and Linears of ConvNeXt and Swin).
pub(super) fn permute(s: &Scope, dims: [i64; 4]) -> Module {
    s.custom(
        "torchvision.ops.misc.Permute",
        vec![],
        Box::new(move |x| x.f_permute(dims)),
    )
}

/// torchvision's `_make_divisible(v, divisor)`: the nearest multiple of `divisor` (at least `divisor`),
/// never more than 10% below `v`.
pub(super) fn make_divisible(v: f64, divisor: i64) -> i64 {
    let d = divisor as f64;
    let rounded = (((v + d / 2.0) as i64) / divisor * divisor).max(divisor);
    if (rounded as f64) < 0.9 * v {
        rounded + divisor
    } else {
        rounded
    }
}
