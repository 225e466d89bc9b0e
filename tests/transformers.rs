//! Real transformers, made by `models/export.py` with Hugging Face's own classes (tiny random-weight
//! BERT, GPT-2, Llama, Mixtral and Whisper, traced), against eager PyTorch's ground truth in
//! `models/reference/`: FlopCounterMode's count ÷ 2 plus the products it leaves out on CPU (the
//! attention kernel, torch._grouped_mm), the totals, every module's output shapes from forward hooks.
//! Then what the reports say about them: roles, the head, the headline mult-adds, compare's width.

mod common;
use common::*;
use serde_json::Value as Json;
use tchinfo::dtype::DType;
use tchinfo::sources::jit_graph::{Fill, InputSpec, apply, measure};
use tchinfo::sources::torchscript::read_file;
use tchinfo::summary::head::{HeadKind, find_head};
use tchinfo::summary::role::classify;
use tchinfo::summary::{ModelSummary, Role};

const SAMPLES: &[&str] = &[
    "bert_tiny",
    "gpt2_tiny",
    "llama_tiny",
    "mixtral_tiny",
    "whisper_tiny",
];

fn shape(j: &Json) -> Vec<u64> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

fn inputs(name: &str) -> Vec<InputSpec> {
    reference(name)["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| InputSpec {
            shape: shape(&i["shape"]).into_iter().map(|d| d as i64).collect(),
            dtype: i["dtype"].as_str().unwrap().parse().unwrap(),
        })
        .collect()
}

