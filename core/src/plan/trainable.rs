//! Which parts of a transformer a fine-tune trains, as the activation formula needs them.
//!
//! Autograd keeps, for each operation it records, only what the backward of the inputs and weights
//! that require a gradient needs: a frozen Linear whose input requires a gradient keeps nothing (its
//! weight is a parameter), a trained one keeps its input, a LoRA adapter keeps its input and its
//! rank-wide intermediate, and nothing below the first trained parameter is recorded at all. So the
//! formula ([`super::transformer`]) needs, per layer, which of its parts are trained: the two norms,
//! the query/key/value projections, the attention output projection, the MLP's input side (up and
//! gate projections, GPT-2's `c_fc`, BERT's `intermediate.dense`, a mixture's router and experts'
//! `w1`/`w3`) and its output side (down, `c_proj`, `output.dense`, `w2`), with the LoRA ranks on each;
//! and outside the layers the embeddings, the final norm and the head.
//!
//! Names are classified by transformers' and llama.cpp's module names; a parameter inside a layer whose
//! role is not known marks the whole layer trained, one outside the layers the head: an upper bound.

use super::finetune::Selected;
use regex::Regex;
use std::sync::LazyLock;

/// A part of a layer: whether its weights are trained, and the LoRA ranks on its matrices (an adapter
/// is trained whatever its base).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Part {
    pub trained: bool,
    pub lora_ranks: u64,
}

impl Part {
    const TRAINED: Part = Part {
        trained: true,
        lora_ranks: 0,
    };

    /// The part's output needs a gradient whatever its input: its weights or an adapter are trained.
    pub fn makes_grad(&self) -> bool {
        self.trained || self.lora_ranks > 0
    }
}

/// One layer's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerTraining {
    /// The norm before attention (pre-norm models), or after it (BERT's `attention.output.LayerNorm`).
    pub attention_norm: Part,
    pub qkv: Part,
    pub output: Part,
    /// The norm before the MLP (pre-norm), or after it (BERT's `output.LayerNorm`).
    pub mlp_norm: Part,
    pub mlp_in: Part,
    pub mlp_out: Part,
}

impl LayerTraining {
    const ALL: LayerTraining = LayerTraining {
        attention_norm: Part::TRAINED,
        qkv: Part::TRAINED,
        output: Part::TRAINED,
        mlp_norm: Part::TRAINED,
        mlp_in: Part::TRAINED,
        mlp_out: Part::TRAINED,
    };

    /// The sum of the layer's LoRA ranks (each adapter keeps an intermediate this wide per token).
    pub fn lora_ranks(&self) -> u64 {
        [
            self.attention_norm,
            self.qkv,
            self.output,
            self.mlp_norm,
            self.mlp_in,
            self.mlp_out,
        ]
        .iter()
        .map(|p| p.lora_ranks)
        .sum()
    }

    pub fn any(&self) -> bool {
        self.attention_norm.makes_grad()
            || self.qkv.makes_grad()
            || self.output.makes_grad()
            || self.mlp_norm.makes_grad()
            || self.mlp_in.makes_grad()
            || self.mlp_out.makes_grad()
    }
}

/// The whole model's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    /// Any embedding table (or BERT's embedding LayerNorm) trained: the embeddings' output needs a
    /// gradient.
    pub embeddings: bool,
    /// The token embedding itself (it keeps the int64 ids it looked up).
    pub word_embeddings: bool,
    pub layers: Vec<LayerTraining>,
    pub final_norm: bool,
    /// The head (a language model's projection to the vocabulary, tied or not; BERT's pooler and task
    /// heads).
    pub head: bool,
}

impl Training {
    /// Full training: everything trained, no adapters.
    pub fn full(layers: u64) -> Training {
        Training {
            embeddings: true,
            word_embeddings: true,
            layers: vec![LayerTraining::ALL; layers as usize],
            final_norm: true,
            head: true,
        }
    }

