//! MaxViT-T (Tu et al., 2022), as torchvision builds it: a two-convolution stem, four blocks of MaxViT
//! layers — each an MBConv (with squeeze-and-excitation) followed by attention within 7×7 windows and
//! attention across a 7×7 grid spanning the whole map, both with a relative position bias — and a
//! pool / LayerNorm / Linear / Tanh / Linear classifier.
//!
//! The partitions are sized when the model is built, for 224×224 inputs (torchvision's default
//! `input_size`), so other sizes are refused. `blocks` and each block's `layers` are ModuleLists:
//! PyTorch never calls them, their parents call each item.

use super::module::{GeluApproximation, Module};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Pool, Scope};
use super::tv_ops::{
    Activation, NormLayer, conv_norm_activation_with, relative_position_index, squeeze_excitation,
};
use tch::{TchError, Tensor};

const INPUT_SIZE: i64 = 224;
const STEM: i64 = 64;
const CHANNELS: [i64; 4] = [64, 128, 256, 512];
const LAYERS: [usize; 4] = [2, 2, 5, 2];
const HEAD_DIM: i64 = 32;
const PARTITION: i64 = 7;
const EXPANSION: i64 = 4;
const MLP_RATIO: i64 = 4;
const STOCHASTIC_DEPTH: f64 = 0.2;
/// MaxViT's BatchNorm2d eps; its LayerNorms keep PyTorch's 1e-5.
const BN_EPS: f64 = 1e-3;
const LN_EPS: f64 = 1e-5;

/// A 3×3, stride 2, padding 1 convolution's output size, as torchvision's `_get_conv_output_shape`.
fn halved(size: i64) -> i64 {
    (size - 3 + 2) / 2 + 1
}

pub(super) fn maxvit_t(root: &Scope, num_classes: i64) -> Result<Module, TchError> {
    let bn = NormLayer::BatchNorm { eps: BN_EPS };
    let mut stem = root.sub("stem").seq();
    stem.push(conv_norm_activation_with(
        &stem.next(),
        Conv::new(3, STEM, 3).stride(2).same_padding().no_bias(),
        bn,
        Activation::Gelu,
    )?);
    stem.push(conv_norm_activation_with(
        &stem.next(),
        Conv::new(STEM, STEM, 3).same_padding(),
        NormLayer::None,
        Activation::None,
    )?);

    // Stochastic depth rises linearly over all layers, from 0 (where it is an Identity) to 0.2.
    let total: usize = LAYERS.iter().sum();
    let mut layer_index = 0;
    let mut grid = halved(INPUT_SIZE);
    let blocks_scope = root.sub("blocks");
    let mut blocks = Vec::new();
    let mut cin = STEM;
    for (b, (&cout, &layers)) in CHANNELS.iter().zip(&LAYERS).enumerate() {
        grid = halved(grid);
        let block = blocks_scope.sub(b);
        let list = block.sub("layers");
        let mut items = Vec::new();
        for i in 0..layers {
            let p = STOCHASTIC_DEPTH * layer_index as f64 / (total - 1) as f64;
            let (layer_in, stride) = if i == 0 { (cin, 2) } else { (cout, 1) };
            items.push(maxvit_layer(
                &list.sub(i),
                layer_in,
                cout,
                stride,
                grid,
                p > 0.0,
            )?);
            layer_index += 1;
        }
        blocks.push(block.block(
            "torchvision.models.maxvit.MaxVitBlock",
            |m, x, rec| items_in_order(m.child("layers")?, x, rec),
            vec![list.module_list(items)],
        ));
        cin = cout;
    }

    let last = CHANNELS[3];
    let mut classifier = root.sub("classifier").seq();
    classifier.push(classifier.next().adaptive_avg_pool2d([1, 1]));
    classifier.push(classifier.next().flatten());
    classifier.push(classifier.next().layer_norm(last, LN_EPS, true)?);
    classifier.push(classifier.next().linear(last, last)?);
    classifier.push(classifier.next().tanh());
    classifier.push(classifier.next().linear_no_bias(last, num_classes)?);
    let children = vec![
        stem.finish(),
        blocks_scope.module_list(blocks),
        classifier.finish(),
    ];
    Ok(root.block("torchvision.models.maxvit.MaxVit", maxvit_forward, children))
}

fn maxvit_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let size = x.t.size();
    if size[2] != INPUT_SIZE || size[3] != INPUT_SIZE {
        return Err(ForwardError::new(
            &m.path,
            m.type_name(),
            format!(
                "built for {INPUT_SIZE}×{INPUT_SIZE} images (its attention partitions are sized then), \
                 got {}×{}",
                size[2], size[3]
            ),
        ));
    }
    let x = m.call("stem", x, rec)?;
    let x = items_in_order(m.child("blocks")?, &x, rec)?;
    m.call("classifier", &x, rec)
}

