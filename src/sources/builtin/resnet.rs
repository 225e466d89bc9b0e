//! ResNet (He et al.) and its widened / grouped variants (ResNeXt, Wide ResNet), as torchvision builds
//! them: a 7×7 stem, four stages of BasicBlocks or Bottlenecks, global average pool and `fc`.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use tch::TchError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    /// Two 3×3 convolutions (ResNet-18/34).
    Basic,
    /// 1×1 reduce, 3×3, 1×1 expand ×4 (ResNet-50 and deeper).
    Bottleneck,
}

impl Block {
    fn expansion(self) -> i64 {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// Stage widths and strides; the block counts per stage come from the variant.
const STAGES: [(i64, i64); 4] = [(64, 1), (128, 2), (256, 2), (512, 2)];

pub(super) struct Variant {
    pub(super) block: Block,
    pub(super) layers: [usize; 4],
    /// ResNeXt's cardinality; 1 for plain ResNets.
    pub(super) groups: i64,
    /// Channels per group at the first stage: 64 for plain ResNets, 128 for Wide ResNet-50-2.
    pub(super) width_per_group: i64,
}

pub(super) fn resnet(root: &Scope, v: &Variant, num_classes: i64) -> Result<Module, TchError> {
    let mut children = vec![
        root.sub("conv1")
            .conv2d(Conv::new(3, 64, 7).stride(2).padding(3).no_bias())?,
        root.sub("bn1").batch_norm2d(64, 1e-5)?,
        root.sub("relu").relu(),
        root.sub("maxpool").max_pool2d(Pool::new(3, 2).padding(1)),
    ];
    let mut inplanes = 64;
    for (i, (&(planes, stride), &blocks)) in STAGES.iter().zip(v.layers.iter()).enumerate() {
        let mut stage = root.sub(format!("layer{}", i + 1)).seq();
        for b in 0..blocks {
            let stride = if b == 0 { stride } else { 1 };
            stage.push(block(&stage.next(), v, inplanes, planes, stride)?);
            inplanes = planes * v.block.expansion();
        }
        children.push(stage.finish());
    }
    children.push(root.sub("avgpool").adaptive_avg_pool2d([1, 1]));
    children.push(
        root.sub("fc")
            .linear(512 * v.block.expansion(), num_classes)?,
    );
    Ok(root.block("torchvision.models.resnet.ResNet", resnet_forward, children))
}

fn block(
    s: &Scope,
    v: &Variant,
    inplanes: i64,
    planes: i64,
    stride: i64,
) -> Result<Module, TchError> {
    let out = planes * v.block.expansion();
    // The shortcut needs a projection when the block changes resolution or width.
    let downsample = if stride != 1 || inplanes != out {
        let mut d = s.sub("downsample").seq();
        d.push(
            d.next()
                .conv2d(Conv::new(inplanes, out, 1).stride(stride).no_bias())?,
        );
        d.push(d.next().batch_norm2d(out, 1e-5)?);
        Some(d.finish())
    } else {
        None
    };
    let mut children = match v.block {
        Block::Basic => vec![
            s.sub("conv1").conv2d(
                Conv::new(inplanes, planes, 3)
                    .stride(stride)
                    .padding(1)
                    .no_bias(),
            )?,
            s.sub("bn1").batch_norm2d(planes, 1e-5)?,
            s.sub("relu").relu(),
            s.sub("conv2")
                .conv2d(Conv::new(planes, planes, 3).padding(1).no_bias())?,
            s.sub("bn2").batch_norm2d(planes, 1e-5)?,
        ],
        Block::Bottleneck => {
            let width = planes * v.width_per_group / 64 * v.groups;
            vec![
                s.sub("conv1")
                    .conv2d(Conv::new(inplanes, width, 1).no_bias())?,
                s.sub("bn1").batch_norm2d(width, 1e-5)?,
                s.sub("conv2").conv2d(
                    Conv::new(width, width, 3)
                        .stride(stride)
                        .padding(1)
                        .groups(v.groups)
                        .no_bias(),
                )?,
                s.sub("bn2").batch_norm2d(width, 1e-5)?,
                s.sub("conv3").conv2d(Conv::new(width, out, 1).no_bias())?,
                s.sub("bn3").batch_norm2d(out, 1e-5)?,
                s.sub("relu").relu(),
            ]
        }
    };
    children.extend(downsample);
    Ok(match v.block {
        Block::Basic => s.block(
            "torchvision.models.resnet.BasicBlock",
            basic_forward,
            children,
        ),
        Block::Bottleneck => s.block(
            "torchvision.models.resnet.Bottleneck",
            bottleneck_forward,
            children,
        ),
    })
}

fn resnet_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for name in [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
    ] {
        x = m.call(name, &x, rec)?;
    }
    let x = ops::flatten(m, rec, &x)?;
    m.call("fc", &x, rec)
}

/// The shortcut and the final ReLU, shared by both block kinds: `relu(out + shortcut(x))`. The block's
/// one `relu` module is called again here, as in torchvision.
fn residual(m: &Module, x: &Act, out: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let identity = match m.children.iter().find(|c| c.name == "downsample") {
        Some(d) => d.forward(x, rec)?,
        None => x.share(),
    };
    let sum = ops::add(m, rec, out, &identity)?;
    m.call("relu", &sum, rec)
}

fn basic_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut out = x.share();
    for name in ["conv1", "bn1", "relu", "conv2", "bn2"] {
        out = m.call(name, &out, rec)?;
    }
    residual(m, x, &out, rec)
}

fn bottleneck_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut out = x.share();
    for name in [
        "conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3",
    ] {
        out = m.call(name, &out, rec)?;
    }
    residual(m, x, &out, rec)
}
