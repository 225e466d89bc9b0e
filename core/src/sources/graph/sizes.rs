//! Sizes a graph file records as expressions over symbols instead of numbers: a `.pt2` exported with a
//! dynamic batch writes `Symbol('s77', positive=True, integer=True)` for the batch and
//! `Mul(Integer(4), Symbol('s77', …))` for a size derived from it (sympy's `srepr`), older files and
//! ONNX `dim_param`s the infix form (`s0`, `4*s0`, `batch`).
//!
//! [`parse`] reads either form into an [`Expr`]; [`Expr::eval`] computes it once each symbol has a
//! value. Nothing is executed: the grammar is integers, symbols, `+ - * / // % **`, parentheses and a
//! fixed list of sympy and PyTorch size functions. Exact rational arithmetic in 128 bits, every step
//! checked, so a hostile expression gives an error, never a wrapped number. Expressions are bounded in
//! length and depth.

use std::fmt;

/// The longest expression text accepted. Real ones are tens of characters.
pub const MAX_EXPR_CHARS: usize = 4096;
/// The deepest nesting accepted (parentheses, function calls, unary minus).
pub const MAX_EXPR_DEPTH: usize = 32;

/// A size expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Int(i128),
    /// A ratio of integers, as sympy writes `Rational(1, 2)`.
    Ratio(i128, i128),
    Symbol(String),
    Add(Vec<Expr>),
    Mul(Vec<Expr>),
    /// A true division (`a / b`), exact in rationals.
    Div(Box<Expr>, Box<Expr>),
    /// An integer power; the exponent must evaluate to a small non-negative integer.
    Pow(Box<Expr>, Box<Expr>),
    FloorDiv(Box<Expr>, Box<Expr>),
    CeilDiv(Box<Expr>, Box<Expr>),
    /// Python's `%`: the result takes the divisor's sign.
    Mod(Box<Expr>, Box<Expr>),
    Max(Vec<Expr>),
    Min(Vec<Expr>),
    Floor(Box<Expr>),
    Ceil(Box<Expr>),
    Trunc(Box<Expr>),
    Abs(Box<Expr>),
}

/// `text` as an expression, or why it is not one this reader knows.
pub fn parse(text: &str) -> Result<Expr, String> {
    if text.len() > MAX_EXPR_CHARS {
        return Err(format!(
            "a size expression of {} characters (at most {MAX_EXPR_CHARS} are read)",
            text.len()
        ));
    }
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if p.at != tokens.len() {
        return Err(format!("unexpected text in the size expression `{text}`"));
    }
    Ok(e)
}

