//! GPT-2 as `transformers.GPT2LMHeadModel` builds it: token and learned position embeddings, pre-norm
//! blocks whose projections are `Conv1D`s (weights stored in × out), a final LayerNorm and a language
//! model head tied to the token embedding.
//!
//! In a forward pass (eval, sdpa attention, no KV cache) `attn.attn_dropout` is never called: sdpa takes
//! the dropout rate as an argument instead. The position embedding looks up one row of positions shared
//! by the batch, so its output has batch 1.

use super::Tokens;
use super::config::Gpt2Config;
use super::tree::{Cx, DROPOUT, MODULE_LIST, attention_mult_adds, join, module};
use crate::summary::ModuleNode;

pub const LM_HEAD_MODEL: &str = "transformers.models.gpt2.modeling_gpt2.GPT2LMHeadModel";
pub const MODEL: &str = "transformers.models.gpt2.modeling_gpt2.GPT2Model";
pub const BLOCK: &str = "transformers.models.gpt2.modeling_gpt2.GPT2Block";
pub const ATTENTION: &str = "transformers.models.gpt2.modeling_gpt2.GPT2Attention";
pub const MLP: &str = "transformers.models.gpt2.modeling_gpt2.GPT2MLP";

/// The tied head's weight is the token embedding's.
pub const TIED_HEAD: (&str, &str) = ("lm_head.weight", "transformer.wte.weight");

pub(super) fn tree(c: &Gpt2Config, t: Option<Tokens>) -> ModuleNode {
    let cx = Cx { t, dtype: c.dtype };
    let h = c.n_embd;
    let hidden = cx.shape(|t| vec![t.batch, t.seq, h]);
    let tokens = cx.shape(|t| vec![t.batch, t.seq]);
    let positions = cx.shape(|t| vec![1, t.seq]);
    let blocks = (0..c.n_layer)
        .map(|i| block(c, cx, &join("transformer.h", i)))
        .collect();
    let transformer = cx.called(
        module(
            "transformer",
            MODEL,
            vec![
                cx.embedding("transformer.wte", c.vocab_size, h, tokens.as_deref()),
                cx.embedding("transformer.wpe", c.n_positions, h, positions.as_deref()),
                cx.leaf("transformer.drop", DROPOUT, hidden.clone()),
                module("transformer.h", MODULE_LIST, blocks),
                cx.layer_norm("transformer.ln_f", h, hidden.clone()),
            ],
        ),
        hidden,
        None,
    );
    let mut head = cx.linear("lm_head", h, c.vocab_size, false, tokens.as_deref());
    if c.tie_word_embeddings {
        head.parameters[0].tied_to = Some(TIED_HEAD.1.to_string());
    }
    let logits = cx.shape(|t| vec![t.batch, t.seq, c.vocab_size]);
    cx.called(
        module("", LM_HEAD_MODEL, vec![transformer, head]),
        logits,
        None,
    )
}

fn block(c: &Gpt2Config, cx: Cx, path: &str) -> ModuleNode {
    let h = c.n_embd;
    let inner = c.inner();
    let hidden = cx.shape(|t| vec![t.batch, t.seq, h]);
    let lead = cx.shape(|t| vec![t.batch, t.seq]);
    let lead = lead.as_deref();
    let attn_path = join(path, "attn");
    let attn = cx.called(
        module(
            &attn_path,
            ATTENTION,
            vec![
                cx.conv1d(&join(&attn_path, "c_attn"), h, 3 * h, lead),
                cx.conv1d(&join(&attn_path, "c_proj"), h, h, lead),
                cx.leaf(&join(&attn_path, "attn_dropout"), DROPOUT, None),
                cx.leaf(&join(&attn_path, "resid_dropout"), DROPOUT, hidden.clone()),
            ],
        ),
        hidden.clone(),
        cx.t.map(|t| attention_mult_adds(t, c.n_head, c.head_dim())),
    );
    let mlp_path = join(path, "mlp");
    let mlp = cx.called(
        module(
            &mlp_path,
            MLP,
            vec![
                cx.conv1d(&join(&mlp_path, "c_fc"), h, inner, lead),
                cx.conv1d(&join(&mlp_path, "c_proj"), inner, h, lead),
                cx.leaf(
                    &join(&mlp_path, "act"),
                    c.activation_function.class(),
                    cx.shape(|t| vec![t.batch, t.seq, inner]),
                ),
                cx.leaf(&join(&mlp_path, "dropout"), DROPOUT, hidden.clone()),
            ],
        ),
        hidden.clone(),
        None,
    );
    cx.called(
        module(
            path,
            BLOCK,
            vec![
                cx.layer_norm(&join(path, "ln_1"), h, hidden.clone()),
                attn,
                cx.layer_norm(&join(path, "ln_2"), h, hidden.clone()),
                mlp,
            ],
        ),
        hidden,
        None,
    )
}
