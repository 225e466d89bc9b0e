//! The HTML report: one self-contained page that draws where the parameters and the memory sit.
//!
//! The page is the JSON report's own document (`tchinfo/summary`, `tchinfo/compare` with each model's
//! modules, `tchinfo/plan`) embedded in a `<script type="application/json">` element, plus a small script
//! (files in `html/`) that draws everything from it: the figures are never computed twice, so the page
//! shows what `--format json` prints. Promises:
//! - **self-contained**: inline CSS, JS and SVG; no network, no external font; it opens from disk;
//! - **names stay text**: module names come from strangers' files. The JSON is escaped so that no `<`,
//!   `>` or `&` reaches the HTML parser, the script only ever sets names as text nodes or attribute
//!   values, and the Content-Security-Policy lets run only the script and style whose SHA-256 it names —
//!   so even markup that got in could not load or run anything.

use super::compare::compare_document;
use super::json::summary_json;
use super::plan::plan_document;
use crate::plan::Plan;
use crate::summary::ModelSummary;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

const TEMPLATE: &str = include_str!("html/report.html");
const STYLE: &str = include_str!("html/report.css");
/// Joined into one inline script; main.js comes last and draws the page once everything is defined.
const SCRIPTS: [&str; 7] = [
    include_str!("html/format.js"),
    include_str!("html/treemap.js"),
    include_str!("html/layers.js"),
    include_str!("html/summary.js"),
    include_str!("html/compare.js"),
    include_str!("html/plan.js"),
    include_str!("html/main.js"),
];

/// `tchinfo summary MODEL --format html`; the layer table opens folded at `depth` (`--depth`).
pub fn summary(summary: &ModelSummary, depth: usize) -> String {
    page(&summary_json(summary), &json!({ "depth": depth }))
}

/// `tchinfo compare A B … --format html`: the compare document with each model's modules, which the
/// page draws side by side.
pub fn compare(summaries: &[ModelSummary]) -> String {
    page(&compare_document(summaries, true), &json!({}))
}

/// `tchinfo plan MODEL --format html`.
pub fn plan(plan: &Plan) -> String {
    page(&plan_document(plan), &json!({}))
}

/// `tchinfo plan MODEL --format html` for a training plan (measured or from the architecture).
pub fn step_plan(plan: &crate::plan::StepPlan) -> String {
    page(&super::plan::step_document(plan), &json!({}))
}

/// The page: `document` is the report's data, `view` how the command asked to show it (no figures).
fn page<T: Serialize>(document: &T, view: &serde_json::Value) -> String {
    let data = script_safe_json(document);
    let view = script_safe_json(view);
    let script = SCRIPTS.join("\n");
    let csp = format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; base-uri 'none'; form-action 'none'",
        csp_hash(&script),
        csp_hash(STYLE)
    );
    fill(
        TEMPLATE,
        &[
            ("csp", &csp),
            ("style", STYLE),
            ("data", &data),
            ("view", &view),
            ("script", &script),
        ],
    )
}

/// Compact JSON that can sit inside a `<script>` element whatever its strings hold: `<`, `>` and `&`
/// become `\u003c`, `\u003e`, `\u0026` (so no `</script>` or `<!--` can end or alter the element) and the
/// line separators U+2028/U+2029 are escaped too. JSON has these characters only inside strings, where
/// the escapes mean the same characters, so `JSON.parse` reads back exactly the report's document.
pub fn script_safe_json<T: Serialize>(document: &T) -> String {
    let json = serde_json::to_string(document).expect("report documents always serialize");
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `sha256-…` as a Content-Security-Policy source: the base64 of the text's SHA-256.
fn csp_hash(text: &str) -> String {
    format!("sha256-{}", base64(&Sha256::digest(text.as_bytes())))
}

/// Standard base64 with padding (RFC 4648), for the 32 bytes of a hash.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Replaces each `{{name}}` of the template in one pass: an inserted value is never searched again, so
/// a module named `{{script}}` stays that text.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .expect("the template closes its placeholders");
        let name = &after[..end];
        let value = values
            .iter()
            .find(|(key, _)| *key == name)
            .unwrap_or_else(|| panic!("the template's placeholder {{{{{name}}}}} has a value"));
        out.push_str(value.1);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_element_and_reads_back_the_same() {
        let hostile = "</script><script>pwned=1</script><!-- &amp; \u{2028}";
        let doc = json!({"model": hostile, "n": 1});
        let text = script_safe_json(&doc);
        for forbidden in ['<', '>', '&', '\u{2028}'] {
            assert!(!text.contains(forbidden), "{text}");
        }
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn placeholders_are_filled_once() {
        let out = fill("a{{x}}b{{y}}c", &[("x", "{{y}}"), ("y", "Y")]);
        assert_eq!(out, "a{{y}}bYc");
    }

    #[test]
    fn hashes_are_base64_sha256() {
        // Known values: SHA-256 of the empty string and of "abc".
        assert_eq!(
            csp_hash(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            csp_hash("abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    /// The script and style are inlined: nothing in them may end their element early, and the page must
    /// not reach for anything outside itself.
    #[test]
    fn the_page_is_self_contained() {
        let script = SCRIPTS.join("\n");
        assert!(!script.to_ascii_lowercase().contains("</script"));
        assert!(!script.contains("<!--"));
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        // The SVG namespace is a name, not an address the page loads.
        let script_without_namespace = script.replace("\"http://www.w3.org/2000/svg\"", "");
        for text in [script_without_namespace.as_str(), STYLE, TEMPLATE] {
            for outside in [
                "http:",
                "https:",
                "//cdn",
                "@import",
                "url(",
                "fetch(",
                "XMLHttpRequest",
            ] {
                assert!(!text.contains(outside), "{outside} in the page");
            }
        }
        // The one place names reach the page is the data: innerHTML and friends must not appear.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "{sink} in the script");
        }
        let page = page(
            &json!({"schema": "tchinfo/summary", "model": "{{script}}"}),
            &json!({}),
        );
        assert!(page.contains("\"model\":\"{{script}}\""));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(page.matches(&csp_hash(&script)).count(), 1);
    }
}
