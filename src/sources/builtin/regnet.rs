//! RegNet X and Y (Radosavovic et al., 2020), as torchvision builds them: a 3×3 stem, four stages of
//! residual bottleneck blocks (1×1, grouped 3×3 — squeeze-and-excitation in RegNetY — 1×1), global
//! pool and `fc`. Every model comes from one rule, torchvision's `BlockParams.from_init_params`: block
//! widths grow linearly from `w_0` with slope `w_a`, are snapped to powers of `w_m` and quantised to
//! multiples of 8; consecutive blocks of one width form a stage; widths are then made divisible by the
//! group width.

use super::module::Module;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use super::tv_ops::{Activation, conv_norm_activation, make_divisible, squeeze_excitation};
use tch::{Device, Kind, TchError, Tensor};

/// The rule's parameters for one model.
pub(super) struct Params {
    pub(super) depth: i64,
    pub(super) w_0: i64,
    pub(super) w_a: f64,
    pub(super) w_m: f64,
    pub(super) group_width: i64,
    /// RegNetY's squeeze-and-excitation, as a fraction of a block's input width.
    pub(super) se_ratio: Option<f64>,
}

const fn y(depth: i64, w_0: i64, w_a: f64, w_m: f64, group_width: i64) -> Params {
    Params {
        depth,
        w_0,
        w_a,
        w_m,
        group_width,
        se_ratio: Some(0.25),
    }
}

const fn x(depth: i64, w_0: i64, w_a: f64, w_m: f64, group_width: i64) -> Params {
    Params {
        se_ratio: None,
        ..y(depth, w_0, w_a, w_m, group_width)
    }
}

pub(super) const Y_400MF: Params = y(16, 48, 27.89, 2.09, 8);
pub(super) const Y_800MF: Params = y(14, 56, 38.84, 2.4, 16);
pub(super) const Y_1_6GF: Params = y(27, 48, 20.71, 2.65, 24);
pub(super) const Y_3_2GF: Params = y(21, 80, 42.63, 2.66, 24);
pub(super) const Y_8GF: Params = y(17, 192, 76.82, 2.19, 56);
pub(super) const Y_16GF: Params = y(18, 200, 106.23, 2.48, 112);
pub(super) const Y_32GF: Params = y(20, 232, 115.89, 2.53, 232);
pub(super) const Y_128GF: Params = y(27, 456, 160.83, 2.52, 264);
pub(super) const X_400MF: Params = x(22, 24, 24.48, 2.54, 16);
pub(super) const X_800MF: Params = x(16, 56, 35.73, 2.28, 16);
pub(super) const X_1_6GF: Params = x(18, 80, 34.01, 2.25, 24);
pub(super) const X_3_2GF: Params = x(25, 88, 26.31, 2.25, 48);
pub(super) const X_8GF: Params = x(23, 80, 49.56, 2.88, 120);
pub(super) const X_16GF: Params = x(22, 216, 55.59, 2.1, 128);
pub(super) const X_32GF: Params = x(23, 320, 69.86, 2.0, 168);

const STEM: i64 = 32;
/// BatchNorm2d with PyTorch's default eps.
const BN_EPS: f64 = 1e-5;

/// One stage: output width, block count and group width (every stage has stride 2 and bottleneck
/// multiplier 1 in torchvision's models).
struct Stage {
    width: i64,
    depth: usize,
    group_width: i64,
}

/// The per-block widths, computed as torchvision computes them: in float32 libtorch arithmetic, so
/// every rounding falls the same way.
fn block_widths(p: &Params) -> Result<Vec<i64>, TchError> {
    const QUANT: i64 = 8;
    let cont = Tensor::f_arange(p.depth, (Kind::Int64, Device::Cpu))?
        .f_mul_scalar(p.w_a)?
        .f_add_scalar(p.w_0)?;
    let capacity = cont
        .f_div_scalar(p.w_0)?
        .f_log()?
        .f_div_scalar(p.w_m.ln())?
        .f_round()?;
    let widths = Tensor::f_pow_scalar(p.w_m, &capacity)?
        .f_mul_scalar(p.w_0)?
        .f_div_scalar(QUANT)?
        .f_round()?
        .f_mul_scalar(QUANT)?
        .f_to_kind(Kind::Int)?;
    Ok(Vec::<i32>::try_from(&widths)?
        .into_iter()
        .map(i64::from)
        .collect())
}

