//! A bounded, symbolic pickle machine.
//!
//! Unpickling in Python runs code: `GLOBAL` imports, `REDUCE` calls, `BUILD` calls `__setstate__`. This
//! machine does none of that. It reads the opcodes (protocols 0 to 5, as PyTorch writes them) and records
//! what Python *would* have done as plain data: a global is a name, a call is an [`Object::Instance`] holding
//! the callable and its arguments, a persistent id is an [`Object::Persistent`] holding the id. Reading the
//! result is the caller's job (`tensors.rs`, `walk.rs`). Nothing is ever resolved, imported or executed.
//!
//! Every resource is bounded by [`Limits`]: the stack, the marks, the memo, the number of objects and of
//! container elements. Lengths read from the input are checked against the bytes that remain before
//! anything is sliced, so a declared size never drives an allocation. Objects live in one arena and refer
//! to each other by index, so shared and even cyclic structures cost nothing extra and drop flatly.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// An index into [`Pickle`]'s object arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjId(u32);

/// A value on the stack, in the memo or inside a container. Scalars are inline; everything that Python
/// would share by reference (containers, globals, calls) is a [`Value::Ref`] into the arena, so memoized
/// objects keep their identity (two parameters tied to one tensor point to one object).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in 64 bits; its value is never needed.
    BigInt,
    Float(f64),
    Str(Rc<str>),
    /// Bytes, by length only: nothing in a model's structure needs their content.
    Bytes(usize),
    Ref(ObjId),
}

/// A heap object in the arena.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Entries in insertion order (a repeated key keeps both entries; readers take the last).
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    /// `module.name`, as `GLOBAL` / `STACK_GLOBAL` / `INST` name it. Never imported.
    Global {
        module: Rc<str>,
        name: Rc<str>,
    },
    /// What `persistent_load(id)` would return; for PyTorch, `id` is a `('storage', …)` tuple.
    Persistent(Value),
    /// The result of a call unpickling would make (`REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST`, `OBJ`), and
    /// what later opcodes did to it: `BUILD`'s state, `SETITEMS` entries, `APPENDS` elements.
    Instance {
        callable: Value,
        args: Value,
        state: Option<Value>,
        items: Vec<(Value, Value)>,
        appended: Vec<Value>,
    },
}

/// Resource bounds for one pickle. The defaults are far above what real models need (about six objects
/// a tensor) and far below what would hurt a machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_stack: usize,
    pub max_marks: usize,
    pub max_memo: usize,
    pub max_objects: usize,
    /// Elements across all containers (tuple items, list elements, dict entries …).
    pub max_elements: usize,
    /// Longest text line read by the protocol-0 opcodes.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // A real model needs about 6 objects and 20 elements a tensor, so these allow ~100,000 tensors.
        // A hostile pickle can make the machine hold at most ~120 MiB of objects (120 B each), ~96 MiB of
        // elements (24-48 B), ~24 MiB of stack and ~40 MiB of memo.
        Limits {
            max_stack: 1 << 20,
            max_marks: 1 << 16,
            max_memo: 1 << 20,
            max_objects: 1 << 20,
            max_elements: 1 << 21,
            max_line: 1 << 16,
        }
    }
}

/// Why a pickle could not be read: the byte offset of the opcode and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleError {
    pub offset: usize,
    pub problem: String,
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.problem, self.offset)
    }
}

impl std::error::Error for PickleError {}

/// A pickle read symbolically: its top-level value and the arena its references point into.
#[derive(Debug, Clone)]
pub struct Pickle {
    pub root: Value,
    objects: Vec<Object>,
}

impl Pickle {
    /// Reads a pickle with the default [`Limits`].
    pub fn parse(bytes: &[u8]) -> Result<Pickle, PickleError> {
        Pickle::parse_with(bytes, Limits::default())
    }

    pub fn parse_with(bytes: &[u8], limits: Limits) -> Result<Pickle, PickleError> {
        Machine::new(bytes, limits).run()
    }

    /// The object a value refers to, if it is a reference.
    pub fn object(&self, value: &Value) -> Option<&Object> {
        match value {
            Value::Ref(id) => self.objects.get(id.0 as usize),
            _ => None,
        }
    }

