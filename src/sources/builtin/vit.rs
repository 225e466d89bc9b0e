//! Vision Transformer (Dosovitskiy et al., 2021), as torchvision builds it: a strided convolution cuts
//! the image into patches, a class token is prepended, learned position embeddings added, then
//! pre-norm encoder blocks (LayerNorm, MultiheadAttention, LayerNorm, MLP) and a Linear head on the
//! class token. The position embedding fixes the image size when the model is built (224 for every
//! torchvision constructor), so other input sizes are refused, as torchvision refuses them.

use super::module::{GeluApproximation, Module};
use super::multihead_attention::self_attention;
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::{Conv, Scope};
use tch::{TchError, Tensor};

pub(super) struct Variant {
    pub(super) patch: i64,
    pub(super) layers: usize,
    pub(super) heads: i64,
    pub(super) hidden: i64,
    pub(super) mlp: i64,
}

pub(super) const B_16: Variant = Variant {
    patch: 16,
    layers: 12,
    heads: 12,
    hidden: 768,
    mlp: 3072,
};
pub(super) const B_32: Variant = Variant { patch: 32, ..B_16 };
pub(super) const L_16: Variant = Variant {
    patch: 16,
    layers: 24,
    heads: 16,
    hidden: 1024,
    mlp: 4096,
};
pub(super) const H_14: Variant = Variant {
    patch: 14,
    layers: 32,
    heads: 16,
    hidden: 1280,
    mlp: 5120,
};

/// torchvision's default `image_size`.
const IMAGE_SIZE: i64 = 224;
const EPS: f64 = 1e-6;

pub(super) fn vit(root: &Scope, v: &Variant, num_classes: i64) -> Result<Module, TchError> {
    let seq_length = (IMAGE_SIZE / v.patch).pow(2) + 1;
    let own = vec![root.own_param("class_token", &[1, 1, v.hidden])?];
    let conv_proj = root
        .sub("conv_proj")
        .conv2d(Conv::new(3, v.hidden, v.patch).stride(v.patch))?;
    let mut heads = root.sub("heads").seq();
    heads.push(heads.named("head").linear(v.hidden, num_classes)?);
    let children = vec![
        conv_proj,
        encoder(&root.sub("encoder"), v, seq_length)?,
        heads.finish(),
    ];
    let (patch, hidden) = (v.patch, v.hidden);
    Ok(root.block_owning(
        "torchvision.models.vision_transformer.VisionTransformer",
        move |m, x, rec| vit_forward(m, x, rec, patch, hidden),
        own,
        children,
    ))
}

fn encoder(s: &Scope, v: &Variant, seq_length: i64) -> Result<Module, TchError> {
    let own = vec![s.own_param("pos_embedding", &[1, seq_length, v.hidden])?];
    let mut layers = s.sub("layers").seq();
    for i in 0..v.layers {
        layers.push(encoder_block(
            &layers.named(&format!("encoder_layer_{i}")),
            v,
        )?);
    }
    let children = vec![
        s.sub("dropout").dropout(0.0),
        layers.finish(),
        s.sub("ln").layer_norm(v.hidden, EPS, true)?,
    ];
    Ok(s.block_owning(
        "torchvision.models.vision_transformer.Encoder",
        encoder_forward,
        own,
        children,
    ))
}

fn encoder_block(s: &Scope, v: &Variant) -> Result<Module, TchError> {
    let mut mlp = s.sub("mlp").seq();
    mlp.push(mlp.next().linear(v.hidden, v.mlp)?);
    mlp.push(mlp.next().gelu(GeluApproximation::None));
    mlp.push(mlp.next().dropout(0.0));
    mlp.push(mlp.next().linear(v.mlp, v.hidden)?);
    mlp.push(mlp.next().dropout(0.0));
    let mut mlp = mlp.finish();
    mlp.class = "torchvision.models.vision_transformer.MLPBlock";
    let children = vec![
        s.sub("ln_1").layer_norm(v.hidden, EPS, true)?,
        self_attention(&s.sub("self_attention"), v.hidden, v.heads)?,
        s.sub("dropout").dropout(0.0),
        s.sub("ln_2").layer_norm(v.hidden, EPS, true)?,
        mlp,
    ];
    Ok(s.block(
        "torchvision.models.vision_transformer.EncoderBlock",
        encoder_block_forward,
        children,
    ))
}

/// Patches → tokens, the class token in front, the encoder, and the head on the class token's output.
fn vit_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    patch: i64,
    hidden: i64,
) -> Result<Act, ForwardError> {
    let size = x.t.size();
    if size[2] != IMAGE_SIZE || size[3] != IMAGE_SIZE {
        return Err(ForwardError::new(
            &m.path,
            m.type_name(),
            format!(
                "built for {IMAGE_SIZE}×{IMAGE_SIZE} images (its position embedding has one entry per \
                 patch), got {}×{}",
                size[2], size[3]
            ),
        ));
    }
    let (n, grid) = (size[0], IMAGE_SIZE / patch);
    let x = m.call("conv_proj", x, rec)?;
    let tokens = ops::apply(m, rec, &[&x], || {
        x.t.f_reshape([n, hidden, grid * grid])?
            .f_permute([0, 2, 1])
    })?;
    let class_token = m.own("class_token")?;
    let x = ops::apply(m, rec, &[&tokens], || {
        Tensor::f_cat(&[&class_token.f_expand([n, -1, -1], false)?, &tokens.t], 1)
    })?;
    let x = m.call("encoder", &x, rec)?;
    let first = ops::apply(m, rec, &[&x], || x.t.f_select(1, 0))?;
    m.call("heads", &first, rec)
}

fn encoder_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let pos = m.own("pos_embedding")?;
    let x = ops::apply(m, rec, &[x], || x.t.f_add(pos))?;
    let x = m.call("dropout", &x, rec)?;
    let x = m.call("layers", &x, rec)?;
    m.call("ln", &x, rec)
}

fn encoder_block_forward(m: &Module, input: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let x = m.call("ln_1", input, rec)?;
    let x = m.call("self_attention", &x, rec)?;
    let x = m.call("dropout", &x, rec)?;
    let x = ops::add(m, rec, &x, input)?;
    let y = m.call("ln_2", &x, rec)?;
    let y = m.call("mlp", &y, rec)?;
    ops::add(m, rec, &x, &y)
}
