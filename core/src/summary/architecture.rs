//! What a model's own description says about its architecture — a Hugging Face `config.json`, GGUF's
//! architecture keys — kept beside the tree, which comes from the weights. Reports show it as given;
//! nothing here is inferred from tensors.

/// The architecture as its description states it; every field is `None` (or empty) when the
/// description does not say.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Architecture {
    /// Where it was read: `config.json`, `GGUF metadata`.
    pub described_by: String,
    /// `model_type` (`llama`, `bert`) or GGUF's `general.architecture`.
    pub model_type: Option<String>,
    /// The classes that load the weights (`LlamaForCausalLM`).
    pub architectures: Vec<String>,
    /// Transformer blocks (`num_hidden_layers`, `n_layer`, GGUF's `block_count`).
    pub layers: Option<u64>,
    /// Encoder and decoder blocks of an encoder-decoder model (T5, BART, Whisper).
    pub encoder_layers: Option<u64>,
    pub decoder_layers: Option<u64>,
    /// Width of the residual stream (`hidden_size`, `n_embd`, `d_model`, `embedding_length`).
    pub hidden_size: Option<u64>,
    /// Width of the feed-forward layer (`intermediate_size`, `n_inner`, `d_ff`).
    pub intermediate_size: Option<u64>,
    pub attention_heads: Option<u64>,
    /// Key/value heads: fewer than the attention heads for grouped-query attention.
    pub kv_heads: Option<u64>,
    pub head_dim: Option<u64>,
    pub vocab_size: Option<u64>,
    /// Positions the model was built for (`max_position_embeddings`, `n_positions`,
    /// `context_length`).
    pub context_length: Option<u64>,
    /// Mixture of experts: experts per MoE layer, and how many each token is routed to.
    pub experts: Option<u64>,
    pub experts_per_token: Option<u64>,
    /// Whether the output head shares the input embedding's weight.
    pub tie_word_embeddings: Option<bool>,
    /// The weights' dtype as stated (`torch_dtype` / `dtype`).
    pub dtype: Option<String>,
    /// How the weights are quantized, as stated (GGUF's `general.file_type`, a config's
    /// `quantization_config.quant_method`).
    pub quantization: Option<String>,
}
