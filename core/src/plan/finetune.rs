//! Fine-tuning part of a model: which parameters are trained, and LoRA adapters.
//!
//! - `--train REGEX`: only parameters whose full name (`model.layers.0.mlp.up_proj.weight`) matches
//!   are trained; `--freeze REGEX`: those that match are not (applied after `--train`).
//! - `--lora-rank R`: every matrix of a targeted module (attention projections by default: q, k, v and
//!   o under the names of Llama, GPT-2, BERT and llama.cpp) gets an adapter `B·A` with `A` R × in and
//!   `B` out × R, R·(in + out) parameters, trained; the base is frozen (with `--train`, what it
//!   matches is trained as well, as PEFT's `modules_to_save`).
//!
//! Weights stay whole (frozen ones are kept too); gradients and optimizer state exist only for the
//! trained parameters and the adapters. Adapters are kept in the plan's precision.

use super::state::ParamTensor;
use crate::summary::ModuleNode;
use regex::Regex;

/// The modules LoRA adapts when no target is given: attention's q, k, v and output projections.
pub const DEFAULT_LORA_TARGETS: &str = r"(^|\.)(q_proj|k_proj|v_proj|o_proj|query|key|value|attention\.output\.dense|c_attn|attn\.c_proj|attn_q|attn_k|attn_v|attn_output)$";

/// What is fine-tuned.
#[derive(Debug, Clone, Default)]
pub struct Finetune {
    pub train: Option<Regex>,
    pub freeze: Option<Regex>,
    pub lora_rank: Option<u64>,
    /// Module paths LoRA adapts; [`DEFAULT_LORA_TARGETS`] when `None`.
    pub lora_targets: Option<Regex>,
}

/// One LoRA adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// The adapted module's path.
    pub module: String,
    pub in_features: u64,
    pub out_features: u64,
    pub rank: u64,
}

impl Adapter {
    pub fn params(&self) -> u64 {
        self.rank * (self.in_features + self.out_features)
    }
}

/// The parameters as the fine-tuning trains them.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The model's own parameters (trainable as selected), then the adapters' A and B.
    pub tensors: Vec<ParamTensor>,
    pub adapters: Vec<Adapter>,
    /// Every parameter's full name and whether it is trained (a tied duplicate under its own name,
    /// with the flag of the tensor it shares), for the activation formula of a fine-tune.
    pub named: Vec<(String, bool)>,
}

impl Finetune {
    pub fn is_active(&self) -> bool {
        self.train.is_some() || self.freeze.is_some() || self.lora_rank.is_some()
    }

    /// What was asked, in words, for the plan's line about it.
    pub fn describe(&self, selected: &Selected) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(r) = self.lora_rank {
            let params: u64 = selected.adapters.iter().map(Adapter::params).sum();
            parts.push(format!(
                "LoRA rank {r} on {} matrices ({} adapter parameters, trained; the base frozen)",
                selected.adapters.len(),
                crate::units::thousands(params)
            ));
        }
        if let Some(t) = &self.train {
            parts.push(format!("trained: parameters matching /{t}/"));
        }
        if let Some(f) = &self.freeze {
            parts.push(format!("frozen: parameters matching /{f}/"));
        }
        Some(parts.join("; "))
    }

    /// Applies the selection to every parameter of `root` (tied duplicates once). Errors name an
    /// expression that selects nothing.
    pub fn select(&self, root: &ModuleNode) -> Result<Selected, String> {
        let mut tensors = Vec::new();
        let mut adapters = Vec::new();
        let mut named = Vec::new();
        let mut tied = Vec::new();
        let targets = self
            .lora_targets
            .clone()
            .unwrap_or_else(|| Regex::new(DEFAULT_LORA_TARGETS).expect("a valid expression"));
        let (mut trained_by_flag, mut frozen_by_flag) = (0usize, 0usize);
        for (_, node) in root.walk() {
            for p in node.parameters.iter() {
                let name = if node.path.is_empty() {
                    p.name.clone()
                } else {
                    format!("{}.{}", node.path, p.name)
                };
                if let Some(target) = &p.tied_to {
                    tied.push((name, target.clone()));
                    continue;
                }
                // LoRA and --train start from everything frozen.
                let mut trainable =
                    self.lora_rank.is_none() && self.train.is_none() && p.requires_grad;
                if let Some(t) = &self.train
                    && t.is_match(&name)
                {
                    trainable = true;
                    trained_by_flag += 1;
                }
                if let Some(f) = &self.freeze
                    && f.is_match(&name)
                {
                    trainable = false;
                    frozen_by_flag += 1;
                }
                if let Some(rank) = self.lora_rank
                    && p.shape.len() == 2
                    && p.name == "weight"
                    && targets.is_match(&node.path)
                {
                    // Linear keeps (out, in), GPT-2's Conv1D (in, out): R·(in + out) either way.
                    let conv1d = node.type_name.ends_with("Conv1D")
                        || ["c_attn", "c_proj", "c_fc"].contains(&node.name.as_str());
                    let (out_features, in_features) = if conv1d {
                        (p.shape[1], p.shape[0])
                    } else {
                        (p.shape[0], p.shape[1])
                    };
                    adapters.push(Adapter {
                        module: node.path.clone(),
                        in_features,
                        out_features,
                        rank,
                    });
                }
                named.push((name, trainable));
                tensors.push(ParamTensor {
                    shape: p.shape.clone(),
                    trainable,
                });
            }
        }
        for (name, target) in tied {
            let trainable = named.iter().any(|(n, t)| *t && *n == target);
            named.push((name, trainable));
        }
        if let Some(t) = &self.train
            && trained_by_flag == 0
        {
            return Err(format!("--train /{t}/ matches no parameter name"));
        }
        if let Some(f) = &self.freeze
            && frozen_by_flag == 0
        {
            return Err(format!("--freeze /{f}/ matches no parameter name"));
        }
        if self.lora_rank.is_some() && adapters.is_empty() {
            return Err(format!(
                "--lora-rank: no module matches the LoRA targets /{targets}/ (give --lora-targets)"
            ));
        }
        for a in &adapters {
            tensors.push(ParamTensor {
                shape: vec![a.rank, a.in_features],
                trainable: true,
            });
            tensors.push(ParamTensor {
                shape: vec![a.out_features, a.rank],
                trainable: true,
            });
        }
        Ok(Selected {
            tensors,
            adapters,
            named,
        })
    }
}

