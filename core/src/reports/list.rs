//! `tchinfo list`: the built-in zoo from its catalogue, grouped by family, with each architecture's
//! default input and parameter count. Nothing is built, so it answers at once.

use super::{Format, csv, footer, json, markdown};
use crate::architectures::presets::PRESETS;
use crate::sources::catalog::Builtin;
use crate::units::thousands;

pub fn render(builtins: &[Builtin], format: Format) -> String {
    let entries = entries(builtins);
    match format {
        Format::Json => render_json(&entries),
        Format::Csv => render_csv(&entries),
        Format::Markdown => render_markdown(&entries),
        // `list` refuses --format html before it renders.
        Format::Table | Format::Html => render_text(&entries),
    }
}

/// What a built-in takes by default: an image, or a sequence of token ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// C, H, W at batch 1.
    Image([i64; 3]),
    /// Token ids per sequence at batch 1.
    Tokens(u64),
}

impl Input {
    fn text(self, separator: &str) -> String {
        match self {
            Input::Image(dims) => dims.map(|d| d.to_string()).join(separator),
            Input::Tokens(n) => format!("{n} tokens"),
        }
    }
}

/// One row of the list.
struct Entry {
    family: &'static str,
    name: &'static str,
    input: Input,
    params: u64,
}

/// The image models of the catalogue, then the language models of the presets, whose counts come from
/// their configs (a few small JSON files: no model is built).
fn entries(builtins: &[Builtin]) -> Vec<Entry> {
    let images = builtins.iter().map(|b| Entry {
        family: b.family,
        name: b.name,
        input: Input::Image(b.default_input),
        params: b.params,
    });
    let language = PRESETS.iter().map(|p| {
        let arch = p.architecture();
        Entry {
            family: p.family,
            name: p.name,
            input: Input::Tokens(arch.default_seq_len()),
            params: arch.parameter_count(),
        }
    });
    images.chain(language).collect()
}

const HEADER: [&str; 4] = ["Family", "Name", "Default input", "Params"];
const RIGHT: [bool; 4] = [false, false, false, true];

/// One row per architecture; the family is named on the first row of its group only.
fn rows(entries: &[Entry], separator: &str) -> Vec<(bool, Vec<String>)> {
    let mut previous = None;
    entries
        .iter()
        .map(|e| {
            let first = previous != Some(e.family);
            previous = Some(e.family);
            let family = if first { e.family } else { "" };
            (
                first,
                vec![
                    family.to_string(),
                    e.name.to_string(),
                    e.input.text(separator),
                    thousands(e.params),
                ],
            )
        })
        .collect()
}

fn families(entries: &[Entry]) -> usize {
    let mut families: Vec<&str> = entries.iter().map(|e| e.family).collect();
    families.dedup();
    families.len()
}

fn closing_line(entries: &[Entry]) -> String {
    format!(
        "{} built-in architectures in {} families.\nImage models: params at 1000 classes (--num-classes \
         changes the classifier), inputs C×H×W at batch 1 (--input-size, --batch-size change them).\n\
         Language models: token ids at batch 1 (--seq-len, --batch-size change them), a tied head counted \
         once.\n",
        entries.len(),
        families(entries)
    )
}

fn render_text(entries: &[Entry]) -> String {
    let mut table = vec![HEADER.map(String::from).to_vec()];
    for (i, (first, row)) in rows(entries, "×").into_iter().enumerate() {
        // A blank line before each family but the first keeps the groups apart.
        if first && i > 0 {
            table.push(Vec::new());
        }
        table.push(row);
    }
    footer::aligned(&table, &RIGHT, "") + "\n" + &closing_line(entries)
}

fn render_markdown(entries: &[Entry]) -> String {
    let header = HEADER.map(String::from).to_vec();
    let cells: Vec<Vec<String>> = rows(entries, "×").into_iter().map(|r| r.1).collect();
    markdown::pipe_table(&header, &cells, &RIGHT) + "\n" + &closing_line(entries)
}

fn render_csv(entries: &[Entry]) -> String {
    let mut s = csv::line(&["family", "name", "default_input", "params"].map(String::from));
    for e in entries {
        s += &csv::line(&[
            e.family.to_string(),
            e.name.to_string(),
            e.input.text("x"),
            e.params.to_string(),
        ]);
    }
    s
}

fn render_json(entries: &[Entry]) -> String {
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let (kind, dims) = match e.input {
                Input::Image(dims) => ("image", dims.to_vec()),
                Input::Tokens(n) => ("tokens", vec![n as i64]),
            };
            serde_json::json!({
                "name": e.name,
                "family": e.family,
                "input": kind,
                "default_input": dims,
                "params": e.params,
            })
        })
        .collect();
    json::to_string(&serde_json::json!({
        "schema": "tchinfo/list",
        "schema_version": json::SCHEMA_VERSION,
        "tchinfo_version": env!("CARGO_PKG_VERSION"),
        "builtins": rows,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::catalog::CATALOG;

    #[test]
    fn families_are_named_once_and_set_apart() {
        let text = render(CATALOG, Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Family"), "{}", lines[0]);
        assert!(lines[1].starts_with("VGG"), "{}", lines[1]);
        assert!(lines[1].contains("vgg11") && lines[1].contains("132,863,336"));
        assert!(lines[2].trim_start().starts_with("vgg13"), "{}", lines[2]);
        let vit = lines.iter().position(|l| l.starts_with("ViT")).unwrap();
        assert_eq!(lines[vit - 1], "", "a blank line before each family");
        assert!(lines[vit].contains("vit_b_16") && lines[vit].contains("3×224×224"));
        assert_eq!(
            text.matches("\nViT ").count(),
            1,
            "the family is named once"
        );
        let gpt2 = lines.iter().position(|l| l.starts_with("GPT-2")).unwrap();
        assert!(lines[gpt2].contains("gpt2") && lines[gpt2].contains("128 tokens"));
        assert!(lines[gpt2].contains("124,439,808"), "{}", lines[gpt2]);
        assert!(text.ends_with("counted once.\n"), "{text}");
    }

    #[test]
    fn machine_formats_name_the_family_on_every_row() {
        let csv = render(CATALOG, Format::Csv);
        assert!(csv.starts_with("family,name,default_input,params\n"));
        assert!(
            csv.contains("\nViT,vit_h_14,3x224x224,632045800\n"),
            "{csv}"
        );
        let json: serde_json::Value = serde_json::from_str(&render(CATALOG, Format::Json)).unwrap();
        assert_eq!(json["schema"], "tchinfo/list");
        let rows = json["builtins"].as_array().unwrap();
        assert_eq!(rows.len(), CATALOG.len() + PRESETS.len());
        let llama = rows.iter().find(|r| r["name"] == "Llama-3.1-8B").unwrap();
        assert_eq!(llama["input"], "tokens");
        assert_eq!(llama["default_input"], serde_json::json!([128]));
        assert_eq!(llama["params"], 8_030_261_248u64);
        assert!(rows.iter().all(|r| r["family"].is_string()));
    }
}
