//! Transformer language models from their Hugging Face configs alone, with no weights and no libtorch:
//! a config becomes the module tree `transformers` builds from it — every module named and classed as
//! `named_modules()` lists it, every parameter and buffer with its shape and dtype, tied heads marked —
//! and, for token ids of a given batch × sequence length, every module call's output shape and the
//! mult-adds of its own operators (matmuls, linear layers, attention products).
//!
//! The parts: [`config`] (typed configs with the keys and defaults of `config.json`), [`presets`] (the
//! built-in models' configs), one file per family ([`gpt2`], [`bert`], [`llama`] for Llama, Mistral,
//! Qwen2 and Mixtral) and `tree` (the leaf modules they are made of).
//!
//! The promise: for the models tchinfo can build with tch, this tree equals the one the tch-built model
//! and its forward pass give (tests check both against `transformers`), so a model too large to build
//! here — a 7B or a 70B — is described with the same facts, in microseconds. The capacity planner reads
//! the same trees.

pub mod bert;
pub mod config;
pub mod gpt2;
pub mod llama;
pub mod presets;
mod tree;

pub use config::{
    Activation, Architecture, BertConfig, BertHead, ConfigError, Gpt2Config, LlamaConfig,
    LlamaFamily,
};

use crate::dtype::DType;
use crate::summary::macs::fill_torchinfo_mult_adds;
use crate::summary::{ModelSummary, ModuleNode, SourceKind, TensorValue};

/// Token ids a language model runs on: `batch` sequences of `seq` tokens (int64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub batch: u64,
    pub seq: u64,
}

impl Tokens {
    /// The input tensor: batch × seq int64 token ids.
    pub fn input(self) -> TensorValue {
        TensorValue {
            shape: vec![self.batch, self.seq],
            dtype: DType::Int64,
        }
    }
}

impl Architecture {
    /// The module tree with parameters and buffers, as built (no forward pass).
    pub fn module_tree(&self) -> ModuleNode {
        self.tree(None)
    }

    /// The module tree after one forward pass on `tokens` (eval mode, no KV cache): each called module's
    /// output shape and the mult-adds of its own operators.
    pub fn forward_tree(&self, tokens: Tokens) -> ModuleNode {
        self.tree(Some(tokens))
    }

    fn tree(&self, tokens: Option<Tokens>) -> ModuleNode {
        match self {
            Architecture::Gpt2(c) => gpt2::tree(c, tokens),
            Architecture::Bert(c) => bert::tree(c, tokens),
            Architecture::Llama(c) => llama::tree(c, tokens),
        }
    }

    /// The summary of the model named `name`, with a forward pass on `tokens` when given (then with
    /// torchinfo's mult-adds as well). Source: [`SourceKind::Architecture`].
    pub fn summary(&self, name: &str, tokens: Option<Tokens>) -> ModelSummary {
        let mut root = self.tree(tokens);
        if tokens.is_some() {
            fill_torchinfo_mult_adds(&mut root);
        }
        let mut summary = ModelSummary::new(name, SourceKind::Architecture, root);
        summary.inputs = tokens.map(Tokens::input).into_iter().collect();
        summary
    }

    /// Tokens per sequence when none are asked for: 128, or fewer when the model's learned positions
    /// end sooner.
    pub fn default_seq_len(&self) -> u64 {
        self.max_positions()
            .map_or(presets::DEFAULT_SEQ_LEN, |max| {
                max.min(presets::DEFAULT_SEQ_LEN)
            })
    }

    /// Transformer layers (blocks).
    pub fn layers(&self) -> u64 {
        match self {
            Architecture::Gpt2(c) => c.n_layer,
            Architecture::Bert(c) => c.num_hidden_layers,
            Architecture::Llama(c) => c.num_hidden_layers,
        }
    }

    /// Parameters, a tied head counted once (as `parameters()` counts it).
    pub fn parameter_count(&self) -> u64 {
        self.module_tree().subtree_params()
    }

    /// Why these tokens cannot go through the model, if they cannot: learned positions end at
    /// `n_positions` / `max_position_embeddings`.
    pub fn check_tokens(&self, tokens: Tokens) -> Result<(), String> {
        if tokens.batch == 0 || tokens.seq == 0 {
            return Err(format!(
                "the batch size and the sequence length must be at least 1, got {} × {}",
                tokens.batch, tokens.seq
            ));
        }
        match self.max_positions() {
            Some(max) if tokens.seq > max => Err(format!(
                "takes at most {max} tokens per sequence (its learned positions), got a sequence \
                 length of {}",
                tokens.seq
            )),
            _ => Ok(()),
        }
    }
}