impl Expr {
    /// The symbol's name when the expression is a bare symbol (an input's own dimension).
    pub fn as_symbol(&self) -> Option<&str> {
        match self {
            Expr::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// Every symbol the expression uses, in first-use order, each once.
    pub fn symbols(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Symbol(s) = e
                && !out.contains(&s.as_str())
            {
                out.push(s);
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Int(_) | Expr::Ratio(..) | Expr::Symbol(_) => {}
            Expr::Add(v) | Expr::Mul(v) | Expr::Max(v) | Expr::Min(v) => {
                v.iter().for_each(|e| e.visit(f))
            }
            Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::FloorDiv(a, b)
            | Expr::CeilDiv(a, b)
            | Expr::Mod(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Floor(a) | Expr::Ceil(a) | Expr::Trunc(a) | Expr::Abs(a) => a.visit(f),
        }
    }

    /// The size, given each symbol's value; an error names what is missing or impossible.
    pub fn eval(&self, value_of: &dyn Fn(&str) -> Option<i64>) -> Result<u64, String> {
        let r = self.rational(value_of)?;
        if r.den != 1 {
            return Err(format!("`{self}` is not a whole number here"));
        }
        u64::try_from(r.num)
            .ok()
            .filter(|&v| v <= i64::MAX as u64)
            .ok_or_else(|| format!("`{self}` is {} here, not a size", r.num))
    }

    fn rational(&self, value_of: &dyn Fn(&str) -> Option<i64>) -> Result<Ratio, String> {
        let ev = |e: &Expr| e.rational(value_of);
        Ok(match self {
            Expr::Int(i) => Ratio::int(*i),
            Expr::Ratio(n, d) => Ratio::new(*n, *d)?,
            Expr::Symbol(s) => {
                Ratio::int(value_of(s).ok_or_else(|| format!("the size {s} has no value"))? as i128)
            }
            Expr::Add(v) => v.iter().try_fold(Ratio::int(0), |acc, e| acc.add(ev(e)?))?,
            Expr::Mul(v) => v.iter().try_fold(Ratio::int(1), |acc, e| acc.mul(ev(e)?))?,
            Expr::Div(a, b) => ev(a)?.div(ev(b)?)?,
            Expr::Pow(a, b) => {
                let base = ev(a)?;
                let exp = ev(b)?;
                if exp.den != 1 || !(0..=64).contains(&exp.num) {
                    return Err(format!("`{self}`: only small whole powers are evaluated"));
                }
                (0..exp.num).try_fold(Ratio::int(1), |acc, _| acc.mul(base))?
            }
            Expr::FloorDiv(a, b) => ev(a)?.div(ev(b)?)?.floor(),
            Expr::CeilDiv(a, b) => ev(a)?.div(ev(b)?)?.ceil(),
            Expr::Mod(a, b) => {
                let (x, y) = (ev(a)?, ev(b)?);
                // Python's modulo: x - y * floor(x / y), the divisor's sign.
                x.sub(y.mul(x.div(y)?.floor())?)?
            }
            Expr::Max(v) | Expr::Min(v) => {
                let mut values = v.iter().map(ev);
                let first = values.next().ok_or("an empty Max or Min")??;
                values.try_fold(first, |acc, e| {
                    let e = e?;
                    let e_is_greater = e.sub(acc)?.num > 0;
                    let pick_e = match self {
                        Expr::Max(_) => e_is_greater,
                        _ => !e_is_greater && e != acc,
                    };
                    Ok::<_, String>(if pick_e { e } else { acc })
                })?
            }
            Expr::Floor(a) => ev(a)?.floor(),
            Expr::Ceil(a) => ev(a)?.ceil(),
            Expr::Trunc(a) => {
                let r = ev(a)?;
                if r.num < 0 { r.ceil() } else { r.floor() }
            }
            Expr::Abs(a) => {
                let r = ev(a)?;
                Ratio::new(r.num.checked_abs().ok_or("a size overflows")?, r.den)?
            }
        })
    }
}

/// An exact rational, denominator positive, in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ratio {
    num: i128,
    den: i128,
}

const OVERFLOW: &str = "a size expression overflows 128 bits";

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Ratio {
    fn int(i: i128) -> Ratio {
        Ratio { num: i, den: 1 }
    }

    fn new(num: i128, den: i128) -> Result<Ratio, String> {
        if den == 0 {
            return Err("a size expression divides by zero".into());
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Ok(Ratio {
            num: (num / g).checked_mul(sign).ok_or(OVERFLOW)?,
            den: (den / g).checked_mul(sign).ok_or(OVERFLOW)?,
        })
    }

    fn add(self, o: Ratio) -> Result<Ratio, String> {
        let num = self
            .num
            .checked_mul(o.den)
            .and_then(|a| o.num.checked_mul(self.den).and_then(|b| a.checked_add(b)))
            .ok_or(OVERFLOW)?;
        Ratio::new(num, self.den.checked_mul(o.den).ok_or(OVERFLOW)?)
    }

    fn sub(self, o: Ratio) -> Result<Ratio, String> {
        self.add(Ratio {
            num: o.num.checked_neg().ok_or(OVERFLOW)?,
            den: o.den,
        })
    }

    fn mul(self, o: Ratio) -> Result<Ratio, String> {
        Ratio::new(
            self.num.checked_mul(o.num).ok_or(OVERFLOW)?,
            self.den.checked_mul(o.den).ok_or(OVERFLOW)?,
        )
    }

    fn div(self, o: Ratio) -> Result<Ratio, String> {
        Ratio::new(
            self.num.checked_mul(o.den).ok_or(OVERFLOW)?,
            self.den.checked_mul(o.num).ok_or(OVERFLOW)?,
        )
    }

    fn floor(self) -> Ratio {
        Ratio::int(self.num.div_euclid(self.den))
    }

    fn ceil(self) -> Ratio {
        let f = self.num.div_euclid(self.den);
        Ratio::int(if self.num.rem_euclid(self.den) == 0 {
            f
        } else {
            f + 1
        })
    }
}

impl fmt::Display for Expr {
    /// The infix form, as a user would write it: `4*s77`, `s0 + 1`, `Max(1, s0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, v: &[Expr]| {
            write!(f, "{name}(")?;
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{e}")?;
            }
            write!(f, ")")
        };
        let joined = |f: &mut fmt::Formatter<'_>, sep: &str, v: &[Expr]| {
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, "{sep}")?;
                }
                match e {
                    Expr::Add(_) => write!(f, "({e})")?,
                    _ => write!(f, "{e}")?,
                }
            }
            Ok(())
        };
        match self {
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Ratio(n, d) => write!(f, "{n}/{d}"),
            Expr::Symbol(s) => write!(f, "{s}"),
            Expr::Add(v) => joined(f, " + ", v),
            Expr::Mul(v) => joined(f, "*", v),
            Expr::Div(a, b) => write!(f, "({a})/({b})"),
            Expr::Pow(a, b) => write!(f, "({a})**({b})"),
            Expr::FloorDiv(a, b) => write!(f, "({a})//({b})"),
            Expr::CeilDiv(a, b) => write!(f, "CeilDiv({a}, {b})"),
            Expr::Mod(a, b) => write!(f, "({a}) % ({b})"),
            Expr::Max(v) => list(f, "Max", v),
            Expr::Min(v) => list(f, "Min", v),
            Expr::Floor(a) => write!(f, "floor({a})"),
            Expr::Ceil(a) => write!(f, "ceil({a})"),
            Expr::Trunc(a) => write!(f, "trunc({a})"),
            Expr::Abs(a) => write!(f, "Abs({a})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Int(i128),
    Ident(String),
    Str(String),
    Punct(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    const PUNCT: [&str; 10] = ["**", "//", "(", ")", ",", "=", "+", "-", "*", "/"];
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n: i128 = text[start..i]
                .parse()
                .map_err(|_| format!("a number too large in the size expression `{text}`"))?;
            out.push(Token::Int(n));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(text[start..i].to_string()));
        } else if c == b'\'' || c == b'"' {
            let mut s = String::new();
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(format!("an unclosed quote in `{text}`")),
                    Some(&q) if q == c => break,
                    Some(b'\\') => {
                        i += 1;
                        let ch = text[i..].chars().next().ok_or("a dangling escape")?;
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                    Some(_) => {
                        let ch = text[i..].chars().next().ok_or("bad text")?;
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            i += 1;
            out.push(Token::Str(s));
        } else if c == b'%' {
            out.push(Token::Punct("%"));
            i += 1;
        } else if let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) {
            out.push(Token::Punct(p));
            i += p.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(format!(
                "unexpected {:?} in the size expression `{text}`",
                ch
            ));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(q)) if *q == p) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(format!(
                "a size expression nested deeper than {MAX_EXPR_DEPTH} levels"
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.deeper()?;
        let mut terms = vec![self.term()?];
        loop {
            if self.eat("+") {
                terms.push(self.term()?);
            } else if self.eat("-") {
                terms.push(Expr::Mul(vec![Expr::Int(-1), self.term()?]));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::Add(terms)
        })
    }

    fn term(&mut self) -> Result<Expr, String> {
        let depth = self.depth;
        let mut acc = self.unary()?;
        loop {
            acc = if self.eat("*") {
                // Products stay flat, so a long one does not nest.
                let next = self.unary()?;
                match acc {
                    Expr::Mul(mut v) => {
                        v.push(next);
                        Expr::Mul(v)
                    }
                    other => Expr::Mul(vec![other, next]),
                }
            } else if self.eat("//") {
                self.deeper()?;
                Expr::FloorDiv(Box::new(acc), Box::new(self.unary()?))
            } else if self.eat("/") {
                self.deeper()?;
                Expr::Div(Box::new(acc), Box::new(self.unary()?))
            } else if self.eat("%") {
                self.deeper()?;
                Expr::Mod(Box::new(acc), Box::new(self.unary()?))
            } else {
                self.depth = depth;
                return Ok(acc);
            };
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("-") {
            self.deeper()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Mul(vec![Expr::Int(-1), e]));
        }
        let base = self.atom()?;
        if self.eat("**") {
            self.deeper()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Pow(Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Int(n)) => {
                self.at += 1;
                Ok(Expr::Int(n))
            }
            Some(Token::Ident(name)) => {
                self.at += 1;
                if self.eat("(") {
                    self.deeper()?;
                    let args = self.call_args()?;
                    self.depth -= 1;
                    call(&name, args)
                } else {
                    Ok(Expr::Symbol(name))
                }
            }
            Some(Token::Punct("(")) => {
                self.at += 1;
                let e = self.expr()?;
                if !self.eat(")") {
                    return Err("an unclosed parenthesis in a size expression".into());
                }
                Ok(e)
            }
            _ => Err("a size expression ends where a value was expected".into()),
        }
    }

    /// Positional arguments up to `)`; keyword arguments (`positive=True`) are skipped, and strings
    /// kept (only `Symbol` takes one).
    fn call_args(&mut self) -> Result<Vec<Arg>, String> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            let keyword = matches!(
                (self.tokens.get(self.at), self.tokens.get(self.at + 1)),
                (Some(Token::Ident(_)), Some(Token::Punct("=")))
            );
            if keyword {
                self.at += 2;
                self.expr()?;
            } else if let Some(Token::Str(s)) = self.peek().cloned() {
                self.at += 1;
                args.push(Arg::Str(s));
            } else {
                args.push(Arg::Expr(self.expr()?));
            }
            if self.eat(")") {
                return Ok(args);
            }
            if !self.eat(",") {
                return Err("a function call in a size expression is not closed".into());
            }
        }
    }
}

