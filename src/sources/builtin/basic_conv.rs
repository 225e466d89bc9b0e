//! `BasicConv2d`, GoogLeNet's and Inception v3's unit: a bias-free convolution, BatchNorm with eps 1e-3,
//! then a functional ReLU (no ReLU module, so no row of its own).

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use tch::TchError;

/// `class` is the family's own `BasicConv2d` (`torchvision.models.googlenet.BasicConv2d` …).
pub(super) fn basic_conv2d(s: &Scope, class: &'static str, conv: Conv) -> Result<Module, TchError> {
    let children = vec![
        s.sub("conv").conv2d(conv.no_bias())?,
        s.sub("bn").batch_norm2d(conv.out_channels(), 1e-3)?,
    ];
    Ok(s.block(class, basic_conv2d_forward, children))
}

fn basic_conv2d_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("conv", x, rec)?;
    let x = m.call("bn", &x, rec)?;
    ops::relu(m, rec, &x)
}
