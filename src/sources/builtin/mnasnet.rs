//! MNASNet-B1 (Tan et al., 2019) at depth multipliers 0.5, 0.75, 1.0 and 1.3, as torchvision builds it:
//! a stem of a 3×3, a depthwise 3×3 and a 1×1 convolution, six stacks of inverted residual blocks, a
//! 1×1 convolution to 1280 channels, global mean and the classifier, all in one flat `layers`
//! Sequential.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use tch::TchError;

/// Stage widths at multiplier 1.0, before scaling and rounding.
const DEPTHS: [i64; 8] = [32, 16, 24, 40, 80, 96, 192, 320];

/// (kernel, first stride, expansion, repeats) of the six stacks, into DEPTHS[2..].
const STACKS: [(i64, i64, i64, usize); 6] = [
    (3, 2, 3, 3),
    (5, 2, 3, 3),
    (5, 2, 6, 3),
    (3, 1, 6, 2),
    (5, 2, 6, 4),
    (3, 1, 6, 1),
];

const HEAD: i64 = 1280;
/// BatchNorm2d with PyTorch's default eps (torchvision changes only its momentum).
const BN_EPS: f64 = 1e-5;

/// torchvision's `_round_to_multiple_of(val, 8)`: round to the nearest multiple of 8 (at least 8),
/// up instead when that would fall below 90% of the value.
fn round_to_multiple_of_8(val: f64) -> i64 {
    let rounded = (((val + 4.0) as i64) / 8 * 8).max(8);
    if rounded as f64 >= 0.9 * val {
        rounded
    } else {
        rounded + 8
    }
}

pub(super) fn mnasnet(root: &Scope, alpha: f64, num_classes: i64) -> Result<Module, TchError> {
    let d = DEPTHS.map(|depth| round_to_multiple_of_8(depth as f64 * alpha));
    let mut l = root.sub("layers").seq();
    let bn = |s: &Scope, c: i64| s.batch_norm2d(c, BN_EPS);
    l.push(
        l.next()
            .conv2d(Conv::new(3, d[0], 3).padding(1).stride(2).no_bias())?,
    );
    l.push(bn(&l.next(), d[0])?);
    l.push(l.next().relu());
    l.push(
        l.next()
            .conv2d(Conv::new(d[0], d[0], 3).padding(1).groups(d[0]).no_bias())?,
    );
    l.push(bn(&l.next(), d[0])?);
    l.push(l.next().relu());
    l.push(l.next().conv2d(Conv::new(d[0], d[1], 1).no_bias())?);
    l.push(bn(&l.next(), d[1])?);
    for (i, &(kernel, stride, expansion, repeats)) in STACKS.iter().enumerate() {
        let (cin, cout) = (d[i + 1], d[i + 2]);
        let mut stack = l.next().seq();
        stack.push(inverted_residual(
            &stack.next(),
            cin,
            cout,
            kernel,
            stride,
            expansion,
        )?);
        for _ in 1..repeats {
            stack.push(inverted_residual(
                &stack.next(),
                cout,
                cout,
                kernel,
                1,
                expansion,
            )?);
        }
        l.push(stack.finish());
    }
    l.push(l.next().conv2d(Conv::new(d[7], HEAD, 1).no_bias())?);
    l.push(bn(&l.next(), HEAD)?);
    l.push(l.next().relu());
    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().dropout(0.2));
    classifier.push(classifier.next().linear(HEAD, num_classes)?);
    Ok(root.block(
        "torchvision.models.mnasnet.MNASNet",
        |m, x, rec| {
            let x = m.call("layers", x, rec)?;
            let x = ops::apply(m, rec, &[&x], || {
                x.t.f_mean_dim([2i64, 3].as_slice(), false, None)
            })?;
            m.call("classifier", &x, rec)
        },
        vec![l.finish(), classifier.finish()],
    ))
}

fn inverted_residual(
    s: &Scope,
    cin: i64,
    cout: i64,
    kernel: i64,
    stride: i64,
    expansion: i64,
) -> Result<Module, TchError> {
    let mid = cin * expansion;
    let mut layers = s.sub("layers").seq();
    layers.push(layers.next().conv2d(Conv::new(cin, mid, 1).no_bias())?);
    layers.push(layers.next().batch_norm2d(mid, BN_EPS)?);
    layers.push(layers.next().relu());
    layers.push(
        layers.next().conv2d(
            Conv::new(mid, mid, kernel)
                .padding(kernel / 2)
                .stride(stride)
                .groups(mid)
                .no_bias(),
        )?,
    );
    layers.push(layers.next().batch_norm2d(mid, BN_EPS)?);
    layers.push(layers.next().relu());
    layers.push(layers.next().conv2d(Conv::new(mid, cout, 1).no_bias())?);
    layers.push(layers.next().batch_norm2d(cout, BN_EPS)?);
    let residual = cin == cout && stride == 1;
    Ok(s.block(
        "torchvision.models.mnasnet._InvertedResidual",
        move |m, x, rec| residual_forward(m, x, rec, residual),
        vec![layers.finish()],
    ))
}

fn residual_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    residual: bool,
) -> Result<Act, ForwardError> {
    let out = m.call("layers", x, rec)?;
    if residual {
        ops::add(m, rec, &out, x)
    } else {
        Ok(out)
    }
}
