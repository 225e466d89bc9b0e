//! GPT-2 as transformers' `GPT2LMHeadModel` builds it (the classes come from
//! `tchinfo_core::architectures::gpt2`, which describes the same model without building it).

use super::attention::{self, merge_heads, split_heads};
use super::module::{Layer, Module};
use super::ops;
use super::recorder::{Act, ForwardError, Recorder};
use super::scope::Scope;
use tch::{Device, Kind, TchError, Tensor};
use tchinfo_core::architectures::Gpt2Config;
use tchinfo_core::architectures::gpt2 as arch;

pub(super) fn gpt2(root: &Scope, c: &Gpt2Config) -> Result<Module, TchError> {
    let h = c.n_embd as i64;
    let t = root.sub("transformer");
    let wte = t.sub("wte").embedding(c.vocab_size as i64, h)?;
    let mut blocks = Vec::new();
    for i in 0..c.n_layer {
        blocks.push(block(&t.sub("h").sub(i), c)?);
    }
    let head = match (&wte.layer, c.tie_word_embeddings) {
        (Layer::Embedding(e), true) => root.sub("lm_head").linear_tied(&e.weight),
        _ => root.sub("lm_head").linear_no_bias(h, c.vocab_size as i64)?,
    };
    let transformer = t.block(
        arch::MODEL,
        transformer_forward,
        vec![
            wte,
            t.sub("wpe").embedding(c.n_positions as i64, h)?,
            t.sub("drop").dropout(0.1),
            t.sub("h").module_list(blocks),
            t.sub("ln_f").layer_norm(h, c.layer_norm_epsilon, true)?,
        ],
    );
    Ok(root.block(arch::LM_HEAD_MODEL, lm_forward, vec![transformer, head]))
}

fn block(s: &Scope, c: &Gpt2Config) -> Result<Module, TchError> {
    let h = c.n_embd as i64;
    let inner = c.inner() as i64;
    let heads = c.n_head as i64;
    let a = s.sub("attn");
    let attn = a.multi(
        arch::ATTENTION,
        vec![],
        Box::new(move |m, xs, rec| attention_forward(m, xs[0], rec, heads)),
        vec![
            a.sub("c_attn").conv1d_transposed(h, 3 * h)?,
            a.sub("c_proj").conv1d_transposed(h, h)?,
            a.sub("attn_dropout").dropout(0.1),
            a.sub("resid_dropout").dropout(0.1),
        ],
    );
    let m = s.sub("mlp");
    let mlp = m.block(
        arch::MLP,
        mlp_forward,
        vec![
            m.sub("c_fc").conv1d_transposed(h, inner)?,
            m.sub("c_proj").conv1d_transposed(inner, h)?,
            m.sub("act").activation(c.activation_function),
            m.sub("dropout").dropout(0.1),
        ],
    );
    Ok(s.block(
        arch::BLOCK,
        block_forward,
        vec![
            s.sub("ln_1").layer_norm(h, c.layer_norm_epsilon, true)?,
            attn,
            s.sub("ln_2").layer_norm(h, c.layer_norm_epsilon, true)?,
            mlp,
        ],
    ))
}

fn lm_forward(m: &Module, ids: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let hidden = m.call("transformer", ids, rec)?;
    m.call("lm_head", &hidden, rec)
}

/// Token plus position embeddings (one row of positions, shared by the batch), then the blocks.
fn transformer_forward(m: &Module, ids: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let tokens = m.call("wte", ids, rec)?;
    let seq = ids.t.size()[1];
    let positions = Tensor::f_arange(seq, (Kind::Int64, Device::Cpu))
        .and_then(|p| p.f_unsqueeze(0))
        .map_err(|e| m.error(e))?;
    let positions = m.call("wpe", &Act::free(positions), rec)?;
    let mut x = ops::add(m, rec, &tokens, &positions)?;
    x = m.call("drop", &x, rec)?;
    for block in &m.child("h")?.children {
        x = block.forward(&x, rec)?;
    }
    m.call("ln_f", &x, rec)
}

fn block_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let a = m.call("ln_1", x, rec)?;
    let a = m.call("attn", &a, rec)?;
    let x = ops::add(m, rec, x, &a)?;
    let f = m.call("ln_2", &x, rec)?;
    let f = m.call("mlp", &f, rec)?;
    ops::add(m, rec, &x, &f)
}

/// `c_attn` makes queries, keys and values in one projection; causal attention over the heads
/// (`attn_dropout` is sdpa's argument, not a call); `c_proj`, then `resid_dropout`.
fn attention_forward(
    m: &Module,
    x: &Act,
    rec: &mut Recorder,
    heads: i64,
) -> Result<Vec<Act>, ForwardError> {
    let qkv = m.call("c_attn", x, rec)?;
    let mut products = 0;
    let y = ops::apply(m, rec, &[&qkv], || {
        let parts = qkv.t.f_chunk(3, 2)?;
        let q = split_heads(&parts[0], heads)?;
        let k = split_heads(&parts[1], heads)?;
        let v = split_heads(&parts[2], heads)?;
        let (y, n) = attention::sdpa(&q, &k, &v, true)?;
        products = n;
        merge_heads(&y)
    })?;
    rec.add_op_mult_adds(m.id, products);
    let y = m.call("c_proj", &y, rec)?;
    Ok(vec![m.call("resid_dropout", &y, rec)?])
}

fn mlp_forward(m: &Module, x: &Act, rec: &mut Recorder) -> Result<Act, ForwardError> {
    let mut x = x.share();
    for name in ["c_fc", "act", "c_proj", "dropout"] {
        x = m.call(name, &x, rec)?;
    }
    Ok(x)
}