    /// The parts `selected` trains in a model of `layers` layers.
    pub fn of(selected: &Selected, layers: u64) -> Training {
        let mut t = Training {
            embeddings: false,
            word_embeddings: false,
            layers: vec![LayerTraining::default(); layers as usize],
            final_norm: false,
            head: false,
        };
        let mut head_seen = false;
        for (name, trained) in &selected.named {
            let module = name.rsplit_once('.').map_or("", |(m, _)| m);
            match place(module) {
                Place::Layer(i, role) => {
                    if let Some(layer) = t.layers.get_mut(i) {
                        role.mark(layer, |p| p.trained |= trained);
                    }
                }
                Place::Embeddings { word } => {
                    t.embeddings |= trained;
                    t.word_embeddings |= word && *trained;
                }
                Place::FinalNorm => t.final_norm |= trained,
                Place::Head => {
                    head_seen = true;
                    t.head |= trained;
                }
            }
        }
        // A head tied to the token embedding is often left out of the file: it is trained with it.
        if !head_seen {
            t.head = t.word_embeddings;
        }
        for a in &selected.adapters {
            match place(&a.module) {
                Place::Layer(i, role) => {
                    if let Some(layer) = t.layers.get_mut(i) {
                        role.mark(layer, |p| p.lora_ranks += a.rank);
                    }
                }
                // An adapter outside the layers (a head, an embedding) makes that part's output need
                // a gradient, as training it would.
                Place::Embeddings { word } => {
                    t.embeddings = true;
                    t.word_embeddings |= word;
                }
                Place::FinalNorm => t.final_norm = true,
                Place::Head => t.head = true,
            }
        }
        t
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    AttentionNorm,
    Qkv,
    Output,
    MlpNorm,
    MlpIn,
    MlpOut,
    /// Not a name this module knows: the whole layer.
    Unknown,
}

impl Role {
    fn mark(self, layer: &mut LayerTraining, f: impl Fn(&mut Part)) {
        match self {
            Role::AttentionNorm => f(&mut layer.attention_norm),
            Role::Qkv => f(&mut layer.qkv),
            Role::Output => f(&mut layer.output),
            Role::MlpNorm => f(&mut layer.mlp_norm),
            Role::MlpIn => f(&mut layer.mlp_in),
            Role::MlpOut => f(&mut layer.mlp_out),
            Role::Unknown => {
                for p in [
                    &mut layer.attention_norm,
                    &mut layer.qkv,
                    &mut layer.output,
                    &mut layer.mlp_norm,
                    &mut layer.mlp_in,
                    &mut layer.mlp_out,
                ] {
                    f(p);
                }
            }
        }
    }
}

enum Place {
    Layer(usize, Role),
    Embeddings { word: bool },
    FinalNorm,
    Head,
}

/// A layer's index and the rest of the module path: `model.layers.3.self_attn.q_proj`,
/// `transformer.h.3.attn.c_attn`, `bert.encoder.layer.3.attention.self.query`, `blk.3.attn_q`.
static LAYER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|\.)(?:layers|h|layer|blk)\.(\d+)(?:\.(.*))?$").expect("a valid expression")
});

fn place(module: &str) -> Place {
    if let Some(c) = LAYER.captures(module) {
        let index = c[1].parse().unwrap_or(usize::MAX);
        let rest = c.get(2).map_or("", |m| m.as_str());
        return Place::Layer(index, role(rest));
    }
    let last = module.rsplit('.').next().unwrap_or(module);
    if ["embed_tokens", "wte", "word_embeddings", "token_embd"].contains(&last) {
        return Place::Embeddings { word: true };
    }
    if module.contains("embed") || last == "wpe" || last == "token_types" {
        return Place::Embeddings { word: false };
    }
    if [
        "norm",
        "ln_f",
        "output_norm",
        "final_layernorm",
        "final_layer_norm",
    ]
    .contains(&last)
    {
        return Place::FinalNorm;
    }
    Place::Head
}