/// A ModuleList's items one after another, called by the list's owner.
fn items_in_order(list: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for item in &list.children {
        x = item.forward(&x, rec)?;
    }
    Ok(x)
}

fn maxvit_layer(
    s: &Scope,
    cin: i64,
    cout: i64,
    stride: i64,
    grid: i64,
    stochastic: bool,
) -> Result<Module, TchError> {
    let mut layers = s.sub("layers").seq();
    layers.push(mb_conv(
        &layers.named("MBconv"),
        cin,
        cout,
        stride,
        stochastic,
    )?);
    layers.push(partition_attention(
        &layers.named("window_attention"),
        cout,
        grid,
        false,
    )?);
    layers.push(partition_attention(
        &layers.named("grid_attention"),
        cout,
        grid,
        true,
    )?);
    Ok(s.block(
        "torchvision.models.maxvit.MaxVitLayer",
        |m, x, rec| m.call("layers", x, rec),
        vec![layers.finish()],
    ))
}

fn mb_conv(
    s: &Scope,
    cin: i64,
    cout: i64,
    stride: i64,
    stochastic: bool,
) -> Result<Module, TchError> {
    let proj = if stride != 1 || cin != cout {
        let mut proj = s.sub("proj").seq();
        if stride == 2 {
            proj.push(proj.next().avg_pool2d(Pool::new(3, stride).padding(1)));
        }
        proj.push(proj.next().conv2d(Conv::new(cin, cout, 1))?);
        proj.finish()
    } else {
        s.sub("proj").identity()
    };
    let stochastic_depth = if stochastic {
        s.sub("stochastic_depth").stochastic_depth()
    } else {
        s.sub("stochastic_depth").identity()
    };
    let (mid, squeeze) = (cout * EXPANSION, cout / 4);
    let bn = NormLayer::BatchNorm { eps: BN_EPS };
    let mut layers = s.sub("layers").seq();
    layers.push(layers.named("pre_norm").batch_norm2d(cin, BN_EPS)?);
    layers.push(conv_norm_activation_with(
        &layers.named("conv_a"),
        Conv::new(cin, mid, 1).no_bias(),
        bn,
        Activation::Gelu,
    )?);
    layers.push(conv_norm_activation_with(
        &layers.named("conv_b"),
        Conv::new(mid, mid, 3)
            .stride(stride)
            .padding(1)
            .groups(mid)
            .no_bias(),
        bn,
        Activation::Gelu,
    )?);
    layers.push(squeeze_excitation(
        &layers.named("squeeze_excitation"),
        mid,
        squeeze,
        Activation::SiLU,
        Activation::Sigmoid,
    )?);
    layers.push(layers.named("conv_c").conv2d(Conv::new(mid, cout, 1))?);
    Ok(s.block(
        "torchvision.models.maxvit.MBConv",
        |m, x, rec| {
            let shortcut = m.call("proj", x, rec)?;
            let out = m.call("layers", x, rec)?;
            let out = m.call("stochastic_depth", &out, rec)?;
            ops::add(m, rec, &shortcut, &out)
        },
        vec![proj, stochastic_depth, layers.finish()],
    ))
}

/// Window attention (`grid == false`: 7×7 windows) or grid attention (a 7×7 grid of positions spread
/// over the map), each followed by an MLP, both residual.
fn partition_attention(
    s: &Scope,
    c: i64,
    grid: i64,
    across_grid: bool,
) -> Result<Module, TchError> {
    // The partition size `p`: 7 for windows, the number of 7-wide partitions for the grid (whose
    // windows are then swapped with their positions, so attention runs across them).
    let partitions = grid / PARTITION;
    let p = if across_grid { partitions } else { PARTITION };
    let (gh, gw) = (grid / p, grid / p);
    let swap = |s: Scope| {
        if across_grid {
            s.custom(
                "torchvision.models.maxvit.SwapAxes",
                vec![],
                Box::new(|x: &Tensor| x.f_swapaxes(-2, -3)),
            )
        } else {
            s.identity()
        }
    };
    let mut attn = s.sub("attn_layer").seq();
    attn.push(attn.next().layer_norm(c, LN_EPS, true)?);
    attn.push(relative_attention(&attn.next(), c)?);
    attn.push(attn.next().dropout(0.0));
    let mut mlp = s.sub("mlp_layer").seq();
    mlp.push(mlp.next().layer_norm(c, LN_EPS, true)?);
    mlp.push(mlp.next().linear(c, c * MLP_RATIO)?);
    mlp.push(mlp.next().gelu(GeluApproximation::None));
    mlp.push(mlp.next().linear(c * MLP_RATIO, c)?);
    mlp.push(mlp.next().dropout(0.0));
    let children = vec![
        s.sub("partition_op").custom(
            "torchvision.models.maxvit.WindowPartition",
            vec![],
            Box::new(move |x: &Tensor| window_partition(x, p)),
        ),
        s.sub("departition_op").custom(
            "torchvision.models.maxvit.WindowDepartition",
            vec![],
            Box::new(move |x: &Tensor| window_departition(x, p, gh, gw)),
        ),
        swap(s.sub("partition_swap")),
        swap(s.sub("departition_swap")),
        attn.finish(),
        mlp.finish(),
        s.sub("stochastic_dropout").stochastic_depth(),
    ];
    Ok(s.block(
        "torchvision.models.maxvit.PartitionAttentionLayer",
        |m, x, rec| {
            let x = m.call("partition_op", x, rec)?;
            let mut x = m.call("partition_swap", &x, rec)?;
            for branch in ["attn_layer", "mlp_layer"] {
                let y = m.call(branch, &x, rec)?;
                let y = m.call("stochastic_dropout", &y, rec)?;
                x = ops::add(m, rec, &x, &y)?;
            }
            let x = m.call("departition_swap", &x, rec)?;
            m.call("departition_op", &x, rec)
        },
        children,
    ))
}

