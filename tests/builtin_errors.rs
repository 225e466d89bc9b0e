//! Impossible inputs and options give one clear line naming the model and the problem — never a
//! panic or an abort from libtorch.

use tchinfo::sources::SourceError;
use tchinfo::sources::builtin::{self, BuiltinOptions};

fn input_error(name: &str, opts: BuiltinOptions) -> String {
    match builtin::summarize(name, &opts) {
        Err(e @ SourceError::Input { .. }) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "one line: {line}");
            assert!(line.starts_with(&format!("{name}: ")), "{line}");
            line
        }
        other => panic!("{name}: expected an input error, got {other:?}"),
    }
}

fn size(chw: &[i64]) -> BuiltinOptions {
    BuiltinOptions {
        input_size: Some(chw.to_vec()),
        ..BuiltinOptions::default()
    }
}

#[test]
fn too_small_for_the_pools_names_the_layer() {
    let line = input_error("vgg16", size(&[3, 16, 16]));
    assert!(
        line.contains("input [1, 3, 16, 16] does not fit the model: features.30 (MaxPool2d)"),
        "{line}"
    );
    assert!(line.contains("Output size is too small"), "{line}");
}

#[test]
fn too_small_for_a_kernel_names_the_layer() {
    let line = input_error("inception_v3", size(&[3, 64, 64]));
    assert!(
        line.contains("Mixed_7a.branch3x3_2.conv (Conv2d)"),
        "{line}"
    );
    assert!(
        line.contains("Kernel size can't be greater than actual input size"),
        "{line}"
    );
    let line = input_error("squeezenet1_1", size(&[3, 1, 1]));
    assert!(line.contains("features.0 (Conv2d)"), "{line}");
}

#[test]
fn input_sizes_are_checked_before_the_forward_pass() {
    assert!(
        input_error("vgg16", size(&[3, 224])).contains("takes C,H,W (e.g. 3,224,224) or N,C,H,W")
    );
    assert!(
        input_error("vgg16", size(&[1, 1, 3, 224, 224])).contains("got 5 numbers (1,1,3,224,224)")
    );
    assert!(input_error("vgg16", size(&[1, 224, 224])).contains("takes 3 input channels"));
    assert!(
        input_error("resnet18", size(&[3, 0, 224]))
            .contains("every dimension must be at least 1, got 0")
    );
    assert!(input_error("resnet18", size(&[3, 224, -2])).contains("got -2"));
    assert!(input_error("alexnet", size(&[3, 100_000, 100_000])).contains("too large"));
    let line = input_error(
        "vgg16",
        BuiltinOptions {
            batch_size: Some(0),
            ..BuiltinOptions::default()
        },
    );
    assert!(line.contains("batch size must be at least 1"), "{line}");
    let line = input_error("vgg16", size(&[0, 3, 64, 64]));
    assert!(
        line.contains("batch size must be at least 1, got 0"),
        "{line}"
    );
    let line = input_error(
        "vgg16",
        BuiltinOptions {
            num_classes: Some(0),
            ..BuiltinOptions::default()
        },
    );
    assert!(
        line.contains("number of classes must be at least 1"),
        "{line}"
    );
    assert!(builtin::param_count("vgg16", Some(-3)).is_err());
}

#[test]
fn a_full_input_shape_sets_the_batch_unless_a_batch_size_is_given() {
    let batch =
        |opts: &BuiltinOptions| builtin::summarize("resnet18", opts).unwrap().inputs[0].shape[0];
    assert_eq!(batch(&size(&[2, 3, 32, 32])), 2);
    // The batch size replaces N (what `plan` relies on to vary the batch of a full shape), also when
    // it is 1: an explicit 1 is not the same as none given.
    for (given, expected) in [(Some(3), 3), (Some(1), 1), (None, 2)] {
        let opts = BuiltinOptions {
            batch_size: given,
            ..size(&[2, 3, 32, 32])
        };
        assert_eq!(batch(&opts), expected, "batch size {given:?}");
    }
}

#[test]
fn bad_sizes_are_refused_even_without_a_forward_pass() {
    let opts = BuiltinOptions {
        forward: false,
        ..size(&[3, 224])
    };
    input_error("resnet18", opts);
}

#[test]
fn models_without_a_minimum_size_run_on_one_pixel() {
    // Like torchvision, ResNet and MobileNet V2 pad their way down to a 1×1 input.
    for name in ["resnet50", "mobilenet_v2", "efficientnet_b0"] {
        let s = builtin::summarize(name, &size(&[3, 1, 1])).unwrap();
        assert_eq!(
            s.root.outputs.as_ref().unwrap()[0].shape,
            vec![1, 1000],
            "{name}"
        );
    }
}

/// ViT's position embedding and MaxViT's attention partitions are sized when torchvision builds them
/// (224×224 by default); like torchvision, other input sizes are refused, and the line says why.
#[test]
fn models_built_for_one_input_size_refuse_others() {
    for (name, what) in [
        ("vit_b_32", "its position embedding"),
        ("maxvit_t", "its attention partitions"),
    ] {
        let line = input_error(name, size(&[3, 256, 256]));
        assert!(
            line.contains("built for 224×224 images") && line.contains(what),
            "{line}"
        );
        assert!(line.contains("got 256×256"), "{line}");
    }
}
