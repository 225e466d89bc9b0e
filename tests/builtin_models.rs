//! Built-in architectures against torchvision: parameter and buffer totals, and the module tree
//! (names, classes, own parameters and buffers with shapes and dtypes) entry by entry.

mod builtin_common;
use builtin_common::*;
use tchinfo::sources::SourceError;
use tchinfo::sources::builtin::{self, BuiltinOptions};

fn no_forward() -> BuiltinOptions {
    BuiltinOptions {
        forward: false,
        ..BuiltinOptions::default()
    }
}

/// The catalogue `tchinfo list` reads (nothing built): torchvision's names, in the fixture's order
/// (grouped by family), with torchvision's parameter counts.
#[test]
fn the_list_is_torchvisions_names_and_counts() {
    let ours: Vec<(&str, u64)> = builtin::list().iter().map(|b| (b.name, b.params)).collect();
    let totals = totals();
    let theirs: Vec<(&str, u64)> = totals.iter().map(|t| (t.0.as_str(), t.1)).collect();
    assert_eq!(ours, theirs);
    let input = |name: &str| {
        builtin::list()
            .iter()
            .find(|b| b.name == name)
            .unwrap()
            .default_input
    };
    assert_eq!(input("vgg16"), [3, 224, 224]);
    assert_eq!(input("inception_v3"), [3, 299, 299]);
    assert_eq!(input("vit_h_14"), [3, 224, 224]);
    assert_eq!(input("efficientnet_b7"), [3, 600, 600]);
    assert_eq!(input("swin_v2_t"), [3, 256, 256]);
}

/// Every built-in, built with tch, has torchvision's parameters and buffers. Building costs little:
/// variables are allocated, not initialised (vit_h_14's 632 M parameters included).
#[test]
fn totals_equal_torchvision() {
    for (name, params, buffers) in totals().into_iter().filter(|t| selected(&t.0)) {
        let totals = builtin::summarize(&name, &no_forward()).unwrap().totals();
        assert_eq!(totals.params, params, "{name} parameters in the summary");
        assert_eq!(totals.trainable, params, "{name} trainable");
        assert_eq!(totals.buffers, buffers, "{name} buffer elements");
    }
}

#[test]
fn the_issue_figures() {
    let figures = [
        ("vgg11", 132_863_336),
        ("vgg16", 138_357_544),
        ("vgg19", 143_667_240),
        ("vgg16_bn", 138_365_992),
        ("alexnet", 61_100_840),
        ("resnet18", 11_689_512),
        ("resnet50", 25_557_032),
        ("resnet152", 60_192_808),
        ("densenet121", 7_978_856),
        ("mobilenet_v2", 3_504_872),
        ("squeezenet1_0", 1_248_424),
        ("efficientnet_b0", 5_288_548),
        ("inception_v3", 23_834_568),
        ("vit_b_16", 86_567_656),
        ("convnext_tiny", 28_589_128),
        ("swin_t", 28_288_354),
        // Not in the issue: torchvision's pretrained GoogLeNet, and both default constructors.
        ("googlenet", 6_624_904),
        ("googlenet_aux", 13_004_888),
        ("inception_v3_aux", 27_161_264),
    ];
    for (name, params) in figures {
        assert_eq!(builtin::param_count(name, None).unwrap(), params, "{name}");
    }
}

#[test]
fn module_trees_equal_torchvision_named_modules() {
    for (name, _, _) in totals().into_iter().filter(|t| selected(&t.0)) {
        let summary = builtin::summarize(&name, &no_forward()).unwrap();
        let expected: Vec<String> = fixture(&format!("modules/{name}.txt"))
            .lines()
            .map(str::to_string)
            .collect();
        assert_same_lines(&name, &expected, &module_lines(&summary.root));
    }
}

