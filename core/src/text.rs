//! Text from a model file made safe to show: names, paths and messages come from strangers.
//!
//! One escaping rule for every report and every error line ([`escape`]): control characters (C0, DEL,
//! C1), line and paragraph separators, and the invisible formatting characters that reorder or hide text
//! (bidi overrides and isolates, zero-width characters, the byte-order mark) are written as Rust escapes
//! (`\u{1b}`, `\n`), so no name can move the cursor, retitle the terminal or make one name read as
//! another. [`shorten`] keeps a cell within a width, cutting the middle so both ends stay readable,
//! and [`one_line`] does the same for a whole error message.

use std::borrow::Cow;
use std::path::Path;

/// True for a character a terminal would act on or hide instead of showing it.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Zero-width space, non-joiner, joiner; left-to-right and right-to-left marks.
            '\u{200B}'..='\u{200F}'
            // Line and paragraph separators; embeddings, overrides and their pop.
            | '\u{2028}'..='\u{202E}'
            // Word joiner and invisible operators; isolates and their pop.
            | '\u{2060}'..='\u{2069}'
            // Arabic letter mark, byte-order mark, interlinear annotation marks.
            | '\u{061C}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `s` with every [unsafe](is_unsafe) character escaped; borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`escape`] for a whole report: line breaks stay line breaks (a report has many lines), every other
/// unsafe character is escaped. Cells are escaped one by one before they are aligned; this is the last
/// guard on what reaches the terminal.
pub fn escape_report(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    if is_unsafe(c) {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// At most `max` characters: a longer text keeps its start and its end around `…` (a module path's
/// root and its leaf, a class's module and its name).
pub fn shorten(s: &str, max: usize) -> Cow<'_, str> {
    let count = s.chars().count();
    if count <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    Cow::Owned(format!("{}…{}", &s[..at(head)], &s[at(count - tail)..]))
}

/// A table cell from a file's text: escaped, then at most `max` characters.
pub fn cell(s: &str, max: usize) -> String {
    shorten(&escape(s), max).into_owned()
}

/// A message that quotes names from a file (which may hold newlines, escape sequences or a megabyte of
/// text) as one readable line: escaped, and a long one keeps its start (what) and its end (why).
pub fn one_line(message: &str) -> String {
    const KEEP: usize = 250;
    let chars = message.chars().count();
    if chars <= 2 * KEEP {
        return escape(message).into_owned();
    }
    let at = |n: usize| message.char_indices().nth(n).map_or(0, |(i, _)| i);
    format!(
        "{} … {}",
        escape(&message[..at(KEEP)]),
        escape(&message[at(chars - KEEP)..])
    )
}

/// Bytes that should be UTF-8 (a file name, a zip entry's name), shown escaped: unsafe characters as in
/// [`escape`], bytes that are not UTF-8 as `\xNN`.
pub fn bytes(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A path as reports and errors show it: [`bytes`] of its bytes, so a non-UTF-8 name stays
/// recognisable and a name with an escape sequence stays inert.
pub fn path(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    bytes(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_invisible_characters_are_escaped() {
        assert_eq!(escape("plain.name"), "plain.name");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\x1b]0;owned\x07b"), "a\\u{1b}]0;owned\\u{7}b");
        assert_eq!(escape("line\nbreak\ttab"), "line\\nbreak\\ttab");
        assert_eq!(escape("x\u{202e}txt.exe"), "x\\u{202e}txt.exe");
        assert_eq!(escape("\u{2066}a\u{2069}"), "\\u{2066}a\\u{2069}");
        assert_eq!(escape("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(
            escape("zero\u{200b}width\u{feff}"),
            "zero\\u{200b}width\\u{feff}"
        );
        assert_eq!(escape("é ü 模型"), "é ü 模型");
        assert_eq!(escape_report("a\x1b[2J\nb\n"), "a\\u{1b}[2J\nb\n");
    }

    #[test]
    fn long_text_is_cut_in_the_middle() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefgh", 5), "ab…gh");
        assert_eq!(shorten("abcdefgh", 4), "ab…h");
        assert_eq!(shorten("模型模型模型", 3), "模…型");
        assert_eq!(shorten("abc", 0), "");
        let long = "layer.".repeat(1000);
        assert_eq!(cell(&long, 40).chars().count(), 40);
        assert_eq!(cell("a\nb", 10), "a\\nb");
    }

    #[test]
    fn messages_stay_one_readable_line() {
        assert_eq!(one_line("module a\nb: bad"), "module a\\nb: bad");
        let long = format!("class __torch__.{}: no declaration", "m".repeat(100_000));
        let line = one_line(&long);
        assert!(line.starts_with("class __torch__.mmm"), "{line}");
        assert!(line.ends_with("mmm: no declaration"), "{line}");
        assert!(line.chars().count() < 510, "{}", line.len());
        assert_eq!(one_line("é\u{7}"), "é\\u{7}");
    }

    #[test]
    fn paths_that_are_not_utf8_are_shown_escaped() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(OsStr::from_bytes(b"models/caf\xe9\x1b.pt"));
        assert_eq!(path(p), "models/caf\\xe9\\u{1b}.pt");
        assert_eq!(bytes("archive/données".as_bytes()), "archive/données");
    }
}
