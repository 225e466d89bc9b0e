//! Forward passes of the built-in architectures against torchvision's, recorded with forward hooks:
//! every module call's output shape in call order, torchinfo's mult-adds and the operator-level count.
//! VGG-16 and ResNet-50 run at 224×224 (as the issue asks); every model also runs at a small input so
//! each family's forward is checked without a slow test.

mod builtin_common;
use builtin_common::*;
use tchinfo::sources::builtin::{self, BuiltinOptions};
use tchinfo::summary::ModelSummary;

fn run(name: &str, chw: &[i64]) -> (ModelSummary, Vec<(String, Vec<u64>)>) {
    one_torch_thread();
    let opts = BuiltinOptions {
        input_size: Some(chw.to_vec()),
        ..BuiltinOptions::default()
    };
    let (summary, calls) = builtin::summarize_traced(name, &opts).unwrap_or_else(|e| panic!("{e}"));
    (
        summary,
        calls
            .into_iter()
            .map(|c| (c.path, c.output.shape))
            .collect(),
    )
}

fn summarize(name: &str, opts: &BuiltinOptions) -> ModelSummary {
    one_torch_thread();
    builtin::summarize(name, opts).unwrap_or_else(|e| panic!("{e}"))
}

fn show(calls: &[(String, Vec<u64>)]) -> Vec<String> {
    calls.iter().map(|(p, s)| format!("{p} {s:?}")).collect()
}

#[test]
fn every_module_call_matches_torchvision() {
    for (file, name, chw) in shape_runs() {
        let expected = shape_run(&file);
        let (summary, calls) = run(&name, &chw);
        assert_same_lines(&file, &show(&expected.calls), &show(&calls));

        // The tree keeps the first call in `outputs` and later ones in `repeat_outputs`.
        for (_, node) in summary.root.walk() {
            let theirs: Vec<&Vec<u64>> = expected
                .calls
                .iter()
                .filter(|c| c.0 == node.path)
                .map(|c| &c.1)
                .collect();
            let ours: Vec<&Vec<u64>> = node
                .outputs
                .iter()
                .chain(node.repeat_outputs.iter())
                .map(|o| &o[0].shape)
                .collect();
            assert_eq!(ours, theirs, "{file}: calls of '{}'", node.path);
        }

        let totals = summary.totals();
        assert_eq!(
            totals.mult_adds,
            Some(expected.torchinfo_mult_adds),
            "{file}: torchinfo mult-adds"
        );
        assert_eq!(
            totals.op_mult_adds,
            Some(expected.op_mult_adds),
            "{file}: operator mult-adds"
        );
        // Per module: torchinfo's count for each leaf, and the operator count of each subtree.
        let layers = layer_macs(&file);
        let walk = summary.root.walk();
        assert_eq!(walk.len(), layers.len(), "{file}: modules");
        for ((_, node), theirs) in walk.iter().zip(&layers) {
            assert_eq!(node.path, theirs.path, "{file}: module order");
            assert_eq!(
                node.outputs.is_some(),
                theirs.called,
                "{file}: is '{}' called",
                node.path
            );
            if !theirs.called {
                continue;
            }
            if let Some(macs) = theirs.torchinfo {
                assert_eq!(
                    node.mult_adds.unwrap_or(0),
                    macs,
                    "{file}: torchinfo mult-adds of '{}'",
                    node.path
                );
            }
            let ours: u64 = node
                .walk()
                .iter()
                .map(|(_, n)| n.op_mult_adds.unwrap_or(0))
                .sum();
            assert_eq!(
                ours, theirs.op_inclusive,
                "{file}: operator mult-adds of '{}' and its submodules",
                node.path
            );
        }

        assert_eq!(summary.inputs.len(), 1);
        let input: Vec<u64> = std::iter::once(1)
            .chain(chw.iter().map(|&d| d as u64))
            .collect();
        assert_eq!(summary.inputs[0].shape, input);
    }
}

#[test]
fn vgg16_at_224_has_torchinfos_figures() {
    let (summary, _) = run("vgg16", &[3, 224, 224]);
    let totals = summary.totals();
    // torchinfo: "Total mult-adds (G): 15.48", "Forward/backward pass size (MB): 108.45".
    assert_eq!(totals.mult_adds, Some(15_483_821_032));
    let act = totals.activations.unwrap();
    assert_eq!(
        (act.torchinfo_bytes as f64 / 1e6 * 100.0).round() / 100.0,
        108.45
    );
    let fc6 = summary.root.find("classifier.0").unwrap();
    assert_eq!(fc6.outputs.as_ref().unwrap()[0].shape, vec![1, 4096]);
    assert_eq!(fc6.op_mult_adds, Some(102_760_448));
}