#[test]
fn num_classes_changes_only_the_classifier() {
    // VGG-16 fc8 with 10 outputs: 4096 × 10 + 10 instead of 4,097,000.
    let n = builtin::param_count("vgg16", Some(10)).unwrap();
    assert_eq!(n, 138_357_544 - 4_097_000 + 40_970);
    let summary = builtin::summarize(
        "resnet18",
        &BuiltinOptions {
            num_classes: Some(10),
            ..no_forward()
        },
    )
    .unwrap();
    let fc = summary.root.find("fc").unwrap();
    assert_eq!(fc.parameters[0].shape, vec![10, 512]);
    // SqueezeNet's classifier is a 1×1 convolution.
    let summary = builtin::summarize(
        "squeezenet1_1",
        &BuiltinOptions {
            num_classes: Some(7),
            ..no_forward()
        },
    )
    .unwrap();
    assert_eq!(
        summary.root.find("classifier.1").unwrap().parameters[0].shape,
        vec![7, 512, 1, 1]
    );
    // The newer families' classifiers, wherever torchvision puts them.
    for (name, head, width) in [
        ("vit_b_16", "heads.head", 768),
        ("swin_t", "head", 768),
        ("convnext_tiny", "classifier.2", 768),
        ("maxvit_t", "classifier.5", 512),
        ("mobilenet_v3_small", "classifier.3", 1024),
        ("regnet_x_400mf", "fc", 400),
        ("shufflenet_v2_x1_0", "fc", 1024),
    ] {
        let summary = builtin::summarize(
            name,
            &BuiltinOptions {
                num_classes: Some(10),
                ..no_forward()
            },
        )
        .unwrap();
        let weight = &summary.root.find(head).unwrap().parameters[0];
        assert_eq!(weight.shape, vec![10, width], "{name}: {head}");
    }
}

#[test]
fn names_are_matched_without_case_and_typos_get_a_suggestion() {
    assert!(builtin::is_builtin("vgg16"));
    assert!(builtin::is_builtin("VGG16"));
    assert!(!builtin::is_builtin("vgg17"));
    assert_eq!(builtin::suggest("resnet-50").as_deref(), Some("resnet50"));
    assert_eq!(builtin::suggest("vgg16bn").as_deref(), Some("vgg16_bn"));
    assert_eq!(
        builtin::suggest("efficientnetb0").as_deref(),
        Some("efficientnet_b0")
    );
    assert_eq!(builtin::suggest("t5-small"), None);
    match builtin::summarize("resnet05", &no_forward()) {
        Err(e @ SourceError::UnknownModel { .. }) => {
            let line = e.to_string();
            assert!(line.contains("did you mean resnet50?"), "{line}");
        }
        other => panic!("expected an unknown model error, got {other:?}"),
    }
}

/// torchvision's default GoogLeNet and Inception v3 (the `_aux` built-ins) have auxiliary classifiers
/// that only training calls: they are in the tree with their parameters, and the eval forward leaves
/// them without output shape, mult-adds or activations, as torchinfo counts them (params in the total,
/// compute not). The plain names have none.
#[test]
fn auxiliary_classifiers_are_built_but_not_called() {
    one_torch_thread();
    for (name, aux, size, aux_params) in [
        ("googlenet_aux", &["aux1", "aux2"][..], 96, 6_379_984u64),
        ("inception_v3_aux", &["AuxLogits"][..], 107, 3_326_696),
    ] {
        let opts = BuiltinOptions {
            input_size: Some(vec![3, size, size]),
            ..BuiltinOptions::default()
        };
        let s = builtin::summarize(name, &opts).unwrap();
        let mut params = 0;
        for path in aux {
            let node = s.root.find(path).unwrap();
            assert_eq!(node.type_name, "InceptionAux", "{name}");
            params += node.subtree_params();
            for (_, n) in node.walk() {
                assert_eq!(n.outputs, None, "{name}: {} is never called", n.path);
                assert_eq!(n.mult_adds, None, "{name}: {}", n.path);
            }
        }
        assert_eq!(
            params, aux_params,
            "{name}: torchinfo's leftover root params"
        );
        assert!(s.root.outputs.is_some(), "{name}: the model itself ran");
        assert!(
            s.notes.iter().any(|n| n.contains("aux_logits=True")),
            "{name}: {:?}",
            s.notes
        );
        let plain = builtin::summarize(name.trim_end_matches("_aux"), &no_forward()).unwrap();
        for path in aux {
            assert!(plain.root.find(path).is_none(), "{name}: {path}");
        }
        assert_eq!(
            plain.totals().params + aux_params,
            s.totals().params,
            "{name}"
        );
    }
}
