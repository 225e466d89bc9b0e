//! The language models described from their configs alone (`tchinfo_core::architectures`, no weights,
//! no libtorch) against what `transformers` builds from the same configs: the module tree entry by
//! entry, totals and tied heads for every preset and tiny config, and for every recorded forward pass
//! each module call's output shape, each module's own operator mult-adds and both mult-add totals.

mod builtin_common;
mod transformers_common;
use builtin_common::{assert_same_lines, module_lines};
use tchinfo::architectures::{Tokens, presets};
use tchinfo::summary::SourceKind;
use transformers_common::*;

#[test]
fn module_trees_and_totals_equal_transformers() {
    let all = totals();
    assert_eq!(
        all.len(),
        presets::PRESETS.len() + 6,
        "presets and tiny configs"
    );
    for t in all {
        let arch = architecture(&t.name);
        let tree = arch.module_tree();
        assert_same_lines(&t.name, &module_fixture(&t.name), &module_lines(&tree));
        let summary = arch.summary(&t.name, None);
        let totals = summary.totals();
        assert_eq!(totals.params, t.params, "{}: parameters", t.name);
        assert_eq!(arch.parameter_count(), t.params, "{}", t.name);
        assert_eq!(totals.trainable, t.params, "{}: trainable", t.name);
        assert_eq!(totals.buffers, t.buffers, "{}: buffer elements", t.name);
        assert_eq!(tied_pairs(&tree), t.tied, "{}: tied parameters", t.name);
        assert_eq!(summary.source, SourceKind::Architecture);
        assert!(summary.inputs.is_empty() && summary.root.outputs.is_none());
    }
}

#[test]
fn every_recorded_forward_pass_matches_transformers() {
    for run in shape_runs() {
        let what = format!("{} at {}x{}", run.name, run.tokens.batch, run.tokens.seq);
        let arch = architecture(&run.name);
        let summary = arch.summary(&run.name, Some(run.tokens));
        assert_forward_matches(&what, &summary.root, &run);
        let totals = summary.totals();
        assert_eq!(
            totals.mult_adds,
            Some(run.torchinfo_mult_adds),
            "{what}: torchinfo's mult-adds"
        );
        assert_eq!(
            totals.op_mult_adds,
            Some(run.op_mult_adds),
            "{what}: operator mult-adds"
        );
        assert_eq!(summary.inputs.len(), 1);
        assert_eq!(
            summary.inputs[0].shape,
            vec![run.tokens.batch, run.tokens.seq]
        );
    }
}

#[test]
fn the_published_parameter_counts() {
    let figures = [
        ("gpt2", 124_439_808),
        ("gpt2-xl", 1_557_611_200),
        ("bert-base-uncased", 109_482_240),
        ("Llama-3.2-1B", 1_235_814_400),
        ("Llama-3.1-8B", 8_030_261_248),
        ("Mistral-7B", 7_241_732_096),
        ("Qwen2.5-0.5B", 494_032_768),
        ("Qwen2.5-7B", 7_615_616_512),
        ("Mixtral-8x7B", 46_702_792_704),
    ];
    for (name, params) in figures {
        let preset = presets::find(name).unwrap();
        assert_eq!(preset.architecture().parameter_count(), params, "{name}");
    }
}

#[test]
fn learned_positions_bound_the_sequence() {
    let gpt2 = presets::find("gpt2").unwrap().architecture();
    let e = gpt2
        .check_tokens(Tokens {
            batch: 1,
            seq: 1025,
        })
        .unwrap_err();
    assert!(e.contains("at most 1024 tokens"), "{e}");
    assert!(
        gpt2.check_tokens(Tokens {
            batch: 1,
            seq: 1024
        })
        .is_ok()
    );
    let llama = presets::find("Llama-3.2-1B").unwrap().architecture();
    assert!(
        llama
            .check_tokens(Tokens {
                batch: 1,
                seq: 1 << 20
            })
            .is_ok(),
        "rotary positions have no table to run out of"
    );
}
