//! Inception v3 (Szegedy et al., "Rethinking the Inception architecture"), as torchvision builds it,
//! with or without the auxiliary classifier `AuxLogits` (`aux_logits`), which holds parameters but runs
//! only in training, so the eval forward never calls it. Default input 3×299×299. The pools inside the Inception modules are
//! functional (`F.avg_pool2d`, `F.max_pool2d`), so they have no rows.

use super::basic_conv::basic_conv2d;
use super::module::{Module, training_only};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use tch::TchError;

const BASIC_CONV: &str = "torchvision.models.inception.BasicConv2d";

fn conv(s: &Scope, name: &str, spec: Conv) -> Result<Module, TchError> {
    basic_conv2d(&s.sub(name), BASIC_CONV, spec)
}

pub(super) fn inception_v3(
    root: &Scope,
    num_classes: i64,
    aux_logits: bool,
) -> Result<Module, TchError> {
    let mut children = vec![
        conv(root, "Conv2d_1a_3x3", Conv::new(3, 32, 3).stride(2))?,
        conv(root, "Conv2d_2a_3x3", Conv::new(32, 32, 3))?,
        conv(root, "Conv2d_2b_3x3", Conv::new(32, 64, 3).padding(1))?,
        root.sub("maxpool1").max_pool2d(Pool::new(3, 2)),
        conv(root, "Conv2d_3b_1x1", Conv::new(64, 80, 1))?,
        conv(root, "Conv2d_4a_3x3", Conv::new(80, 192, 3))?,
        root.sub("maxpool2").max_pool2d(Pool::new(3, 2)),
        inception_a(&root.sub("Mixed_5b"), 192, 32)?,
        inception_a(&root.sub("Mixed_5c"), 256, 64)?,
        inception_a(&root.sub("Mixed_5d"), 288, 64)?,
        inception_b(&root.sub("Mixed_6a"), 288)?,
        inception_c(&root.sub("Mixed_6b"), 768, 128)?,
        inception_c(&root.sub("Mixed_6c"), 768, 160)?,
        inception_c(&root.sub("Mixed_6d"), 768, 160)?,
        inception_c(&root.sub("Mixed_6e"), 768, 192)?,
    ];
    if aux_logits {
        children.push(inception_aux(&root.sub(AUX), 768, num_classes)?);
    }
    children.extend([
        inception_d(&root.sub("Mixed_7a"), 768)?,
        inception_e(&root.sub("Mixed_7b"), 1280)?,
        inception_e(&root.sub("Mixed_7c"), 2048)?,
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        root.sub("dropout").dropout(0.5),
        root.sub("fc").linear(2048, num_classes)?,
    ]);
    Ok(root.block(
        "torchvision.models.inception.Inception3",
        inception3_forward,
        children,
    ))
}

const AUX: &str = "AuxLogits";

/// `InceptionAux`: registered between `Mixed_6e` and `Mixed_7a`, called only when training.
fn inception_aux(s: &Scope, cin: i64, num_classes: i64) -> Result<Module, TchError> {
    let children = vec![
        conv(s, "conv0", Conv::new(cin, 128, 1))?,
        conv(s, "conv1", Conv::new(128, 768, 5))?,
        s.sub("fc").linear(768, num_classes)?,
    ];
    Ok(s.block(
        "torchvision.models.inception.InceptionAux",
        training_only,
        children,
    ))
}

fn inception3_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    let in_eval = m.children.iter().filter(|c| c.name != AUX);
    for child in in_eval.take_while(|c| c.name != "fc") {
        x = child.forward(&x, rec)?;
    }
    let x = ops::flatten(m, rec, &x)?;
    m.call("fc", &x, rec)
}

/// Runs the named children one after another.
fn chain(m: &Module, names: &[&str], x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for name in names {
        x = m.call(name, &x, rec)?;
    }
    Ok(x)
}

/// `F.avg_pool2d(x, 3, stride=1, padding=1)` then `branch_pool`.
fn pool_branch(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let pooled = ops::avg_pool2d(m, rec, x, 3, 1, 1)?;
    m.call("branch_pool", &pooled, rec)
}

fn inception_a(s: &Scope, cin: i64, pool_features: i64) -> Result<Module, TchError> {
    let children = vec![
        conv(s, "branch1x1", Conv::new(cin, 64, 1))?,
        conv(s, "branch5x5_1", Conv::new(cin, 48, 1))?,
        conv(s, "branch5x5_2", Conv::new(48, 64, 5).padding(2))?,
        conv(s, "branch3x3dbl_1", Conv::new(cin, 64, 1))?,
        conv(s, "branch3x3dbl_2", Conv::new(64, 96, 3).padding(1))?,
        conv(s, "branch3x3dbl_3", Conv::new(96, 96, 3).padding(1))?,
        conv(s, "branch_pool", Conv::new(cin, pool_features, 1))?,
    ];
    Ok(s.block(
        "torchvision.models.inception.InceptionA",
        inception_a_forward,
        children,
    ))
}

fn inception_a_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let outputs = [
        m.call("branch1x1", x, rec)?,
        chain(m, &["branch5x5_1", "branch5x5_2"], x, rec)?,
        chain(
            m,
            &["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
            x,
            rec,
        )?,
        pool_branch(m, x, rec)?,
    ];
    ops::cat(m, rec, &outputs)
}

fn inception_b(s: &Scope, cin: i64) -> Result<Module, TchError> {
    let children = vec![
        conv(s, "branch3x3", Conv::new(cin, 384, 3).stride(2))?,
        conv(s, "branch3x3dbl_1", Conv::new(cin, 64, 1))?,
        conv(s, "branch3x3dbl_2", Conv::new(64, 96, 3).padding(1))?,
        conv(s, "branch3x3dbl_3", Conv::new(96, 96, 3).stride(2))?,
    ];
    Ok(s.block(
        "torchvision.models.inception.InceptionB",
        inception_b_forward,
        children,
    ))
}

