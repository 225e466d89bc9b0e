//! SqueezeNet 1.0 and 1.1 (Iandola et al.), as torchvision builds them: Fire modules (1×1 squeeze, then
//! parallel 1×1 and 3×3 expands concatenated) and a convolutional classifier.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use tch::TchError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V1_0,
    V1_1,
}

/// One entry of `features`: a ceil-mode 3×3/2 max pool or a Fire(squeeze, expand1x1, expand3x3).
#[derive(Clone, Copy)]
enum Item {
    Pool,
    Fire(i64, i64, i64),
}

pub(super) fn squeezenet(
    root: &Scope,
    version: Version,
    num_classes: i64,
) -> Result<Module, TchError> {
    use Item::*;
    let (stem, items): (Conv, &[Item]) = match version {
        Version::V1_0 => (
            Conv::new(3, 96, 7).stride(2),
            &[
                Pool,
                Fire(16, 64, 64),
                Fire(16, 64, 64),
                Fire(32, 128, 128),
                Pool,
                Fire(32, 128, 128),
                Fire(48, 192, 192),
                Fire(48, 192, 192),
                Fire(64, 256, 256),
                Pool,
                Fire(64, 256, 256),
            ],
        ),
        Version::V1_1 => (
            Conv::new(3, 64, 3).stride(2),
            &[
                Pool,
                Fire(16, 64, 64),
                Fire(16, 64, 64),
                Pool,
                Fire(32, 128, 128),
                Fire(32, 128, 128),
                Pool,
                Fire(48, 192, 192),
                Fire(48, 192, 192),
                Fire(64, 256, 256),
                Fire(64, 256, 256),
            ],
        ),
    };
    let mut f = root.sub("features").seq();
    f.push(f.next().conv2d(stem)?);
    f.push(f.next().relu());
    let mut channels = stem.out_channels();
    for &item in items {
        match item {
            Pool => f.push(
                f.next()
                    .max_pool2d(super::scope::Pool::new(3, 2).ceil_mode()),
            ),
            Fire(squeeze, e1, e3) => {
                f.push(fire(&f.next(), channels, squeeze, e1, e3)?);
                channels = e1 + e3;
            }
        }
    }

    let mut c = root.sub("classifier").seq();
    c.push(c.next().dropout(0.5));
    c.push(c.next().conv2d(Conv::new(channels, num_classes, 1))?);
    c.push(c.next().relu());
    c.push(c.next().adaptive_avg_pool2d([1, 1]));
    let children = vec![f.finish(), c.finish()];
    Ok(root.block(
        "torchvision.models.squeezenet.SqueezeNet",
        squeezenet_forward,
        children,
    ))
}

fn fire(s: &Scope, cin: i64, squeeze: i64, e1: i64, e3: i64) -> Result<Module, TchError> {
    let children = vec![
        s.sub("squeeze").conv2d(Conv::new(cin, squeeze, 1))?,
        s.sub("squeeze_activation").relu(),
        s.sub("expand1x1").conv2d(Conv::new(squeeze, e1, 1))?,
        s.sub("expand1x1_activation").relu(),
        s.sub("expand3x3")
            .conv2d(Conv::new(squeeze, e3, 3).padding(1))?,
        s.sub("expand3x3_activation").relu(),
    ];
    Ok(s.block("torchvision.models.squeezenet.Fire", fire_forward, children))
}

fn fire_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("squeeze", x, rec)?;
    let x = m.call("squeeze_activation", &x, rec)?;
    let a = m.call("expand1x1", &x, rec)?;
    let a = m.call("expand1x1_activation", &a, rec)?;
    let b = m.call("expand3x3", &x, rec)?;
    let b = m.call("expand3x3_activation", &b, rec)?;
    ops::cat(m, rec, &[a, b])
}

fn squeezenet_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("features", x, rec)?;
    let x = m.call("classifier", &x, rec)?;
    ops::flatten(m, rec, &x)
}