fn measured(name: &str) -> ModelSummary {
    let path = model(name);
    let mut summary = read_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let m = measure(&path, &inputs(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    apply(&mut summary, &m);
    summary
}

/// `--input-size` and `--dtype` arguments for the reference inputs: one dtype per input.
fn input_args(name: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut dtypes = Vec::new();
    for i in reference(name)["inputs"].as_array().unwrap() {
        let dims: Vec<String> = shape(&i["shape"]).iter().map(u64::to_string).collect();
        args.extend(["--input-size".to_string(), dims.join(",")]);
        dtypes.push(match i["dtype"].as_str().unwrap() {
            "int64" => "i64",
            "float32" => "f32",
            other => panic!("{other}"),
        });
    }
    args.extend(["--dtype".to_string(), dtypes.join(",")]);
    args
}

fn run_model(name: &str, extra: &[&str]) -> String {
    let path = model(name);
    let mut args = vec![path.to_str().unwrap().to_string()];
    args.extend(input_args(name));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&refs)
}

/// The bar: operator mult-adds within 1% of FlopCounterMode ÷ 2 plus the attention products (and
/// torch._grouped_mm, which FlopCounterMode does not count either) on every sample. They are exact.
#[test]
fn operator_mult_adds_match_flop_counter_plus_attention() {
    for name in SAMPLES {
        let r = reference(name);
        let flop_counter = r["flop_counter_mult_adds"].as_u64().unwrap();
        let left_out: u64 = r["left_out_by_flop_counter"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert!(
            r["left_out_by_flop_counter"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with("aten._scaled_dot_product")),
            "{name}: the attention products are part of the figure"
        );
        let expected = flop_counter + left_out;
        let ours = measured(name).root.subtree_op_mult_adds().unwrap();
        let error = (ours as f64 - expected as f64).abs() / expected as f64;
        assert!(
            error < 0.01,
            "{name}: {ours} against {expected} ({:.3}%)",
            error * 100.0
        );
        assert_eq!(ours, expected, "{name}: exact");
    }
    // Mixtral's experts run through torch._grouped_mm: 2 of 4 experts for each of 16 tokens, in 2
    // layers, (32 → 128) then (64 → 32).
    let grouped = reference("mixtral_tiny")["left_out_by_flop_counter"]["aten._grouped_mm"]
        .as_u64()
        .unwrap();
    assert_eq!(grouped, 2 * 16 * 2 * (32 * 128 + 64 * 32));
    let experts: u64 = ["model.layers.0.mlp.experts", "model.layers.1.mlp.experts"]
        .iter()
        .map(|p| {
            measured("mixtral_tiny")
                .root
                .find(p)
                .unwrap()
                .op_mult_adds
                .unwrap()
        })
        .sum();
    assert_eq!(experts, grouped);
}

#[test]
fn totals_and_torchinfo_counts_equal_eager() {
    for name in SAMPLES {
        let r = reference(name);
        let s = measured(name);
        let t = s.totals();
        assert_eq!(t.params, r["total_params"].as_u64().unwrap(), "{name}");
        assert_eq!(
            t.trainable,
            r["trainable_params"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            t.mult_adds,
            r["torchinfo_total_mult_adds"].as_u64(),
            "{name}: torchinfo's count"
        );
    }
}

/// Output shapes equal eager PyTorch's forward hooks, but for what the trace itself changed: a traced
/// RMSNorm returns the float32 copy of its input it made (`.to(float32)` of a float32 tensor is the
/// same tensor, so the tracer saw it used as the residual), and Mixtral's router loses its logits,
/// which nothing after it used.
#[test]
fn output_shapes_equal_the_eager_hooks() {
    let trace_artifacts = ["input_layernorm", "post_attention_layernorm", "mlp.gate"];
    for name in SAMPLES {
        let s = measured(name);
        for module in reference(name)["modules"].as_array().unwrap() {
            let path = module["path"].as_str().unwrap();
            let node = s
                .root
                .find(path)
                .unwrap_or_else(|| panic!("{name}: {path}"));
            let ours: Option<Vec<Vec<u64>>> = node
                .outputs
                .as_ref()
                .map(|o| o.iter().map(|t| t.shape.clone()).collect());
            let eager: Option<Vec<Vec<u64>>> = module["output_shapes"]
                .as_array()
                .map(|v| v.iter().map(shape).collect());
            if trace_artifacts.iter().any(|a| path.ends_with(a)) {
                assert!(ours.is_some(), "{name}: {path} measured");
                continue;
            }
            assert_eq!(ours, eager, "{name}: {path}");
        }
    }
}

/// Where the parameters sit, by role, for each architecture; and GPT-2's Conv1D is no convolution.
#[test]
fn parameters_sit_in_their_roles() {
    let share = |name: &str, role: Role| measured(name).totals().role_params(role);
    // BERT: 2 layers × (4 × 32×32 + 32 biases ×4) attention, 2 × (32×64 + 64 + 64×32 + 32) feed-forward.
    assert_eq!(
        share("bert_tiny", Role::Attention),
        2 * (4 * (32 * 32 + 32))
    );
    assert_eq!(
        share("bert_tiny", Role::FeedForward),
        2 * (32 * 64 + 64 + 64 * 32 + 32)
    );
    assert_eq!(
        share("bert_tiny", Role::Embedding),
        100 * 32 + 64 * 32 + 2 * 32
    );
    assert_eq!(share("gpt2_tiny", Role::Convolution), 0);
    assert_eq!(
        share("gpt2_tiny", Role::Attention),
        2 * (32 * 96 + 96 + 32 * 32 + 32)
    );
    assert_eq!(
        share("gpt2_tiny", Role::FeedForward),
        2 * (32 * 128 + 128 + 128 * 32 + 32)
    );
    // Mixtral: every expert's weights and the router are experts; nothing is a plain feed-forward.
    assert_eq!(
        share("mixtral_tiny", Role::Experts),
        2 * (4 * (2 * 64 * 32 + 32 * 64) + 4 * 32)
    );
    assert_eq!(share("mixtral_tiny", Role::FeedForward), 0);
    // Whisper's encoder opens with two real convolutions.
    assert_eq!(
        share("whisper_tiny", Role::Convolution),
        (32 * 8 * 3 + 32) + (32 * 32 * 3 + 32)
    );
    for name in SAMPLES {
        let t = measured(name).totals();
        assert_eq!(
            t.by_role.iter().map(|r| r.params).sum::<u64>(),
            t.params,
            "{name}: every parameter has one role"
        );
        // The attention product runs in the attention modules' own code: it counts there.
        let attention = t
            .by_role
            .iter()
            .find(|r| r.role == Role::Attention)
            .unwrap();
        assert!(attention.op_mult_adds.unwrap() > 0, "{name}");
    }
}

/// The head is found from structure and is never part of a block; a tied head says where its
/// weight is counted.
#[test]
fn heads_follow_the_body_and_name_their_ties() {
    let expected = [
        (
            "bert_tiny",
            vec!["pooler.dense"],
            HeadKind::AfterTransformer,
            None,
        ),
        (
            "gpt2_tiny",
            vec!["lm_head"],
            HeadKind::LanguageModel,
            Some("transformer.wte.weight"),
        ),
        ("llama_tiny", vec!["lm_head"], HeadKind::LanguageModel, None),
        (
            "mixtral_tiny",
            vec!["lm_head"],
            HeadKind::LanguageModel,
            None,
        ),
        (
            "whisper_tiny",
            vec!["proj_out"],
            HeadKind::LanguageModel,
            Some("model.decoder.embed_tokens.weight"),
        ),
    ];
    for (name, layers, kind, tied) in expected {
        let s = measured(name);
        let head = find_head(&s.root);
        assert_eq!(head.linear_layers, layers, "{name}");
        assert_eq!(head.kind, kind, "{name}");
        assert_eq!(head.tied.first().map(|(_, to)| to.as_str()), tied, "{name}");
        let roles = classify(&s.root);
        for path in &head.linear_layers {
            let mut ancestor = path.as_str();
            while let Some((parent, _)) = ancestor.rsplit_once('.') {
                assert!(
                    !matches!(
                        roles.of(parent),
                        Role::Attention | Role::FeedForward | Role::Experts
                    ),
                    "{name}: head layer {path} sits in a block ({parent})"
                );
                ancestor = parent;
            }
            assert_eq!(roles.of(path), Role::Linear, "{name}: {path}");
        }
    }
}

/// The summary of a language model: the operator figure is the headline, torchinfo's follows with
/// why it is off, the roles, the tied head.
#[test]
fn gpt2_summary_is_golden() {
    let out = run_model("gpt2_tiny", &["--depth", "2"]);
    assert_golden("gpt2_tiny.out", &out);
    for figure in [
        "Total mult-adds: 477.18 k (477,184; counted per operator",
        "torchinfo's mult-adds: 2.03 M (2,030,144;",
        "torchinfo's count is 4.3× higher: it takes Hugging Face's Conv1D (a Linear) for a convolution",
        "  Feed-forward   16,704  54.4%",
        "Head: language-model output projection (lm_head; lm_head.weight is tied to transformer.wte.weight, counted once there): 0 params",
        "input 1 (int64) held token ids 1 to 99 in turn, in range of transformer.wte (100 rows)",
    ] {
        assert!(out.contains(figure), "missing {figure:?}:\n{out}");
    }
    assert!(!out.contains("Convolution"), "{out}");
}

/// Whisper takes float features and integer token ids: one --dtype each, in order. The token ids are
/// filled in range of the decoder's embedding.
#[test]
fn mixed_input_dtypes_run_whisper() {
    let path = model("whisper_tiny");
    let m = measure(&path, &inputs("whisper_tiny")).unwrap();
    assert_eq!(m.inputs[0].dtype, DType::Float32);
    assert_eq!(m.inputs[1].dtype, DType::Int64);
    assert_eq!(
        m.fills,
        vec![(
            2,
            Fill::Ids {
                rows: 100,
                embedding: "model.decoder.embed_tokens".into()
            }
        )]
    );
    let doc: Json =
        serde_json::from_str(&run_model("whisper_tiny", &["--format", "json"])).unwrap();
    assert_eq!(doc["totals"]["op_mult_adds"], 312_832);
    // One dtype for all still works where it fits, and a count that fits neither is a usage error.
    let p = path.to_str().unwrap();
    let out = tchinfo(&[
        p,
        "--input-size",
        "1,8,32",
        "--input-size",
        "1,4",
        "--dtype",
        "i64",
    ]);
    assert_clean_error(&out, 1, "expected scalar type");
    let out = tchinfo(&[
        p,
        "--input-size",
        "1,8,32",
        "--input-size",
        "1,4",
        "--input-size",
        "1,4",
        "--dtype",
        "f32,i64",
    ]);
    assert_clean_error(
        &out,
        2,
        "--dtype was given 2 times for 3 --input-sizes: give one for all inputs or one per input",
    );
}

/// Four models side by side fit a 120-column terminal, and the operator figure ranks them.
#[test]
fn compare_of_four_transformers_fits_120_columns() {
    let paths: Vec<String> = ["bert_tiny", "gpt2_tiny", "llama_tiny", "mixtral_tiny"]
        .iter()
        .map(|n| format!("models/{n}.pt"))
        .collect();
    let mut args = vec!["compare".to_string()];
    args.extend(paths);
    args.extend(["--input-size", "1,16", "--dtype", "i64"].map(String::from));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_ok(&refs);
    let widest = out.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 120, "{widest} columns:\n{out}");
    for figure in [
        "  Experts and router",
        "Mult-adds (operators)",
        "By operator mult-adds, cheapest first: models/bert_tiny.pt 295.94 k, models/llama_tiny.pt 378.88 k",
        "language-model output",
    ] {
        assert!(out.contains(figure), "missing {figure:?}:\n{out}");
    }
    let operators = out.find("Mult-adds (operators)").unwrap();
    let torchinfo = out.find("Mult-adds (torchinfo)").unwrap();
    assert!(operators < torchinfo, "the operator figure comes first");
}