#[test]
fn batch_size_sets_the_first_dimension() {
    let opts = BuiltinOptions {
        batch_size: Some(3),
        input_size: Some(vec![3, 64, 64]),
        ..BuiltinOptions::default()
    };
    let summary = summarize("resnet18", &opts);
    assert_eq!(summary.inputs[0].shape, vec![3, 3, 64, 64]);
    assert_eq!(
        summary.root.outputs.as_ref().unwrap()[0].shape,
        vec![3, 1000]
    );
    assert_eq!(
        summary
            .root
            .find("layer4")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()[0]
            .shape,
        vec![3, 512, 2, 2]
    );
}

#[test]
fn without_a_forward_pass_there_are_no_shapes() {
    let opts = BuiltinOptions {
        forward: false,
        ..BuiltinOptions::default()
    };
    one_torch_thread();
    let (summary, calls) = builtin::summarize_traced("vgg16", &opts).unwrap();
    assert!(calls.is_empty());
    assert!(summary.root.walk().iter().all(|(_, n)| n.outputs.is_none()));
    assert!(summary.inputs.is_empty());
    assert!(summary.dataflow.is_none());
    assert_eq!(summary.totals().mult_adds, None);
}

#[test]
fn data_flow_links_each_module_to_its_direct_consumers() {
    let opts = BuiltinOptions {
        input_size: Some(vec![3, 64, 64]),
        ..BuiltinOptions::default()
    };
    let summary = summarize("resnet18", &opts);
    let edges = summary.dataflow.unwrap();
    let edge = |from: &str, to: &str| edges.iter().find(|e| e.from == from && e.to == to);
    // A convolution straight into its BatchNorm, nothing else reading the convolution's output.
    assert!(edge("conv1", "bn1").unwrap().only_consumer);
    assert!(
        edge("layer1.0.conv2", "layer1.0.bn2")
            .unwrap()
            .only_consumer
    );
    assert!(
        edge("layer2.0.downsample.0", "layer2.0.downsample.1")
            .unwrap()
            .only_consumer
    );
    // The block input also feeds the residual addition, so the first convolution is not its only reader.
    assert!(!edge("maxpool", "layer1.0.conv1").unwrap().only_consumer);
    assert!(
        !edge("layer1.1.relu", "layer2.0.downsample.0")
            .unwrap()
            .only_consumer
    );
    // bn2's output goes into `+`, not into a module; flatten sits between avgpool and fc.
    assert!(edge("layer1.0.bn2", "layer1.0.relu").is_none());
    assert!(edge("avgpool", "fc").is_none());
    // Containers never appear: edges join the modules that compute.
    assert!(
        edges
            .iter()
            .all(|e| !e.from.starts_with("layer1.0") || e.from.contains(".0."))
    );
    assert!(
        edges
            .iter()
            .all(|e| summary.root.find(&e.from).unwrap().is_leaf())
    );

    let opts = BuiltinOptions {
        input_size: Some(vec![3, 32, 32]),
        ..BuiltinOptions::default()
    };
    let summary = summarize("vgg16_bn", &opts);
    let edges = summary.dataflow.unwrap();
    let conv_bn = edges
        .iter()
        .find(|e| e.from == "features.0" && e.to == "features.1")
        .unwrap();
    assert!(
        conv_bn.only_consumer,
        "VGG-16-BN's biased convolution feeds its BatchNorm directly"
    );
    assert!(
        edges
            .iter()
            .any(|e| e.from == "classifier.0" && e.to == "classifier.1" && e.only_consumer)
    );
}

#[test]
fn the_redundant_bias_lint_reads_the_data_flow() {
    use tchinfo::summary::lint::{Evidence, redundant_biases};
    let opts = BuiltinOptions {
        input_size: Some(vec![3, 32, 32]),
        ..BuiltinOptions::default()
    };
    let report = redundant_biases(&summarize("vgg16_bn", &opts));
    assert_eq!(report.evidence, Evidence::DataFlow);
    assert_eq!(
        report.findings.len(),
        13,
        "every VGG-16-BN convolution has a bias into a BatchNorm"
    );
    assert_eq!(report.wasted_params(), 64 * 2 + 128 * 2 + 256 * 3 + 512 * 6);
    let report = redundant_biases(&summarize("resnet18", &opts));
    assert!(
        report.findings.is_empty(),
        "torchvision's ResNets have bias=False"
    );
}

#[test]
fn reused_relu_rows_keep_every_call() {
    let opts = BuiltinOptions {
        input_size: Some(vec![3, 64, 64]),
        ..BuiltinOptions::default()
    };
    let summary = summarize("resnet50", &opts);
    let relu = summary.root.find("layer1.0.relu").unwrap();
    assert_eq!(relu.outputs.as_ref().unwrap()[0].shape, vec![1, 64, 16, 16]);
    let later: Vec<&Vec<u64>> = relu.repeat_outputs.iter().map(|o| &o[0].shape).collect();
    assert_eq!(later, vec![&vec![1, 64, 16, 16], &vec![1, 256, 16, 16]]);
    assert!(
        summary.notes.iter().any(|n| n.contains("more than once")),
        "{:?}",
        summary.notes
    );
}