fn inception_b_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let outputs = [
        m.call("branch3x3", x, rec)?,
        chain(
            m,
            &["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
            x,
            rec,
        )?,
        ops::max_pool2d(m, rec, x, 3, 2)?,
    ];
    ops::cat(m, rec, &outputs)
}

fn inception_c(s: &Scope, cin: i64, c7: i64) -> Result<Module, TchError> {
    let row = |a: i64, b: i64| Conv::rect(a, b, [1, 7]).padding_hw([0, 3]);
    let col = |a: i64, b: i64| Conv::rect(a, b, [7, 1]).padding_hw([3, 0]);
    let children = vec![
        conv(s, "branch1x1", Conv::new(cin, 192, 1))?,
        conv(s, "branch7x7_1", Conv::new(cin, c7, 1))?,
        conv(s, "branch7x7_2", row(c7, c7))?,
        conv(s, "branch7x7_3", col(c7, 192))?,
        conv(s, "branch7x7dbl_1", Conv::new(cin, c7, 1))?,
        conv(s, "branch7x7dbl_2", col(c7, c7))?,
        conv(s, "branch7x7dbl_3", row(c7, c7))?,
        conv(s, "branch7x7dbl_4", col(c7, c7))?,
        conv(s, "branch7x7dbl_5", row(c7, 192))?,
        conv(s, "branch_pool", Conv::new(cin, 192, 1))?,
    ];
    Ok(s.block(
        "torchvision.models.inception.InceptionC",
        inception_c_forward,
        children,
    ))
}

fn inception_c_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let dbl = [
        "branch7x7dbl_1",
        "branch7x7dbl_2",
        "branch7x7dbl_3",
        "branch7x7dbl_4",
        "branch7x7dbl_5",
    ];
    let outputs = [
        m.call("branch1x1", x, rec)?,
        chain(m, &["branch7x7_1", "branch7x7_2", "branch7x7_3"], x, rec)?,
        chain(m, &dbl, x, rec)?,
        pool_branch(m, x, rec)?,
    ];
    ops::cat(m, rec, &outputs)
}

fn inception_d(s: &Scope, cin: i64) -> Result<Module, TchError> {
    let children = vec![
        conv(s, "branch3x3_1", Conv::new(cin, 192, 1))?,
        conv(s, "branch3x3_2", Conv::new(192, 320, 3).stride(2))?,
        conv(s, "branch7x7x3_1", Conv::new(cin, 192, 1))?,
        conv(
            s,
            "branch7x7x3_2",
            Conv::rect(192, 192, [1, 7]).padding_hw([0, 3]),
        )?,
        conv(
            s,
            "branch7x7x3_3",
            Conv::rect(192, 192, [7, 1]).padding_hw([3, 0]),
        )?,
        conv(s, "branch7x7x3_4", Conv::new(192, 192, 3).stride(2))?,
    ];
    Ok(s.block(
        "torchvision.models.inception.InceptionD",
        inception_d_forward,
        children,
    ))
}

fn inception_d_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let outputs = [
        chain(m, &["branch3x3_1", "branch3x3_2"], x, rec)?,
        chain(
            m,
            &[
                "branch7x7x3_1",
                "branch7x7x3_2",
                "branch7x7x3_3",
                "branch7x7x3_4",
            ],
            x,
            rec,
        )?,
        ops::max_pool2d(m, rec, x, 3, 2)?,
    ];
    ops::cat(m, rec, &outputs)
}

fn inception_e(s: &Scope, cin: i64) -> Result<Module, TchError> {
    let row = |a: i64, b: i64| Conv::rect(a, b, [1, 3]).padding_hw([0, 1]);
    let col = |a: i64, b: i64| Conv::rect(a, b, [3, 1]).padding_hw([1, 0]);
    let children = vec![
        conv(s, "branch1x1", Conv::new(cin, 320, 1))?,
        conv(s, "branch3x3_1", Conv::new(cin, 384, 1))?,
        conv(s, "branch3x3_2a", row(384, 384))?,
        conv(s, "branch3x3_2b", col(384, 384))?,
        conv(s, "branch3x3dbl_1", Conv::new(cin, 448, 1))?,
        conv(s, "branch3x3dbl_2", Conv::new(448, 384, 3).padding(1))?,
        conv(s, "branch3x3dbl_3a", row(384, 384))?,
        conv(s, "branch3x3dbl_3b", col(384, 384))?,
        conv(s, "branch_pool", Conv::new(cin, 192, 1))?,
    ];
    Ok(s.block(
        "torchvision.models.inception.InceptionE",
        inception_e_forward,
        children,
    ))
}

/// A 1×3 and a 3×1 convolution side by side on the same input, concatenated.
fn split(m: &Module, names: [&str; 2], x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let outputs = [m.call(names[0], x, rec)?, m.call(names[1], x, rec)?];
    ops::cat(m, rec, &outputs)
}

fn inception_e_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let b1 = m.call("branch1x1", x, rec)?;
    let b3 = m.call("branch3x3_1", x, rec)?;
    let b3 = split(m, ["branch3x3_2a", "branch3x3_2b"], &b3, rec)?;
    let bd = chain(m, &["branch3x3dbl_1", "branch3x3dbl_2"], x, rec)?;
    let bd = split(m, ["branch3x3dbl_3a", "branch3x3dbl_3b"], &bd, rec)?;
    let bp = pool_branch(m, x, rec)?;
    ops::cat(m, rec, &[b1, b3, bd, bp])
}
