//! The recording of one forward pass: which recorded layers ran, inside which, in what order, and
//! what each call returned. It lives in a thread-local slot that [`crate::record::summarize`] fills
//! for the duration of the forward; a recorded layer called outside it only checks that slot.
//!
//! Calls go into the same [`Recorder`] the built-in architectures use; a layer gets its module id
//! the first time it is called, so ids follow the order PyTorch's `named_modules()` would list the
//! modules that ran (a parent starts before its children).

use super::layer::{Meta, Outputs};
use crate::sources::builtin::recorder::Recorder;
use std::cell::RefCell;
use std::collections::HashMap;
use tch::Tensor;

/// A recorded module: what its wrapper said about it and where in the call tree it first ran.
pub(crate) struct Seen {
    pub(crate) type_name: String,
    pub(crate) path: Option<String>,
    pub(crate) tensors: Vec<Tensor>,
    /// The recorded module whose call it first ran inside; `None` at the top.
    pub(crate) parent: Option<usize>,
    /// Its position among `parent`'s recorded children, by first call (a `Sequential`'s index).
    pub(crate) position: usize,
}

pub(crate) struct Session {
    pub(crate) rec: Recorder,
    pub(crate) modules: Vec<Seen>,
    by_key: HashMap<u64, usize>,
    /// Recorded children per module id (and at the top, `usize::MAX`), to number positions.
    children: HashMap<usize, usize>,
    /// The calls under way, innermost last.
    stack: Vec<usize>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Session>> = const { RefCell::new(None) };
}

impl Session {
    fn new() -> Session {
        Session {
            rec: Recorder::new(0),
            modules: Vec::new(),
            by_key: HashMap::new(),
            children: HashMap::new(),
            stack: Vec::new(),
        }
    }

    fn enter(&mut self, meta: &Meta) -> usize {
        let parent = self.stack.last().copied();
        let id = match self.by_key.get(&meta.key) {
            Some(&id) => id,
            None => {
                let id = self.rec.add_module();
                let count = self
                    .children
                    .entry(parent.unwrap_or(usize::MAX))
                    .or_insert(0);
                self.modules.push(Seen {
                    type_name: meta.type_name.clone(),
                    path: meta.path.clone(),
                    tensors: meta.tensors.iter().map(Tensor::shallow_clone).collect(),
                    parent,
                    position: *count,
                });
                *count += 1;
                self.by_key.insert(meta.key, id);
                id
            }
        };
        self.stack.push(id);
        id
    }

    fn exit(&mut self, id: usize, meta: &Meta, input: Option<&Tensor>, outputs: &dyn Outputs) {
        self.stack.pop();
        let mut values = Vec::new();
        outputs.push_values(&mut values);
        if let Some(m) = meta.op_mult_adds(input, &values) {
            self.rec.add_op_mult_adds(id, m);
        }
        self.rec.finish_call_values(id, values);
    }

    /// Operator mult-adds counted in the forward of the innermost recorded module (an attention's
    /// products); nothing when the operator runs outside every recorded module.
    fn count(&mut self, mult_adds: u64) {
        if let Some(&id) = self.stack.last() {
            self.rec.add_op_mult_adds(id, mult_adds);
        }
    }
}

/// Runs `f`, one call of the layer `meta` describes, recording it when a session is on.
pub(crate) fn call<T: Outputs>(meta: &Meta, input: Option<&Tensor>, f: impl FnOnce() -> T) -> T {
    let id = ACTIVE.with(|a| a.borrow_mut().as_mut().map(|s| s.enter(meta)));
    let out = f();
    if let Some(id) = id {
        ACTIVE.with(|a| {
            if let Some(s) = a.borrow_mut().as_mut() {
                s.exit(id, meta, input, &out);
            }
        });
    }
    out
}

/// Adds operator mult-adds to the innermost recorded call, if a session is on.
pub(crate) fn count(mult_adds: impl FnOnce() -> u64) {
    ACTIVE.with(|a| {
        if let Some(s) = a.borrow_mut().as_mut() {
            s.count(mult_adds());
        }
    });
}

/// Runs `f` with a fresh session on this thread and returns what it recorded; `None` when a session
/// is already running here (a model summarising itself inside its own forward).
pub(crate) fn recording<T>(f: impl FnOnce() -> T) -> Option<(T, Session)> {
    let busy = ACTIVE.with(|a| {
        let mut slot = a.borrow_mut();
        if slot.is_some() {
            return true;
        }
        *slot = Some(Session::new());
        false
    });
    if busy {
        return None;
    }
    // Whatever happens in `f` (a panic included), the slot is emptied again.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.borrow_mut().take());
        }
    }
    let clear = Clear;
    let out = f();
    let session = ACTIVE.with(|a| a.borrow_mut().take());
    drop(clear);
    session.map(|s| (out, s))
}
