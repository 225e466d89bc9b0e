//! BatchNorm's eps changes no shape or count, so the integration tests (which compare trees, counts and
//! shapes with torchvision) cannot see it; it does change every value a forward pass computes. This
//! checks it against torchvision's modules, recorded in tests/fixtures/builtin/bn_eps.txt.

use super::module::{Layer, Module};
use super::registry::ENTRIES;
use super::scope::Scope;
use std::collections::BTreeMap;
use tch::{Device, nn::VarStore};

/// `eps=count` for each distinct eps, as the fixture writes them (Python's repr of the float).
fn eps_counts(model: &Module) -> BTreeMap<u64, (f64, usize)> {
    let mut counts = BTreeMap::new();
    for m in model.walk() {
        if let Layer::BatchNorm2d(bn) = &m.layer {
            counts.entry(bn.eps.to_bits()).or_insert((bn.eps, 0)).1 += 1;
        }
    }
    counts
}

#[test]
fn batch_norm_eps_equals_torchvision() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/builtin/bn_eps.txt"
    );
    let fixture = std::fs::read_to_string(path).unwrap();
    let mut checked = 0;
    for line in fixture.lines() {
        let (name, spec) = line.split_once('\t').unwrap();
        let mut expected: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
        for item in spec.split(' ').filter(|s| *s != "-") {
            let (eps, n) = item.split_once('=').unwrap();
            let eps: f64 = eps.parse().unwrap();
            expected.insert(eps.to_bits(), (eps, n.parse().unwrap()));
        }
        let entry = ENTRIES.iter().find(|e| e.name == name).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let model = (entry.build)(&Scope::root(&vs), 1000).unwrap();
        assert_eq!(
            eps_counts(&model),
            expected,
            "{name}: (eps, BatchNorm2d count)"
        );
        checked += 1;
    }
    assert_eq!(checked, ENTRIES.len(), "every built-in has a line");
}