/// (B, C, H, W) → (B, windows, P·P, C): non-overlapping P×P windows, each a sequence.
fn window_partition(x: &Tensor, p: i64) -> Result<Tensor, TchError> {
    let (b, c, h, w) = x.size4()?;
    x.f_reshape([b, c, h / p, p, w / p, p])?
        .f_permute([0, 2, 4, 3, 5, 1])?
        .f_reshape([b, (h / p) * (w / p), p * p, c])
}

/// (B, windows, P·P, C) → (B, C, gh·P, gw·P), the inverse of [`window_partition`].
fn window_departition(x: &Tensor, p: i64, gh: i64, gw: i64) -> Result<Tensor, TchError> {
    let (b, _, _, c) = x.size4()?;
    x.f_reshape([b, gh, gw, p, p, c])?
        .f_permute([0, 5, 1, 3, 2, 4])?
        .f_reshape([b, c, gh * p, gw * p])
}

/// `RelativePositionalMultiHeadAttention(c, 32, 49)`: attention within each partition of 49 positions,
/// with a learned bias per relative offset and head.
fn relative_attention(s: &Scope, c: i64) -> Result<Module, TchError> {
    let heads = c / HEAD_DIM;
    let index = Tensor::from_slice(&relative_position_index(PARTITION, PARTITION))
        .f_reshape([PARTITION * PARTITION, PARTITION * PARTITION])?;
    let own = vec![
        s.own_param(
            "relative_position_bias_table",
            &[(2 * PARTITION - 1).pow(2), heads],
        )?,
        s.own_buffer("relative_position_index", index),
    ];
    let children = vec![
        s.sub("to_qkv").linear(c, 3 * c)?,
        s.sub("merge").linear(c, c)?,
    ];
    Ok(s.block_owning(
        "torchvision.models.maxvit.RelativePositionalMultiHeadAttention",
        move |m, x, rec| relative_attention_forward(m, x, rec, heads, c),
        own,
        children,
    ))
}

fn relative_attention_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    heads: i64,
    c: i64,
) -> Result<Act, ForwardError> {
    let (b, g, p, d) = x.t.size4().map_err(|e| m.error(e))?;
    let qkv = m.call("to_qkv", x, rec)?;
    let table = m.own("relative_position_bias_table")?;
    let index = m.own("relative_position_index")?;
    let attended = ops::apply(m, rec, &[&qkv], || {
        let split = |t: &Tensor| -> Result<Tensor, TchError> {
            t.f_reshape([b, g, p, heads, HEAD_DIM])?
                .f_permute([0, 1, 3, 2, 4])
        };
        let parts = qkv.t.f_chunk(3, -1)?;
        let (q, k, v) = (split(&parts[0])?, split(&parts[1])?, split(&parts[2])?);
        let k = k.f_mul_scalar((c as f64).powf(-0.5))?;
        let scores = Tensor::f_einsum("bghid,bghjd->bghij", &[&q, &k], None::<&[i64]>)?;
        let n = PARTITION * PARTITION;
        let bias = table
            .f_index_select(0, &index.f_view([-1])?)?
            .f_view([n, n, -1])?
            .f_permute([2, 0, 1])?
            .f_contiguous()?
            .f_unsqueeze(0)?;
        let weights = scores.f_add(&bias)?.f_softmax(-1, None)?;
        Tensor::f_einsum("bghij,bghjd->bghid", &[&weights, &v], None::<&[i64]>)?
            .f_permute([0, 1, 3, 2, 4])?
            .f_reshape([b, g, p, d])
    })?;
    // Both einsums: every query meets every key of its partition, per head.
    let products = 2 * (b * g * heads * p * p * HEAD_DIM) as u64;
    rec.add_op_mult_adds(m.id, products);
    m.call("merge", &attended, rec)
}
