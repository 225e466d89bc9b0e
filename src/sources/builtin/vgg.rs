//! VGG (Simonyan & Zisserman), as torchvision builds it: `features` (3×3 convolutions, optional
//! BatchNorm, ReLU, 2×2 max pools), `avgpool` to 7×7, and the fc6/fc7/fc8 `classifier`.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use tch::TchError;

/// Output channels of each convolution; `0` marks a max pool. Configurations A, B, D and E of the paper.
fn config(depth: u32) -> &'static [i64] {
    match depth {
        11 => &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        13 => &[
            64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0,
        ],
        16 => &[
            64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
        ],
        _ => &[
            64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512,
            512, 0,
        ],
    }
}

pub(super) fn vgg(
    root: &Scope,
    depth: u32,
    batch_norm: bool,
    num_classes: i64,
) -> Result<Module, TchError> {
    let mut features = root.sub("features").seq();
    let mut channels = 3;
    for &c in config(depth) {
        if c == 0 {
            features.push(features.next().max_pool2d(Pool::new(2, 2)));
            continue;
        }
        features.push(
            features
                .next()
                .conv2d(Conv::new(channels, c, 3).padding(1))?,
        );
        if batch_norm {
            features.push(features.next().batch_norm2d(c, 1e-5)?);
        }
        features.push(features.next().relu());
        channels = c;
    }

    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().linear(512 * 7 * 7, 4096)?);
    classifier.push(classifier.next().relu());
    classifier.push(classifier.next().dropout(0.5));
    classifier.push(classifier.next().linear(4096, 4096)?);
    classifier.push(classifier.next().relu());
    classifier.push(classifier.next().dropout(0.5));
    classifier.push(classifier.next().linear(4096, num_classes)?);

    let children = vec![
        features.finish(),
        root.sub("avgpool").adaptive_avg_pool2d([7, 7]),
        classifier.finish(),
    ];
    Ok(root.block(
        "torchvision.models.vgg.VGG",
        features_pool_classify,
        children,
    ))
}

/// `features` → `avgpool` → flatten → `classifier`: the forward of VGG and AlexNet.
pub(super) fn features_pool_classify(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
) -> Result<Act, ForwardError> {
    let x = m.call("features", x, rec)?;
    let x = m.call("avgpool", &x, rec)?;
    let x = ops::flatten(m, rec, &x)?;
    m.call("classifier", &x, rec)
}