impl Selected {
    pub fn params(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| crate::summary::numel(&t.shape))
            .sum()
    }

    pub fn trainable(&self) -> u64 {
        self.tensors
            .iter()
            .filter(|t| t.trainable)
            .map(|t| crate::summary::numel(&t.shape))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architectures::presets;

    fn rx(s: &str) -> Option<Regex> {
        Some(Regex::new(s).unwrap())
    }

    /// LoRA rank 8 on Llama-3.1-8B's q, k, v, o: per layer 8·(4096+4096) + 2·8·(4096+1024) +
    /// 8·(4096+4096) = 212,992, over 32 layers 6,815,744 — PEFT's count for this model.
    #[test]
    fn lora_rank_8_on_llama_8b_adds_r_times_in_plus_out_per_projection() {
        let arch = presets::find("Llama-3.1-8B").unwrap().architecture();
        let tree = arch.module_tree();
        let f = Finetune {
            lora_rank: Some(8),
            ..Default::default()
        };
        let s = f.select(&tree).unwrap();
        assert_eq!(s.adapters.len(), 32 * 4);
        let per_layer = 8 * (4096 + 4096) + 2 * 8 * (4096 + 1024) + 8 * (4096 + 4096);
        assert_eq!(per_layer, 212_992);
        assert_eq!(s.trainable(), 32 * per_layer);
        assert_eq!(s.params(), tree.subtree_params() + 32 * per_layer);
    }

    #[test]
    fn train_and_freeze_select_by_full_name() {
        let arch = presets::find("gpt2").unwrap().architecture();
        let tree = arch.module_tree();
        let last = Finetune {
            train: rx(r"^transformer\.h\.11\."),
            ..Default::default()
        };
        // One GPT-2 block: 2 LayerNorms (2·768 each), c_attn 768·2304 + 2304, c_proj 768·768 + 768,
        // c_fc 768·3072 + 3072, mlp c_proj 3072·768 + 768.
        assert_eq!(last.select(&tree).unwrap().trainable(), 7_087_872);
        let no_embeddings = Finetune {
            freeze: rx(r"^transformer\.(wte|wpe)\."),
            ..Default::default()
        };
        assert_eq!(
            no_embeddings.select(&tree).unwrap().trainable(),
            124_439_808 - 50_257 * 768 - 1024 * 768
        );
        let nothing = Finetune {
            train: rx("no_such_module"),
            ..Default::default()
        };
        assert!(nothing.select(&tree).unwrap_err().contains("matches no"));
    }

    /// GPT-2's fused c_attn (Conv1D, 768 → 2304) and attention c_proj: 8·(768+2304) + 8·(768+768).
    #[test]
    fn lora_on_gpt2_takes_conv1d_as_in_out() {
        let arch = presets::find("gpt2").unwrap().architecture();
        let s = Finetune {
            lora_rank: Some(8),
            ..Default::default()
        }
        .select(&arch.module_tree())
        .unwrap();
        assert_eq!(s.trainable(), 12 * (8 * (768 + 2304) + 8 * (768 + 768)));
        assert!(s.adapters.iter().all(|a| !a.module.contains("mlp")));
    }
}