enum Arg {
    Expr(Expr),
    Str(String),
}

/// sympy's and PyTorch's size functions (`torch.utils._sympy.functions`) this reader evaluates.
fn call(name: &str, args: Vec<Arg>) -> Result<Expr, String> {
    let arity = args.len();
    let bad = || format!("{name}() with {arity} arguments in a size expression");
    let mut exprs = Vec::with_capacity(arity);
    let mut strings = Vec::new();
    for a in args {
        match a {
            Arg::Expr(e) => exprs.push(e),
            Arg::Str(s) => strings.push(s),
        }
    }
    if name == "Symbol" {
        return match (strings.pop(), exprs.is_empty()) {
            (Some(s), true) if strings.is_empty() => Ok(Expr::Symbol(s)),
            _ => Err(bad()),
        };
    }
    if !strings.is_empty() {
        return Err(bad());
    }
    let two = |exprs: Vec<Expr>| -> Result<(Box<Expr>, Box<Expr>), String> {
        let [a, b]: [Expr; 2] = exprs.try_into().map_err(|_| bad())?;
        Ok((Box::new(a), Box::new(b)))
    };
    let one = |exprs: Vec<Expr>| -> Result<Box<Expr>, String> {
        let [a]: [Expr; 1] = exprs.try_into().map_err(|_| bad())?;
        Ok(Box::new(a))
    };
    Ok(match name {
        "Integer" => match exprs.as_slice() {
            [Expr::Int(n)] => Expr::Int(*n),
            [Expr::Mul(v)] if matches!(v.as_slice(), [Expr::Int(-1), Expr::Int(_)]) => {
                exprs.into_iter().next().expect("one")
            }
            _ => return Err(bad()),
        },
        "Rational" => match exprs.as_slice() {
            [a, b] => Expr::Div(Box::new(a.clone()), Box::new(b.clone())),
            _ => return Err(bad()),
        },
        "Add" if arity >= 1 => Expr::Add(exprs),
        "Mul" if arity >= 1 => Expr::Mul(exprs),
        "Max" if arity >= 1 => Expr::Max(exprs),
        "Min" if arity >= 1 => Expr::Min(exprs),
        "Pow" => {
            let (a, b) = two(exprs)?;
            Expr::Pow(a, b)
        }
        "FloorDiv" | "CleanDiv" | "IntTrueDiv" | "TruncDiv" => {
            let (a, b) = two(exprs)?;
            match name {
                // Exact and floor divisions agree on sizes; a true division of integers is exact.
                "IntTrueDiv" => Expr::Div(a, b),
                _ => Expr::FloorDiv(a, b),
            }
        }
        "CeilDiv" => {
            let (a, b) = two(exprs)?;
            Expr::CeilDiv(a, b)
        }
        "Mod" | "PythonMod" => {
            let (a, b) = two(exprs)?;
            Expr::Mod(a, b)
        }
        "ModularIndexing" => {
            let [base, divisor, modulus]: [Expr; 3] = exprs.try_into().map_err(|_| bad())?;
            Expr::Mod(
                Box::new(Expr::FloorDiv(Box::new(base), Box::new(divisor))),
                Box::new(modulus),
            )
        }
        "Identity" => *one(exprs)?,
        "FloorToInt" | "floor" => Expr::Floor(one(exprs)?),
        "CeilToInt" | "ceiling" | "ceil" => Expr::Ceil(one(exprs)?),
        "TruncToInt" => Expr::Trunc(one(exprs)?),
        "Abs" => Expr::Abs(one(exprs)?),
        _ => return Err(format!("{name}() is not a size function this reader knows")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, vars: &[(&str, i64)]) -> Result<u64, String> {
        let vars: Vec<(String, i64)> = vars.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        parse(text)?.eval(&|s| vars.iter().find(|(k, _)| k == s).map(|(_, v)| *v))
    }

    #[test]
    fn sympy_srepr_and_infix_forms() {
        let s = "Symbol('s77', positive=True, integer=True)";
        assert_eq!(parse(s).unwrap().as_symbol(), Some("s77"));
        assert_eq!(at(s, &[("s77", 5)]), Ok(5));
        assert_eq!(at(&format!("Mul(Integer(4), {s})"), &[("s77", 5)]), Ok(20));
        assert_eq!(at(&format!("Add({s}, Integer(-1))"), &[("s77", 5)]), Ok(4));
        assert_eq!(
            at(&format!("FloorDiv({s}, Integer(2))"), &[("s77", 5)]),
            Ok(2)
        );
        assert_eq!(at(&format!("CeilDiv({s}, 2)"), &[("s77", 5)]), Ok(3));
        assert_eq!(
            at(&format!("Mul(Rational(1, 2), {s})"), &[("s77", 6)]),
            Ok(3)
        );
        assert_eq!(at("2*s0 + 1", &[("s0", 3)]), Ok(7));
        assert_eq!(at("(s0 - 1)//2 + 1", &[("s0", 8)]), Ok(4));
        assert_eq!(at("Max(1, s0 - 4)", &[("s0", 3)]), Ok(1));
        assert_eq!(at("s0**2 % 5", &[("s0", 3)]), Ok(4));
        assert_eq!(at("ModularIndexing(s0, 2, 3)", &[("s0", 10)]), Ok(2));
        assert_eq!(at("batch", &[("batch", 4)]), Ok(4));
        assert_eq!(
            parse(&format!("Mul(Integer(4), {s})")).unwrap().to_string(),
            "4*s77"
        );
    }

    #[test]
    fn what_cannot_be_a_size_is_an_error() {
        assert!(at("s0", &[]).unwrap_err().contains("s0 has no value"));
        assert!(
            at("s0 - 5", &[("s0", 2)])
                .unwrap_err()
                .contains("not a size")
        );
        assert!(at("s0/2", &[("s0", 3)]).unwrap_err().contains("whole"));
        assert!(at("s0//0", &[("s0", 3)]).unwrap_err().contains("zero"));
        assert!(at("s0**100", &[("s0", 3)]).is_err());
        assert!(at("99999999999999999999*99999999999999999999*s0", &[("s0", 3)]).is_err());
        assert!(parse("os.system('x')").is_err());
        assert!(parse("Foo(1)").unwrap_err().contains("Foo"));
        assert!(parse(&"(".repeat(100)).is_err());
        assert!(parse(&"1+".repeat(5000)).is_err());
        assert!(parse("1 1").is_err());
        assert!(parse("Symbol(1)").is_err());
        assert!(parse("'unclosed").is_err());
    }
}
