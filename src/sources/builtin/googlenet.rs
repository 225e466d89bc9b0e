//! GoogLeNet (Inception v1, Szegedy et al.), as torchvision builds it, with or without the two
//! auxiliary classifiers `aux1` and `aux2` (`aux_logits`), which hold parameters but run only in
//! training, so the eval forward never calls them. Like torchvision, the "5×5" branch
//! uses a 3×3 convolution.

use super::basic_conv::basic_conv2d;
use super::module::{Module, training_only};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use tch::TchError;

const BASIC_CONV: &str = "torchvision.models.googlenet.BasicConv2d";

/// An Inception module's widths: 1×1, 3×3 reduce, 3×3, "5×5" reduce, "5×5", pool projection.
type Widths = (i64, i64, i64, i64, i64, i64);

pub(super) fn googlenet(
    root: &Scope,
    num_classes: i64,
    aux_logits: bool,
) -> Result<Module, TchError> {
    let pool =
        |name: &str, kernel: i64| root.sub(name).max_pool2d(Pool::new(kernel, 2).ceil_mode());
    let inception = |name: &str, cin: i64, w: Widths| inception(&root.sub(name), cin, w);
    let mut children = vec![
        basic_conv2d(
            &root.sub("conv1"),
            BASIC_CONV,
            Conv::new(3, 64, 7).stride(2).padding(3),
        )?,
        pool("maxpool1", 3),
        basic_conv2d(&root.sub("conv2"), BASIC_CONV, Conv::new(64, 64, 1))?,
        basic_conv2d(
            &root.sub("conv3"),
            BASIC_CONV,
            Conv::new(64, 192, 3).padding(1),
        )?,
        pool("maxpool2", 3),
        inception("inception3a", 192, (64, 96, 128, 16, 32, 32))?,
        inception("inception3b", 256, (128, 128, 192, 32, 96, 64))?,
        pool("maxpool3", 3),
        inception("inception4a", 480, (192, 96, 208, 16, 48, 64))?,
        inception("inception4b", 512, (160, 112, 224, 24, 64, 64))?,
        inception("inception4c", 512, (128, 128, 256, 24, 64, 64))?,
        inception("inception4d", 512, (112, 144, 288, 32, 64, 64))?,
        inception("inception4e", 528, (256, 160, 320, 32, 128, 128))?,
        pool("maxpool4", 2),
        inception("inception5a", 832, (256, 160, 320, 32, 128, 128))?,
        inception("inception5b", 832, (384, 192, 384, 48, 128, 128))?,
    ];
    if aux_logits {
        children.push(inception_aux(&root.sub("aux1"), 512, num_classes)?);
        children.push(inception_aux(&root.sub("aux2"), 528, num_classes)?);
    }
    children.extend([
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        root.sub("dropout").dropout(0.2),
        root.sub("fc").linear(1024, num_classes)?,
    ]);
    Ok(root.block(
        "torchvision.models.googlenet.GoogLeNet",
        googlenet_forward,
        children,
    ))
}

fn inception(
    s: &Scope,
    cin: i64,
    (c1, r3, c3, r5, c5, pool_proj): Widths,
) -> Result<Module, TchError> {
    let branch = |name: &str, reduce: i64, out: i64| -> Result<Module, TchError> {
        let mut b = s.sub(name).seq();
        b.push(basic_conv2d(
            &b.next(),
            BASIC_CONV,
            Conv::new(cin, reduce, 1),
        )?);
        b.push(basic_conv2d(
            &b.next(),
            BASIC_CONV,
            Conv::new(reduce, out, 3).padding(1),
        )?);
        Ok(b.finish())
    };
    let mut pool_branch = s.sub("branch4").seq();
    pool_branch.push(
        pool_branch
            .next()
            .max_pool2d(Pool::new(3, 1).padding(1).ceil_mode()),
    );
    pool_branch.push(basic_conv2d(
        &pool_branch.next(),
        BASIC_CONV,
        Conv::new(cin, pool_proj, 1),
    )?);
    let children = vec![
        basic_conv2d(&s.sub("branch1"), BASIC_CONV, Conv::new(cin, c1, 1))?,
        branch("branch2", r3, c3)?,
        branch("branch3", r5, c5)?,
        pool_branch.finish(),
    ];
    Ok(s.block(
        "torchvision.models.googlenet.Inception",
        branches_concatenated,
        children,
    ))
}

/// Every child sees the input; their outputs are concatenated along channels (GoogLeNet's Inception).
fn branches_concatenated(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let outputs = m
        .children
        .iter()
        .map(|b| b.forward(x, rec))
        .collect::<Result<Vec<_>, _>>()?;
    ops::cat(m, rec, &outputs)
}

/// `InceptionAux`, registered after `inception5b`; called only when training.
fn inception_aux(s: &Scope, cin: i64, num_classes: i64) -> Result<Module, TchError> {
    let children = vec![
        basic_conv2d(&s.sub("conv"), BASIC_CONV, Conv::new(cin, 128, 1))?,
        s.sub("fc1").linear(2048, 1024)?,
        s.sub("fc2").linear(1024, num_classes)?,
        s.sub("dropout").dropout(0.7),
    ];
    Ok(s.block(
        "torchvision.models.googlenet.InceptionAux",
        training_only,
        children,
    ))
}

fn googlenet_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    let in_eval = m
        .children
        .iter()
        .filter(|c| c.name != "aux1" && c.name != "aux2");
    for child in in_eval.take_while(|c| c.name != "dropout") {
        x = child.forward(&x, rec)?;
    }
    // torchvision flattens before the dropout.
    let x = ops::flatten(m, rec, &x)?;
    let x = m.call("dropout", &x, rec)?;
    m.call("fc", &x, rec)
}