fn role(rest: &str) -> Role {
    let last = rest.rsplit('.').next().unwrap_or(rest);
    match (rest, last) {
        (_, "input_layernorm" | "ln_1" | "attn_norm") => Role::AttentionNorm,
        ("attention.output.LayerNorm", _) => Role::AttentionNorm,
        (_, "post_attention_layernorm" | "ln_2" | "ffn_norm") => Role::MlpNorm,
        ("output.LayerNorm", _) => Role::MlpNorm,
        (
            _,
            "q_proj" | "k_proj" | "v_proj" | "query" | "key" | "value" | "c_attn" | "attn_q"
            | "attn_k" | "attn_v" | "attn_qkv",
        ) => Role::Qkv,
        ("self_attn.o_proj" | "attn.c_proj" | "attention.output.dense" | "attn_output", _) => {
            Role::Output
        }
        ("mlp.c_proj" | "mlp.down_proj" | "output.dense", _) => Role::MlpOut,
        (_, "down_proj" | "w2" | "ffn_down" | "ffn_down_exps") => Role::MlpOut,
        (
            _,
            "gate_proj" | "up_proj" | "c_fc" | "w1" | "w3" | "gate" | "ffn_gate" | "ffn_up"
            | "ffn_gate_exps" | "ffn_up_exps" | "ffn_gate_inp",
        ) => Role::MlpIn,
        ("intermediate.dense", _) => Role::MlpIn,
        _ => Role::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architectures::presets;
    use crate::plan::finetune::Finetune;

    fn training(model: &str, f: Finetune) -> Training {
        let arch = presets::find(model).unwrap().architecture();
        let tree = arch.module_tree();
        Training::of(&f.select(&tree).unwrap(), arch.layers())
    }

    /// Everything trained by name gives the formula of full training, for each family.
    #[test]
    fn everything_trained_is_full_training() {
        use crate::plan::transformer::{FormulaOptions, activations, activations_trained};
        let options = FormulaOptions {
            tokens: crate::architectures::Tokens { batch: 2, seq: 64 },
            activation_bytes: 2,
            mask_bytes: 1,
            attention: crate::plan::AttentionKind::Eager,
            checkpointing: crate::plan::Checkpointing::None,
            tensor_parallel: 1,
        };
        let everything = Finetune {
            train: Some(Regex::new(".").unwrap()),
            ..Default::default()
        };
        for model in ["Llama-3.1-8B", "gpt2", "bert-base-uncased", "Mixtral-8x7B"] {
            let arch = presets::find(model).unwrap().architecture();
            let t = training(model, everything.clone());
            assert_eq!(
                activations_trained(&arch, &options, &t),
                activations(&arch, &options),
                "{model}"
            );
        }
    }

    #[test]
    fn lora_marks_the_attention_projections_and_freezes_the_rest() {
        let t = training(
            "Llama-3.1-8B",
            Finetune {
                lora_rank: Some(8),
                ..Default::default()
            },
        );
        assert!(!t.embeddings && !t.final_norm && !t.head);
        let layer = t.layers[0];
        assert_eq!(
            layer.qkv,
            Part {
                trained: false,
                lora_ranks: 24
            }
        );
        assert_eq!(layer.output.lora_ranks, 8);
        assert!(!layer.mlp_in.makes_grad() && !layer.attention_norm.makes_grad());
        // GPT-2's head is tied to wte: freezing the embeddings freezes it.
        let t = training(
            "gpt2",
            Finetune {
                freeze: Some(Regex::new(r"^transformer\.(wte|wpe|h\.0)\.").unwrap()),
                ..Default::default()
            },
        );
        assert!(!t.embeddings && !t.head && t.final_norm);
        assert!(!t.layers[0].any() && t.layers[1] == LayerTraining::ALL);
    }
}
