//! BERT as `transformers.BertModel` builds it (what `AutoModel` gives for `bert-base-uncased`): word,
//! position and token-type embeddings, post-norm encoder layers, and the pooler over the first token;
//! or, when the config's `architectures` names it, the task model around it (`bert.` before every
//! path): `BertForMaskedLM` (no pooler; the MLM head `cls.predictions`, its decoder tied to the word
//! embeddings) or `BertForSequenceClassification` (the pooler, dropout and `classifier`).
//!
//! The embeddings keep two int64 buffers (not in the state dict, but in `buffers()`): the position ids
//! and the token type ids used when none are given. In a forward pass (eval, sdpa attention)
//! `attention.self.dropout` is never called: sdpa takes the dropout rate as an argument instead.

use super::Tokens;
use super::config::{BertConfig, BertHead};
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
pub const MASKED_LM: &str = "transformers.models.bert.modeling_bert.BertForMaskedLM";
pub const MLM_HEAD: &str = "transformers.models.bert.modeling_bert.BertOnlyMLMHead";
pub const PREDICTIONS: &str = "transformers.models.bert.modeling_bert.BertLMPredictionHead";
pub const TRANSFORM: &str = "transformers.models.bert.modeling_bert.BertPredictionHeadTransform";
pub const SEQUENCE_CLASSIFICATION: &str =
    "transformers.models.bert.modeling_bert.BertForSequenceClassification";

/// A masked LM's decoder weight is the word embeddings'.
pub const TIED_DECODER: (&str, &str) = (
    "cls.predictions.decoder.weight",
    "bert.embeddings.word_embeddings.weight",
);

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
    let embeddings = cx.called(embeddings, hidden.clone(), None);
    let pooler = || {
        // The pooler reads the first token of each sequence.
        let first = cx.shape(|t| vec![t.batch]);
        let pooled = cx.shape(|t| vec![t.batch, h]);
        cx.called(
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
        )
    };
    let bare = |with_pooler: bool| {
        let mut children = vec![embeddings.clone(), encoder.clone()];
        if with_pooler {
            children.push(pooler());
        }
        cx.called(module("", MODEL, children), hidden.clone(), None)
    };
    match c.head {
        BertHead::Pooler => bare(true),
        BertHead::MaskedLm => {
            let v = c.vocab_size;
            let lead = cx.shape(|t| vec![t.batch, t.seq]);
            let lead = lead.as_deref();
            let transform = cx.called(
                module(
                    "cls.predictions.transform",
                    TRANSFORM,
                    vec![
                        cx.linear("cls.predictions.transform.dense", h, h, true, lead),
                        cx.leaf(
                            "cls.predictions.transform.transform_act_fn",
                            c.hidden_act.class(),
                            hidden.clone(),
                        ),
                        cx.layer_norm("cls.predictions.transform.LayerNorm", h, hidden.clone()),
                    ],
                ),
                hidden.clone(),
                None,
            );
            // The decoder's weight is the word embeddings', its bias the head's own `bias`.
            let mut decoder = cx.linear("cls.predictions.decoder", h, v, true, lead);
            decoder.parameters[0].tied_to = Some(TIED_DECODER.1.to_string());
            decoder.parameters[1].tied_to = Some("cls.predictions.bias".to_string());
            let logits = cx.shape(|t| vec![t.batch, t.seq, v]);
            let predictions = cx.called(
                cx.param(
                    module("cls.predictions", PREDICTIONS, vec![transform, decoder]),
                    "bias",
                    &[v],
                ),
                logits.clone(),
                None,
            );
            let cls = cx.called(
                module("cls", MLM_HEAD, vec![predictions]),
                logits.clone(),
                None,
            );
            cx.called(
                module("", MASKED_LM, vec![under("bert", bare(false)), cls]),
                logits,
                None,
            )
        }
        BertHead::SequenceClassification { labels } => {
            let pooled = cx.shape(|t| vec![t.batch, h]);
            let first = cx.shape(|t| vec![t.batch]);
            let scores = cx.shape(|t| vec![t.batch, labels]);
            cx.called(
                module(
                    "",
                    SEQUENCE_CLASSIFICATION,
                    vec![
                        under("bert", bare(true)),
                        cx.leaf("dropout", DROPOUT, pooled),
                        cx.linear("classifier", h, labels, true, first.as_deref()),
                    ],
                ),
                scores,
                None,
            )
        }
    }
}

/// `tree`, a model's root, as the child `name` of a task model: every path under `name.`.
fn under(name: &str, mut tree: ModuleNode) -> ModuleNode {
    fn prefix(n: &mut ModuleNode, name: &str) {
        n.path = join(name, &n.path);
        for p in n.parameters.iter_mut() {
            if let Some(t) = &mut p.tied_to {
                *t = join(name, &*t);
            }
        }
        for c in n.children.iter_mut() {
            prefix(c, name);
        }
    }
    prefix(&mut tree, name);
    tree.name = name.to_string();
    tree
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
