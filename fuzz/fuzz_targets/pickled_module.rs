//! The pickle machine on raw bytes, then the reader of whole pickled models (`torch.save(model)`): the
//! search for a module in the object graph, and its tree from `_modules`, `_parameters`, `_buffers`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tchinfo_core::sources::torchscript::pickle::Pickle;
use tchinfo_core::sources::torchscript::{pickled_module, walk};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Pickle::parse(data) else {
        return;
    };
    if let Some((root, _)) = pickled_module::find(&p)
        && let Ok(m) = pickled_module::module_tree(&p, root, walk::WalkLimits::default())
    {
        let _ = m.root.subtree_params();
    }
});
