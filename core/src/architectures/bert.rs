//! BERT as `transformers.BertModel` builds it (what `AutoModel` gives for `bert-base-uncased`): word,
//! position and token-type embeddings, post-norm encoder layers, and the pooler over the first token.
//!
//! The embeddings keep two int64 buffers (not in the state dict, but in `buffers()`): the position ids
//! and the token type ids used when none are given. In a forward pass (eval, sdpa attention)
//! `attention.self.dropout` is never called: sdpa takes the dropout rate as an argument instead.

use super::Tokens;
use super::config::BertConfig;
use super::tree::{Cx, DROPOUT, MODULE_LIST, TANH, attention_mult_adds, buffer, join, module};
use crate::dtype::DType;
use crate::summary::ModuleNode;

pub const MODEL: &str = "transformers.models.bert.modeling_bert.BertModel";
pub const EMBEDDINGS: &str = "transformers.models.bert.modeling_bert.BertEmbeddings";
pub const ENCODER: &str = "transformers.models.bert.modeling_bert.BertEncoder";
pub const LAYER: &str = "transformers.models.bert.modeling_bert.BertLayer";
pub const ATTENTION: &str = "transformers.models.bert.modeling_bert.BertAttention";
pub const SELF_ATTENTION: &str = "transformers.models.bert.modeling_bert.BertSelfAttention";
pub const SELF_OUTPUT: &str = "transformers.models.bert.modeling_bert.BertSelfOutput";
pub const INTERMEDIATE: &str = "transformers.models.bert.modeling_bert.BertIntermediate";
pub const OUTPUT: &str = "transformers.models.bert.modeling_bert.BertOutput";
pub const POOLER: &str = "transformers.models.bert.modeling_bert.BertPooler";

pub(super) fn tree(c: &BertConfig, t: Option<Tokens>) -> ModuleNode {
    let cx = Cx { t, dtype: c.dtype };
    let h = c.hidden_size;
    let hidden = cx.shape(|t| vec![t.batch, t.seq, h]);
    let tokens = cx.shape(|t| vec![t.batch, t.seq]);
    let positions = cx.shape(|t| vec![1, t.seq]);
    let mut embeddings = module(
        "embeddings",
        EMBEDDINGS,
        vec![
            cx.embedding(
                "embeddings.word_embeddings",
                c.vocab_size,
                h,
                tokens.as_deref(),
            ),
            cx.embedding(
                "embeddings.position_embeddings",
                c.max_position_embeddings,
                h,
                positions.as_deref(),
            ),
            cx.embedding(
                "embeddings.token_type_embeddings",
                c.type_vocab_size,
                h,
                tokens.as_deref(),
            ),
            cx.layer_norm("embeddings.LayerNorm", h, hidden.clone()),
            cx.leaf("embeddings.dropout", DROPOUT, hidden.clone()),
        ],
    );
    let p = c.max_position_embeddings;
    embeddings = buffer(embeddings, "position_ids", &[1, p], DType::Int64);
    embeddings = buffer(embeddings, "token_type_ids", &[1, p], DType::Int64);
    let layers = (0..c.num_hidden_layers)
        .map(|i| layer(c, cx, &join("encoder.layer", i)))
        .collect();
    let encoder = cx.called(
        module(
            "encoder",
            ENCODER,
            vec![module("encoder.layer", MODULE_LIST, layers)],
        ),
        hidden.clone(),
        None,
    );
    // The pooler reads the first token of each sequence.
    let first = cx.shape(|t| vec![t.batch]);
    let pooled = cx.shape(|t| vec![t.batch, h]);
    let pooler = cx.called(
        module(
            "pooler",
            POOLER,
            vec![
                cx.linear("pooler.dense", h, h, true, first.as_deref()),
                cx.leaf("pooler.activation", TANH, pooled.clone()),
            ],
        ),
        pooled,
        None,
    );
    let embeddings = cx.called(embeddings, hidden.clone(), None);
    cx.called(
        module("", MODEL, vec![embeddings, encoder, pooler]),
        hidden,
        None,
    )
}

fn layer(c: &BertConfig, cx: Cx, path: &str) -> ModuleNode {
    let h = c.hidden_size;
    let i = c.intermediate_size;
    let hidden = cx.shape(|t| vec![t.batch, t.seq, h]);
    let wide = cx.shape(|t| vec![t.batch, t.seq, i]);
    let lead = cx.shape(|t| vec![t.batch, t.seq]);
    let lead = lead.as_deref();
    let self_path = join(path, "attention.self");
    let self_attention = cx.called(
        module(
            &self_path,
            SELF_ATTENTION,
            vec![
                cx.linear(&join(&self_path, "query"), h, h, true, lead),
                cx.linear(&join(&self_path, "key"), h, h, true, lead),
                cx.linear(&join(&self_path, "value"), h, h, true, lead),
                cx.leaf(&join(&self_path, "dropout"), DROPOUT, None),
            ],
        ),
        hidden.clone(),
        cx.t.map(|t| attention_mult_adds(t, c.num_attention_heads, c.head_dim())),
    );
    let output = |name: &str, inputs: u64, class: &str| {
        let p = join(path, name);
        cx.called(
            module(
                &p,
                class,
                vec![
                    cx.linear(&join(&p, "dense"), inputs, h, true, lead),
                    cx.layer_norm(&join(&p, "LayerNorm"), h, hidden.clone()),
                    cx.leaf(&join(&p, "dropout"), DROPOUT, hidden.clone()),
                ],
            ),
            hidden.clone(),
            None,
        )
    };
    let attention = cx.called(
        module(
            &join(path, "attention"),
            ATTENTION,
            vec![self_attention, output("attention.output", h, SELF_OUTPUT)],
        ),
        hidden.clone(),
        None,
    );
    let intermediate_path = join(path, "intermediate");
    let intermediate = cx.called(
        module(
            &intermediate_path,
            INTERMEDIATE,
            vec![
                cx.linear(&join(&intermediate_path, "dense"), h, i, true, lead),
                cx.leaf(
                    &join(&intermediate_path, "intermediate_act_fn"),
                    c.hidden_act.class(),
                    wide.clone(),
                ),
            ],
        ),
        wide,
        None,
    );
    cx.called(
        module(
            path,
            LAYER,
            vec![attention, intermediate, output("output", i, OUTPUT)],
        ),
        hidden,
        None,
    )
}
