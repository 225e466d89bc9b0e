//! A norm's eps changes no shape or count, so the integration tests (which compare trees, counts and
//! shapes with torchvision) cannot see it; it does change every value a forward pass computes. This
//! checks the eps of every BatchNorm2d, LayerNorm and LayerNorm2d against torchvision's modules,
//! recorded in tests/fixtures/builtin/norm_eps.txt.

use super::module::{Layer, Module};
use super::registry::ENTRIES;
use super::scope::Scope;
use std::collections::BTreeMap;
use tch::{Device, nn::VarStore};

/// (class, eps bits) → (eps, count), as the fixture writes them (`Class:eps=count`, Python's repr).
type Counts = BTreeMap<(String, u64), (f64, usize)>;

fn eps_counts(model: &Module) -> Counts {
    let mut counts = Counts::new();
    for m in model.walk() {
        let eps = match &m.layer {
            Layer::BatchNorm2d(bn) => bn.eps,
            Layer::LayerNorm(n) | Layer::NchwLayerNorm(n) => n.eps,
            _ => continue,
        };
        let key = (m.type_name().to_string(), eps.to_bits());
        counts.entry(key).or_insert((eps, 0)).1 += 1;
    }
    counts
}

#[test]
fn norm_eps_equals_torchvision() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/builtin/norm_eps.txt"
    );
    let fixture = std::fs::read_to_string(path).unwrap();
    let mut checked = 0;
    for line in fixture.lines() {
        let (name, spec) = line.split_once('\t').unwrap();
        let mut expected = Counts::new();
        for item in spec.split(' ').filter(|s| *s != "-") {
            let (class, rest) = item.split_once(':').unwrap();
            let (eps, n) = rest.split_once('=').unwrap();
            let eps: f64 = eps.parse().unwrap();
            expected.insert(
                (class.to_string(), eps.to_bits()),
                (eps, n.parse().unwrap()),
            );
        }
        let entry = ENTRIES.iter().find(|e| e.name == name).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let model = (entry.build)(&Scope::root(&vs), 1000).unwrap();
        assert_eq!(eps_counts(&model), expected, "{name}: (class, eps) → count");
        checked += 1;
    }
    assert_eq!(checked, ENTRIES.len(), "every built-in has a line");
}
