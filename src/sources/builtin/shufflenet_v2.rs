//! ShuffleNet V2 (Ma et al., 2018) at widths 0.5, 1.0, 1.5 and 2.0, as torchvision builds it: a 3×3
//! stem and max pool, three stages of blocks that split the channels in two, transform one half (both,
//! when downsampling) and shuffle the halves together, a 1×1 convolution, global mean and `fc`.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use tch::TchError;

/// Output channels of the stem, the three stages and conv5, per width.
pub(super) const X0_5: [i64; 5] = [24, 48, 96, 192, 1024];
pub(super) const X1_0: [i64; 5] = [24, 116, 232, 464, 1024];
pub(super) const X1_5: [i64; 5] = [24, 176, 352, 704, 1024];
pub(super) const X2_0: [i64; 5] = [24, 244, 488, 976, 2048];

/// Blocks per stage, every width.
const REPEATS: [usize; 3] = [4, 8, 4];

/// BatchNorm2d as it comes (eps 1e-5).
const BN_EPS: f64 = 1e-5;

pub(super) fn shufflenet_v2(
    root: &Scope,
    widths: [i64; 5],
    num_classes: i64,
) -> Result<Module, TchError> {
    let mut children = vec![
        conv_bn_relu(
            &root.sub("conv1"),
            Conv::new(3, widths[0], 3).stride(2).padding(1),
        )?,
        root.sub("maxpool").max_pool2d(Pool::new(3, 2).padding(1)),
    ];
    let mut cin = widths[0];
    for (i, (&cout, &repeats)) in widths[1..4].iter().zip(&REPEATS).enumerate() {
        let mut stage = root.sub(format!("stage{}", i + 2)).seq();
        stage.push(inverted_residual(&stage.next(), cin, cout, 2)?);
        for _ in 1..repeats {
            stage.push(inverted_residual(&stage.next(), cout, cout, 1)?);
        }
        children.push(stage.finish());
        cin = cout;
    }
    children.push(conv_bn_relu(
        &root.sub("conv5"),
        Conv::new(cin, widths[4], 1),
    )?);
    children.push(root.sub("fc").linear(widths[4], num_classes)?);
    Ok(root.block(
        "torchvision.models.shufflenetv2.ShuffleNetV2",
        |m, x, rec| {
            let mut x = x.share();
            for name in ["conv1", "maxpool", "stage2", "stage3", "stage4", "conv5"] {
                x = m.call(name, &x, rec)?;
            }
            // The global pool is a mean over H and W, not a module.
            let x = ops::apply(m, rec, &[&x], || {
                x.t.f_mean_dim([2i64, 3].as_slice(), false, None)
            })?;
            m.call("fc", &x, rec)
        },
        children,
    ))
}

/// A Sequential of a bias-free convolution, BatchNorm and ReLU.
fn conv_bn_relu(s: &Scope, conv: Conv) -> Result<Module, TchError> {
    let conv = conv.no_bias();
    let mut seq = s.seq();
    seq.push(seq.next().conv2d(conv)?);
    seq.push(seq.next().batch_norm2d(conv.out_channels(), BN_EPS)?);
    seq.push(seq.next().relu());
    Ok(seq.finish())
}

fn inverted_residual(s: &Scope, cin: i64, cout: i64, stride: i64) -> Result<Module, TchError> {
    let half = cout / 2;
    let depthwise = |c: i64| {
        Conv::new(c, c, 3)
            .stride(stride)
            .padding(1)
            .groups(c)
            .no_bias()
    };
    // Downsampling blocks transform the whole input on a second branch; others leave branch1 empty
    // (registered, never called) and pass half the channels through untouched.
    let mut branch1 = s.sub("branch1").seq();
    if stride > 1 {
        branch1.push(branch1.next().conv2d(depthwise(cin))?);
        branch1.push(branch1.next().batch_norm2d(cin, BN_EPS)?);
        branch1.push(branch1.next().conv2d(Conv::new(cin, half, 1).no_bias())?);
        branch1.push(branch1.next().batch_norm2d(half, BN_EPS)?);
        branch1.push(branch1.next().relu());
    }
    let mut branch2 = s.sub("branch2").seq();
    let branch2_in = if stride > 1 { cin } else { half };
    branch2.push(
        branch2
            .next()
            .conv2d(Conv::new(branch2_in, half, 1).no_bias())?,
    );
    branch2.push(branch2.next().batch_norm2d(half, BN_EPS)?);
    branch2.push(branch2.next().relu());
    branch2.push(branch2.next().conv2d(depthwise(half))?);
    branch2.push(branch2.next().batch_norm2d(half, BN_EPS)?);
    branch2.push(branch2.next().conv2d(Conv::new(half, half, 1).no_bias())?);
    branch2.push(branch2.next().batch_norm2d(half, BN_EPS)?);
    branch2.push(branch2.next().relu());
    Ok(s.block(
        "torchvision.models.shufflenetv2.InvertedResidual",
        move |m, x, rec| inverted_residual_forward(m, x, rec, stride),
        vec![branch1.finish(), branch2.finish()],
    ))
}

fn inverted_residual_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    stride: i64,
) -> Result<Act, ForwardError> {
    let out = if stride == 1 {
        rec.consume_by_operation(&[x]);
        let halves = x.t.f_chunk(2, 1).map_err(|e| m.error(e))?;
        let x1 = Act::free(halves[0].shallow_clone());
        let x2 = Act::free(halves[1].shallow_clone());
        let y = m.call("branch2", &x2, rec)?;
        ops::cat(m, rec, &[x1, y])?
    } else {
        let a = m.call("branch1", x, rec)?;
        let b = m.call("branch2", x, rec)?;
        ops::cat(m, rec, &[a, b])?
    };
    ops::apply(m, rec, &[&out], || channel_shuffle(&out.t, 2))
}

/// `channel_shuffle(x, groups)`: channels regrouped so each group takes a share of every other.
fn channel_shuffle(x: &tch::Tensor, groups: i64) -> Result<tch::Tensor, TchError> {
    let (n, c, h, w) = x.size4()?;
    x.f_view([n, groups, c / groups, h, w])?
        .f_transpose(1, 2)?
        .f_contiguous()?
        .f_view([n, c, h, w])
}