    /// Every object in the arena, in creation order.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects.iter()
    }

    /// The elements of a tuple or list.
    pub fn sequence(&self, value: &Value) -> Option<&[Value]> {
        match self.object(value)? {
            Object::Tuple(items) | Object::List(items) => Some(items),
            _ => None,
        }
    }

    /// `(module, name)` of a global.
    pub fn global(&self, value: &Value) -> Option<(&str, &str)> {
        match self.object(value)? {
            Object::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }

    /// A call's callable as `(module, name)`, and its arguments, when the callable is a global.
    pub fn call(&self, value: &Value) -> Option<((&str, &str), &Value)> {
        match self.object(value)? {
            Object::Instance { callable, args, .. } => Some((self.global(callable)?, args)),
            _ => None,
        }
    }

    /// The key/value entries of a dict, or of an instance that received `SETITEMS` (an `OrderedDict`).
    pub fn entries(&self, value: &Value) -> Option<&[(Value, Value)]> {
        match self.object(value)? {
            Object::Dict(entries) => Some(entries),
            Object::Instance { items, .. } => Some(items),
            _ => None,
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

/// The interpreter state while reading one pickle.
struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    /// Where the opcode being run started, for error messages.
    op_start: usize,
    limits: Limits,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objects: Vec<Object>,
    elements: usize,
}

type Step<T> = Result<T, PickleError>;

impl<'a> Machine<'a> {
    fn new(input: &'a [u8], limits: Limits) -> Self {
        Machine {
            input,
            pos: 0,
            op_start: 0,
            limits,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            objects: Vec::new(),
            elements: 0,
        }
    }

    fn fail<T>(&self, problem: impl Into<String>) -> Step<T> {
        Err(PickleError {
            offset: self.op_start,
            problem: problem.into(),
        })
    }

    // ------------------------------------------------------------------------------------ reading input

    fn take(&mut self, n: usize) -> Step<&'a [u8]> {
        // Compared with what remains before slicing: a hostile length is an error, not an allocation.
        if n > self.input.len() - self.pos {
            return self.fail(format!(
                "truncated: needs {n} more bytes, {} left",
                self.input.len() - self.pos
            ));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Step<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Step<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn u32(&mut self) -> Step<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn i32(&mut self) -> Step<i32> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Step<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A length field: must fit in what remains of the input.
    fn len(&mut self, n: u64) -> Step<usize> {
        match usize::try_from(n) {
            Ok(n) if n <= self.input.len() - self.pos => Ok(n),
            _ => self.fail(format!(
                "truncated: declares {n} bytes, {} left",
                self.input.len() - self.pos
            )),
        }
    }

    /// A newline-terminated line (protocol 0), without the newline.
    fn line(&mut self) -> Step<&'a str> {
        let rest = &self.input[self.pos..];
        let window = &rest[..rest.len().min(self.limits.max_line + 1)];
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            return self.fail("truncated or overlong text line");
        };
        self.pos += end + 1;
        match std::str::from_utf8(&window[..end]) {
            Ok(s) => Ok(s.strip_suffix('\r').unwrap_or(s)),
            Err(_) => self.fail("text line is not UTF-8"),
        }
    }

    fn text(bytes: &[u8]) -> Value {
        Value::Str(Rc::from(String::from_utf8_lossy(bytes).as_ref()))
    }

    // ------------------------------------------------------------------------------------ the stack

    fn push(&mut self, v: Value) -> Step<()> {
        if self.stack.len() >= self.limits.max_stack {
            return self.fail(format!(
                "stack deeper than {} values",
                self.limits.max_stack
            ));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Step<Value> {
        // Values above the innermost mark belong to it; popping below a mark means a malformed pickle.
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.fail("stack underflow");
        }
        Ok(self.stack.pop().expect("checked non-empty"))
    }

    fn top(&self) -> Step<&Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.fail("stack underflow");
        }
        Ok(self.stack.last().expect("checked non-empty"))
    }

    fn mark(&mut self) -> Step<()> {
        if self.marks.len() >= self.limits.max_marks {
            return self.fail(format!("more than {} nested marks", self.limits.max_marks));
        }
        self.marks.push(self.stack.len());
        Ok(())
    }

    /// Everything pushed since the innermost mark, which is removed.
    fn pop_mark(&mut self) -> Step<Vec<Value>> {
        let Some(mark) = self.marks.pop() else {
            return self.fail("no mark to pop to");
        };
        Ok(self.stack.split_off(mark))
    }

    fn alloc(&mut self, obj: Object) -> Step<Value> {
        if self.objects.len() >= self.limits.max_objects {
            return self.fail(format!("more than {} objects", self.limits.max_objects));
        }
        let id = ObjId(self.objects.len() as u32);
        self.objects.push(obj);
        Ok(Value::Ref(id))
    }

    fn count_elements(&mut self, n: usize) -> Step<()> {
        self.elements = self.elements.saturating_add(n);
        if self.elements > self.limits.max_elements {
            return self.fail(format!(
                "more than {} container elements",
                self.limits.max_elements
            ));
        }
        Ok(())
    }

    fn new_container(&mut self, obj: Object, n: usize) -> Step<()> {
        self.count_elements(n)?;
        let v = self.alloc(obj)?;
        self.push(v)
    }

    fn memo_put(&mut self, key: u32) -> Step<()> {
        let v = self.top()?.clone();
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&key) {
            return self.fail(format!("memo larger than {} entries", self.limits.max_memo));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Step<()> {
        match self.memo.get(&key) {
            Some(v) => {
                let v = v.clone();
                self.push(v)
            }
            None => self.fail(format!("memo key {key} was never stored")),
        }
    }

    fn target(&mut self, v: &Value) -> Step<&mut Object> {
        let Value::Ref(id) = v else {
            return self.fail("container opcode applied to a scalar");
        };
        Ok(&mut self.objects[id.0 as usize])
    }

    /// `APPEND`/`APPENDS`: extends the list (or an instance's `extend`) just below the mark.
    fn append(&mut self, items: Vec<Value>) -> Step<()> {
        self.count_elements(items.len())?;
        let target = self.top()?.clone();
        match self.target(&target)? {
            Object::List(list) => list.extend(items),
            Object::Instance { appended, .. } => appended.extend(items),
            _ => return self.fail("APPENDS to something that is not a list"),
        }
        Ok(())
    }

    fn set_items(&mut self, flat: Vec<Value>) -> Step<()> {
        if !flat.len().is_multiple_of(2) {
            return self.fail("SETITEMS with an odd number of values");
        }
        self.count_elements(flat.len() / 2)?;
        let mut pairs = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        let target = self.top()?.clone();
        match self.target(&target)? {
            Object::Dict(entries) => entries.extend(pairs),
            Object::Instance { items, .. } => items.extend(pairs),
            _ => return self.fail("SETITEMS on something that is not a dict"),
        }
        Ok(())
    }

    fn call(&mut self, callable: Value, args: Value) -> Step<()> {
        let v = self.alloc(Object::Instance {
            callable,
            args,
            state: None,
            items: Vec::new(),
            appended: Vec::new(),
        })?;
        self.push(v)
    }

    /// The strings are shared, not copied: a memoized name used by a million `STACK_GLOBAL`s must not
    /// cost a million copies.
    fn global(&mut self, module: Rc<str>, name: Rc<str>) -> Step<Value> {
        self.alloc(Object::Global { module, name })
    }

    fn int_from_le(&self, bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            return Value::Int(0);
        }
        if bytes.len() > 8 {
            return Value::BigInt;
        }
        // Two's complement little-endian, sign-extended from the last byte.
        let fill = if bytes[bytes.len() - 1] & 0x80 != 0 {
            0xff
        } else {
            0
        };
        let mut buf = [fill; 8];
        buf[..bytes.len()].copy_from_slice(bytes);
        Value::Int(i64::from_le_bytes(buf))
    }

    fn parse_int_text(&self, s: &str) -> Step<Value> {
        let s = s.trim().trim_end_matches('L');
        match s {
            "00" => return Ok(Value::Bool(false)),
            "01" => return Ok(Value::Bool(true)),
            _ => {}
        }
        match s.parse::<i64>() {
            Ok(i) => Ok(Value::Int(i)),
            Err(_)
                if !s.is_empty()
                    && s.trim_start_matches('-')
                        .bytes()
                        .all(|b| b.is_ascii_digit()) =>
            {
                Ok(Value::BigInt)
            }
            Err(_) => self.fail(format!("bad integer literal {s:?}")),
        }
    }

    fn memo_key_text(&self, s: &str) -> Step<u32> {
        match s.trim().parse::<u32>() {
            Ok(k) => Ok(k),
            Err(_) => self.fail(format!("bad memo key {s:?}")),
        }
    }

    // ------------------------------------------------------------------------------------ the loop

    fn run(mut self) -> Step<Pickle> {
        loop {
            self.op_start = self.pos;
            if self.pos >= self.input.len() {
                return self.fail("truncated: ended before the STOP opcode");
            }
            let op = self.u8()?;
            match op {
                // ---- framing and control
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return self.fail(format!("pickle protocol {proto} is newer than 5"));
                    }
                }
                0x95 => {
                    // FRAME: a hint for buffered readers; the whole input is in memory already.
                    self.u64()?;
                }
                b'.' => {
                    let root = self.pop()?;
                    return Ok(Pickle {
                        root,
                        objects: self.objects,
                    });
                }
                b'(' => self.mark()?,
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v)?;
                }

                // ---- scalars
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'J' => {
                    let v = self.i32()?;
                    self.push(Value::Int(i64::from(v)))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)))?
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(i64::from(v)))?
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let bytes = self.take(n)?;
                    let v = self.int_from_le(bytes);
                    self.push(v)?
                }
                0x8b => {
                    let n = self.i32()?;
                    if n < 0 {
                        return self.fail("LONG4 with a negative length");
                    }
                    let n = self.len(n as u64)?;
                    let bytes = self.take(n)?;
                    let v = self.int_from_le(bytes);
                    self.push(v)?
                }
                b'I' | b'L' => {
                    let s = self.line()?;
                    let v = self.parse_int_text(s)?;
                    self.push(v)?
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
                    self.push(Value::Float(v))?
                }
                b'F' => {
                    let s = self.line()?;
                    match s.trim().parse::<f64>() {
                        Ok(v) => self.push(Value::Float(v))?,
                        Err(_) => return self.fail(format!("bad float literal {s:?}")),
                    }
                }

                // ---- strings and bytes
                b'X' => {
                    let n = self.u32()?;
                    let n = self.len(u64::from(n))?;
                    let v = Self::text(self.take(n)?);
                    self.push(v)?
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = Self::text(self.take(n)?);
                    self.push(v)?
                }
                0x8d => {
                    let n = self.u64()?;
                    let n = self.len(n)?;
                    let v = Self::text(self.take(n)?);
                    self.push(v)?
                }
                b'T' => {
                    let n = self.i32()?;
                    if n < 0 {
                        return self.fail("BINSTRING with a negative length");
                    }
                    let n = self.len(n as u64)?;
                    let v = Self::text(self.take(n)?);
                    self.push(v)?
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    let v = Self::text(self.take(n)?);
                    self.push(v)?
                }
                b'S' => {
                    // Protocol 0 STRING: a quoted repr. Quotes stripped; escapes are left as written.
                    let s = self.line()?;
                    let inner = s.trim();
                    let inner = inner
                        .strip_prefix('\'')
                        .and_then(|x| x.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')));
                    match inner {
                        Some(inner) => self.push(Value::Str(Rc::from(inner)))?,
                        None => return self.fail("STRING literal without quotes"),
                    }
                }
                b'V' => {
                    let s = self.line()?;
                    self.push(Value::Str(Rc::from(s)))?
                }
                b'B' => {
                    let n = self.u32()?;
                    let n = self.len(u64::from(n))?;
                    self.take(n)?;
                    self.push(Value::Bytes(n))?
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.take(n)?;
                    self.push(Value::Bytes(n))?
                }
                0x8e | 0x96 => {
                    let n = self.u64()?;
                    let n = self.len(n)?;
                    self.take(n)?;
                    self.push(Value::Bytes(n))?
                }
                0x97 => return self.fail("out-of-band buffers (NEXT_BUFFER) are not supported"),
                0x98 => {
                    // READONLY_BUFFER only changes a buffer's flags.
                    self.top()?;
                }

                // ---- containers
                b')' => self.new_container(Object::Tuple(Vec::new()), 0)?,
                b']' => self.new_container(Object::List(Vec::new()), 0)?,
                b'}' => self.new_container(Object::Dict(Vec::new()), 0)?,
                0x8f => self.new_container(Object::Set(Vec::new()), 0)?,
                b't' => {
                    let items = self.pop_mark()?;
                    let n = items.len();
                    self.new_container(Object::Tuple(items), n)?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.new_container(Object::Tuple(items), n)?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let n = items.len();
                    self.new_container(Object::List(items), n)?
                }
                b'd' => {
                    let flat = self.pop_mark()?;
                    if !flat.len().is_multiple_of(2) {
                        return self.fail("DICT with an odd number of values");
                    }
                    let n = flat.len() / 2;
                    let mut entries = Vec::with_capacity(n);
                    let mut it = flat.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        entries.push((k, v));
                    }
                    self.new_container(Object::Dict(entries), n)?
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let n = items.len();
                    self.new_container(Object::Set(items), n)?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?
                }
                b'u' => {
                    let flat = self.pop_mark()?;
                    self.set_items(flat)?
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    self.count_elements(items.len())?;
                    let target = self.top()?.clone();
                    match self.target(&target)? {
                        Object::Set(set) => set.extend(items),
                        _ => return self.fail("ADDITEMS to something that is not a set"),
                    }
                }

                // ---- memo
                b'g' => {
                    let s = self.line()?;
                    let k = self.memo_key_text(s)?;
                    self.memo_get(k)?
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(u32::from(k))?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?
                }
                b'p' => {
                    let s = self.line()?;
                    let k = self.memo_key_text(s)?;
                    self.memo_put(k)?
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(u32::from(k))?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let Ok(k) = u32::try_from(self.memo.len()) else {
                        return self.fail("memo overflow");
                    };
                    self.memo_put(k)?
                }

                // ---- globals, calls and objects: recorded, never executed
                b'c' => {
                    let module = Rc::from(self.line()?);
                    let name = Rc::from(self.line()?);
                    let v = self.global(module, name)?;
                    self.push(v)?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return self.fail("STACK_GLOBAL with a non-string module or name");
                    };
                    let v = self.global(module, name)?;
                    self.push(v)?
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.call(callable, args)?
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.call(cls, args)?
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.call(cls, args)?
                }
                b'i' => {
                    let module = Rc::from(self.line()?);
                    let name = Rc::from(self.line()?);
                    let items = self.pop_mark()?;
                    let n = items.len();
                    self.count_elements(n)?;
                    let args = self.alloc(Object::Tuple(items))?;
                    let cls = self.global(module, name)?;
                    self.call(cls, args)?
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return self.fail("OBJ without a class");
                    }
                    let cls = items.remove(0);
                    self.count_elements(items.len())?;
                    let args = self.alloc(Object::Tuple(items))?;
                    self.call(cls, args)?
                }
                b'b' => {
                    let new_state = self.pop()?;
                    let target = self.top()?.clone();
                    match self.target(&target)? {
                        Object::Instance { state, .. } => *state = Some(new_state),
                        _ => return self.fail("BUILD on something that is not an object"),
                    }
                }
                b'P' => {
                    let s = self.line()?;
                    let pid = Value::Str(Rc::from(s));
                    let v = self.alloc(Object::Persistent(pid))?;
                    self.push(v)?
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.alloc(Object::Persistent(pid))?;
                    self.push(v)?
                }
                0x82..=0x84 => {
                    return self.fail("extension registry opcodes (EXT1/2/4) are not supported");
                }
                other => return self.fail(format!("unknown opcode 0x{other:02x}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_protocol_2_dict_with_a_persistent_id_and_a_call() {
        // {'w': torch._utils._rebuild_tensor_v2(pid(('storage','0')), 0, (2,), (1,), True)}
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'X'];
        p.extend(1u32.to_le_bytes());
        p.extend(b"w");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\nq\x01(");
        p.extend(b"(X\x07\x00\x00\x00storageX\x01\x00\x00\x000tQK\x00K\x02\x85K\x01\x85\x88tR");
        p.extend(b"s.");
        let pk = Pickle::parse(&p).unwrap();
        let entries = pk.entries(&pk.root).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0.as_str(), Some("w"));
        let ((module, name), args) = pk.call(&entries[0].1).unwrap();
        assert_eq!((module, name), ("torch._utils", "_rebuild_tensor_v2"));
        let args = pk.sequence(args).unwrap();
        assert!(matches!(pk.object(&args[0]), Some(Object::Persistent(_))));
        assert_eq!(pk.sequence(&args[2]).unwrap(), &[Value::Int(2)]);
        assert_eq!(args[4], Value::Bool(true));
    }

    #[test]
    fn memo_keeps_identity() {
        // [x, x] where x = () memoized: both elements are the same object.
        let p = b"\x80\x02]()q\x01h\x01e.";
        let pk = Pickle::parse(p).unwrap();
        let items = pk.sequence(&pk.root).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], items[1]);
    }

    #[test]
    fn hostile_inputs_are_errors() {
        // A BINUNICODE8 declaring 2^63 bytes must not allocate.
        let mut p = vec![0x80, 4, 0x8d];
        p.extend((1u64 << 63).to_le_bytes());
        assert!(Pickle::parse(&p).unwrap_err().problem.contains("truncated"));
        // No STOP.
        assert!(Pickle::parse(b"\x80\x02N").is_err());
        // Underflow, unknown memo key, unknown opcode, protocol 6.
        assert!(Pickle::parse(b"\x80\x02R.").is_err());
        assert!(Pickle::parse(b"\x80\x02h\x05.").is_err());
        assert!(Pickle::parse(b"\xff").is_err());
        assert!(Pickle::parse(b"\x80\x06N.").is_err());
        // A mark cannot be popped through.
        assert!(Pickle::parse(b"N(0.").is_err());
        assert!(Pickle::parse(b"").is_err());
    }

    #[test]
    fn limits_hold() {
        let limits = Limits {
            max_stack: 3,
            ..Limits::default()
        };
        assert!(
            Pickle::parse_with(b"NNNN....", limits)
                .unwrap_err()
                .problem
                .contains("stack")
        );
        let limits = Limits {
            max_objects: 2,
            ..Limits::default()
        };
        assert!(
            Pickle::parse_with(b")))...", limits)
                .unwrap_err()
                .problem
                .contains("objects")
        );
        let limits = Limits {
            max_marks: 2,
            ..Limits::default()
        };
        assert!(
            Pickle::parse_with(b"(((", limits)
                .unwrap_err()
                .problem
                .contains("marks")
        );
    }

    #[test]
    fn text_protocol_opcodes() {
        let p = b"(I42\nI01\nF1.5\nS'abc'\nccollections\nOrderedDict\np0\ng0\nl.";
        let pk = Pickle::parse(p).unwrap();
        let items = pk.sequence(&pk.root).unwrap();
        assert_eq!(items[0], Value::Int(42));
        assert_eq!(items[1], Value::Bool(true));
        assert_eq!(items[2], Value::Float(1.5));
        assert_eq!(items[3].as_str(), Some("abc"));
        assert_eq!(pk.global(&items[4]), Some(("collections", "OrderedDict")));
        assert_eq!(items[4], items[5]);
    }

    #[test]
    fn globals_share_their_memoized_names() {
        // Two STACK_GLOBALs from one memoized module and name: one copy of each string.
        let p = b"\x80\x04(\x8c\x01m\x94\x8c\x01n\x94\x93h\x00h\x01\x93l.";
        let pk = Pickle::parse(p).unwrap();
        let items = pk.sequence(&pk.root).unwrap();
        let (a, b) = (pk.global(&items[0]).unwrap(), pk.global(&items[1]).unwrap());
        assert_eq!(a, ("m", "n"));
        assert_eq!(a.0.as_ptr(), b.0.as_ptr());
        assert_eq!(a.1.as_ptr(), b.1.as_ptr());
    }

    #[test]
    fn longs_sign_extend() {
        let pk = Pickle::parse(b"\x80\x02\x8a\x02\xff\xff.").unwrap();
        assert_eq!(pk.root, Value::Int(-1));
        let pk = Pickle::parse(b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.").unwrap();
        assert_eq!(pk.root, Value::BigInt);
    }
}
