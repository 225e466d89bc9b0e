//! AlexNet, in torchvision's single-GPU variant (64/192/384/256/256 channels).

use super::module::Module;
use super::scope::{Conv, Pool, Scope};
use super::vgg::features_pool_classify;
use tch::TchError;

pub(super) fn alexnet(root: &Scope, num_classes: i64) -> Result<Module, TchError> {
    let mut f = root.sub("features").seq();
    f.push(f.next().conv2d(Conv::new(3, 64, 11).stride(4).padding(2))?);
    f.push(f.next().relu());
    f.push(f.next().max_pool2d(Pool::new(3, 2)));
    f.push(f.next().conv2d(Conv::new(64, 192, 5).padding(2))?);
    f.push(f.next().relu());
    f.push(f.next().max_pool2d(Pool::new(3, 2)));
    f.push(f.next().conv2d(Conv::new(192, 384, 3).padding(1))?);
    f.push(f.next().relu());
    f.push(f.next().conv2d(Conv::new(384, 256, 3).padding(1))?);
    f.push(f.next().relu());
    f.push(f.next().conv2d(Conv::new(256, 256, 3).padding(1))?);
    f.push(f.next().relu());
    f.push(f.next().max_pool2d(Pool::new(3, 2)));

    let mut c = root.sub("classifier").seq();
    c.push(c.next().dropout(0.5));
    c.push(c.next().linear(256 * 6 * 6, 4096)?);
    c.push(c.next().relu());
    c.push(c.next().dropout(0.5));
    c.push(c.next().linear(4096, 4096)?);
    c.push(c.next().relu());
    c.push(c.next().linear(4096, num_classes)?);

    let children = vec![
        f.finish(),
        root.sub("avgpool").adaptive_avg_pool2d([6, 6]),
        c.finish(),
    ];
    Ok(root.block(
        "torchvision.models.alexnet.AlexNet",
        features_pool_classify,
        children,
    ))
}