/// Stages from block widths: a new stage wherever the width changes; widths then made divisible by
/// the (at most width-sized) group width.
fn stages(p: &Params) -> Result<Vec<Stage>, TchError> {
    let widths = block_widths(p)?;
    let mut stages: Vec<Stage> = Vec::new();
    for (i, &w) in widths.iter().enumerate() {
        match stages.last_mut() {
            Some(stage) if i > 0 && widths[i - 1] == w => stage.depth += 1,
            _ => stages.push(Stage {
                width: w,
                depth: 1,
                group_width: p.group_width,
            }),
        }
    }
    for stage in &mut stages {
        stage.group_width = stage.group_width.min(stage.width);
        stage.width = make_divisible(stage.width as f64, stage.group_width);
    }
    Ok(stages)
}

pub(super) fn regnet(root: &Scope, p: &Params, num_classes: i64) -> Result<Module, TchError> {
    let mut stem = conv_norm_activation(
        &root.sub("stem"),
        Conv::new(3, STEM, 3).stride(2),
        BN_EPS,
        Activation::ReLU,
    )?;
    stem.class = "torchvision.models.regnet.SimpleStemIN";
    let mut trunk = root.sub("trunk_output").seq();
    let mut width_in = STEM;
    for (i, stage) in stages(p)?.iter().enumerate() {
        let name = format!("block{}", i + 1);
        let mut blocks = trunk.named(&name).seq();
        for b in 0..stage.depth {
            let (cin, stride) = if b == 0 {
                (width_in, 2)
            } else {
                (stage.width, 1)
            };
            let s = blocks.named(&format!("{name}-{b}"));
            blocks.push(res_bottleneck(
                &s,
                cin,
                stage.width,
                stride,
                stage.group_width,
                p.se_ratio,
            )?);
        }
        let mut blocks = blocks.finish();
        blocks.class = "torchvision.models.regnet.AnyStage";
        trunk.push(blocks);
        width_in = stage.width;
    }
    let children = vec![
        stem,
        trunk.finish(),
        root.sub("avgpool").adaptive_avg_pool2d([1, 1]),
        root.sub("fc").linear(width_in, num_classes)?,
    ];
    Ok(root.block(
        "torchvision.models.regnet.RegNet",
        |m, x, rec| {
            let mut x = x.share();
            for name in ["stem", "trunk_output", "avgpool"] {
                x = m.call(name, &x, rec)?;
            }
            let x = ops::flatten(m, rec, &x)?;
            m.call("fc", &x, rec)
        },
        children,
    ))
}

fn res_bottleneck(
    s: &Scope,
    width_in: i64,
    width_out: i64,
    stride: i64,
    group_width: i64,
    se_ratio: Option<f64>,
) -> Result<Module, TchError> {
    let mut children = Vec::new();
    let projected = width_in != width_out || stride != 1;
    if projected {
        children.push(conv_norm_activation(
            &s.sub("proj"),
            Conv::new(width_in, width_out, 1).stride(stride),
            BN_EPS,
            Activation::None,
        )?);
    }
    // Bottleneck multiplier 1: the bottleneck is as wide as the output.
    let groups = width_out / group_width;
    let f = s.sub("f");
    let mut transform = vec![
        conv_norm_activation(
            &f.sub("a"),
            Conv::new(width_in, width_out, 1),
            BN_EPS,
            Activation::ReLU,
        )?,
        conv_norm_activation(
            &f.sub("b"),
            Conv::new(width_out, width_out, 3)
                .stride(stride)
                .groups(groups),
            BN_EPS,
            Activation::ReLU,
        )?,
    ];
    if let Some(ratio) = se_ratio {
        // Python's round(): halves to even.
        let squeeze = (ratio * width_in as f64).round_ties_even() as i64;
        transform.push(squeeze_excitation(
            &f.sub("se"),
            width_out,
            squeeze,
            Activation::ReLU,
            Activation::Sigmoid,
        )?);
    }
    transform.push(conv_norm_activation(
        &f.sub("c"),
        Conv::new(width_out, width_out, 1),
        BN_EPS,
        Activation::None,
    )?);
    let mut transform = f.sequential(transform);
    transform.class = "torchvision.models.regnet.BottleneckTransform";
    children.push(transform);
    children.push(s.sub("activation").relu());
    Ok(s.block(
        "torchvision.models.regnet.ResBottleneckBlock",
        move |m, x, rec| res_bottleneck_forward(m, x, rec, projected),
        children,
    ))
}

/// `relu(proj(x) + f(x))`, or `relu(x + f(x))` without a projection.
fn res_bottleneck_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    projected: bool,
) -> Result<Act, ForwardError> {
    let sum = if projected {
        let shortcut = m.call("proj", x, rec)?;
        let out = m.call("f", x, rec)?;
        ops::add(m, rec, &shortcut, &out)?
    } else {
        let out = m.call("f", x, rec)?;
        ops::add(m, rec, x, &out)?
    };
    m.call("activation", &sum, rec)
}
