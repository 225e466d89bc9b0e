//! A small GPT-style language model written in tch — token and position embeddings, one pre-norm
//! transformer block (causal self-attention, MLP), a final norm and an output projection — with its
//! layers recorded. Shared by `examples/transformer_summary.rs` and the tests that check its rows
//! against torchinfo and PyTorch's FLOP counter (`tests/record.rs`); `models/record_torchinfo.py`
//! builds the same model in PyTorch.
//!
//! What recording changed in the model: fields are `Recorded<…>` and built with `record::layer`, the
//! MLP is a `record::seq()`, and the attention product goes through
//! `record::scaled_dot_product_attention` so its mult-adds are counted.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};
use tchinfo::record::{self, Recorded};

#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub vocab: i64,
    pub context: i64,
    pub width: i64,
    pub heads: i64,
}

pub const CONFIG: Config = Config {
    vocab: 512,
    context: 64,
    width: 64,
    heads: 4,
};

/// Causal multi-head self-attention: one packed q, k, v projection, the attention product, an output
/// projection.
#[derive(Debug)]
pub struct CausalSelfAttention {
    qkv: Recorded<nn::Linear>,
    proj: Recorded<nn::Linear>,
    heads: i64,
}

impl CausalSelfAttention {
    fn new(p: &nn::Path, c: Config) -> Self {
        CausalSelfAttention {
            qkv: record::layer(nn::linear(
                p / "qkv",
                c.width,
                3 * c.width,
                Default::default(),
            )),
            proj: record::layer(nn::linear(p / "proj", c.width, c.width, Default::default())),
            heads: c.heads,
        }
    }
}

impl Module for CausalSelfAttention {
    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, t, c) = x.size3().expect("(batch, sequence, width)");
        let qkv = self
            .qkv
            .forward(x)
            .view([b, t, 3, self.heads, c / self.heads])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let y = record::scaled_dot_product_attention(&q, &k, &v, None, true);
        self.proj
            .forward(&y.transpose(1, 2).contiguous().view([b, t, c]))
    }
}

/// A pre-norm transformer block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Debug)]
pub struct Block {
    ln_1: Recorded<nn::LayerNorm>,
    attn: Recorded<CausalSelfAttention>,
    ln_2: Recorded<nn::LayerNorm>,
    mlp: record::Sequential,
}

impl Block {
    fn new(p: &nn::Path, c: Config) -> Self {
        let mlp = p / "mlp";
        Block {
            ln_1: record::layer(nn::layer_norm(
                p / "ln_1",
                vec![c.width],
                Default::default(),
            )),
            attn: record::layer(CausalSelfAttention::new(&(p / "attn"), c)),
            ln_2: record::layer(nn::layer_norm(
                p / "ln_2",
                vec![c.width],
                Default::default(),
            )),
            mlp: record::seq()
                .add(nn::linear(
                    &mlp / 0,
                    c.width,
                    4 * c.width,
                    Default::default(),
                ))
                .add(record::func("GELU", |x| x.gelu("none")))
                .add(nn::linear(
                    &mlp / 2,
                    4 * c.width,
                    c.width,
                    Default::default(),
                )),
        }
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Tensor {
        let x = x + self.attn.forward(&self.ln_1.forward(x));
        &x + self.mlp.forward(&self.ln_2.forward(&x))
    }
}

/// Token ids (batch, sequence) in, next-token logits (batch, sequence, vocab) out.
#[derive(Debug)]
pub struct TinyLm {
    wte: Recorded<nn::Embedding>,
    wpe: Recorded<nn::Embedding>,
    block: Recorded<Block>,
    ln_f: Recorded<nn::LayerNorm>,
    lm_head: Recorded<nn::Linear>,
}

impl TinyLm {
    pub fn new(p: &nn::Path, c: Config) -> Self {
        let no_bias = nn::LinearConfig {
            bias: false,
            ..Default::default()
        };
        TinyLm {
            wte: record::layer(nn::embedding(
                p / "wte",
                c.vocab,
                c.width,
                Default::default(),
            )),
            wpe: record::layer(nn::embedding(
                p / "wpe",
                c.context,
                c.width,
                Default::default(),
            )),
            block: record::layer(Block::new(&(p / "block"), c)),
            ln_f: record::layer(nn::layer_norm(
                p / "ln_f",
                vec![c.width],
                Default::default(),
            )),
            lm_head: record::layer(nn::linear(p / "lm_head", c.width, c.vocab, no_bias)),
        }
    }
}

impl Module for TinyLm {
    fn forward(&self, ids: &Tensor) -> Tensor {
        let positions = Tensor::arange(ids.size()[1], (Kind::Int64, ids.device()));
        let x = self.wte.forward(ids) + self.wpe.forward(&positions);
        self.lm_head
            .forward(&self.ln_f.forward(&self.block.forward(&x)))
    }
}
