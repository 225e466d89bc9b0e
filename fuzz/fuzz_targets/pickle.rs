//! The pickle machine on raw bytes, then the readers of its result: the state-dict search and the
//! TorchScript walk (with every `__torch__` class the pickle names declared as a module holding the usual
//! parameters and buffers, so the walk goes deep without the archive's code files).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use tchinfo_core::sources::torchscript::classes::ClassTable;
use tchinfo_core::sources::torchscript::pickle::{Object, Pickle};
use tchinfo_core::sources::torchscript::{state_dict, walk};

const DECLARATION: &str = "  __parameters__ = [\"weight\", \"bias\", \"in_proj_weight\", ]
  __buffers__ = [\"running_mean\", \"running_var\", \"num_batches_tracked\", ]
";

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Pickle::parse(data) else {
        return;
    };
    let _ = state_dict::state_dict_tree(&p);
    let mut by_module: BTreeMap<String, String> = BTreeMap::new();
    for o in p.objects() {
        if let Object::Global { module, name } = o
            && module.starts_with("__torch__")
        {
            by_module
                .entry(module.to_string())
                .or_default()
                .push_str(&format!("class {name}(Module):\n{DECLARATION}"));
        }
    }
    let mut classes = ClassTable::default();
    for (module, source) in &by_module {
        let _ = classes.add_source(module, source, |_| true);
    }
    let _ = walk::module_tree(&p, &classes, walk::WalkLimits::default());
});
