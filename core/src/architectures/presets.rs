//! The built-in language models: each one's `config.json` as the Hugging Face Hub has it, kept in
//! `presets/`. They were written from the published configs (this project cannot download from the
//! Hub); `models/transformers_reference.py` builds each with `transformers` and records what it gets,
//! and the tests hold tchinfo to that.

use super::config::Architecture;

/// Tokens per sequence when none are asked for.
pub const DEFAULT_SEQ_LEN: u64 = 128;

pub struct Preset {
    /// The name tchinfo knows it by: the Hub's model name without its organisation.
    pub name: &'static str,
    /// The repository on the Hugging Face Hub whose `config.json` this is.
    pub hub_id: &'static str,
    /// `GPT-2`, `BERT`, `Llama` …
    pub family: &'static str,
    pub config_json: &'static str,
}

impl Preset {
    /// The preset as `AutoModel` builds it: a BERT preset is the bare `BertModel` with its pooler,
    /// whatever task class its Hub config names.
    pub fn architecture(&self) -> Architecture {
        let mut arch = Architecture::from_json(self.config_json)
            .unwrap_or_else(|e| panic!("preset {}: {e}", self.name));
        if let Architecture::Bert(c) = &mut arch {
            c.head = super::BertHead::Pooler;
        }
        arch
    }
}

macro_rules! preset {
    ($name:literal, $hub:literal, $family:literal) => {
        Preset {
            name: $name,
            hub_id: $hub,
            family: $family,
            config_json: include_str!(concat!("presets/", $name, ".json")),
        }
    };
}

pub static PRESETS: &[Preset] = &[
    preset!("gpt2", "openai-community/gpt2", "GPT-2"),
    preset!("gpt2-medium", "openai-community/gpt2-medium", "GPT-2"),
    preset!("gpt2-large", "openai-community/gpt2-large", "GPT-2"),
    preset!("gpt2-xl", "openai-community/gpt2-xl", "GPT-2"),
    preset!("bert-base-uncased", "google-bert/bert-base-uncased", "BERT"),
    preset!(
        "bert-large-uncased",
        "google-bert/bert-large-uncased",
        "BERT"
    ),
    preset!("Llama-3.2-1B", "meta-llama/Llama-3.2-1B", "Llama"),
    preset!("Llama-3.2-3B", "meta-llama/Llama-3.2-3B", "Llama"),
    preset!("Llama-3.1-8B", "meta-llama/Llama-3.1-8B", "Llama"),
    preset!("Mistral-7B", "mistralai/Mistral-7B-v0.1", "Mistral"),
    preset!("Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B", "Qwen2.5"),
    preset!("Qwen2.5-1.5B", "Qwen/Qwen2.5-1.5B", "Qwen2.5"),
    preset!("Qwen2.5-7B", "Qwen/Qwen2.5-7B", "Qwen2.5"),
    preset!("Mixtral-8x7B", "mistralai/Mixtral-8x7B-v0.1", "Mixtral"),
];

/// A preset by its name or its Hub id, ignoring case.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name) || p.hub_id.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_is_found_by_name_and_hub_id() {
        for p in PRESETS {
            let arch = p.architecture();
            assert!(std::ptr::eq(find(p.name).unwrap(), p));
            assert!(std::ptr::eq(find(&p.hub_id.to_lowercase()).unwrap(), p));
            assert!(arch.vocab_size() > 0, "{}", p.name);
        }
        assert!(
            find("mistral-7b-v0.1").is_none(),
            "the Hub id has its organisation"
        );
        assert!(find("Mistralai/Mistral-7B-v0.1").is_some());
    }
}
