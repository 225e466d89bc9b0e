//! `tchinfo list`: the built-in zoo from its catalogue, grouped by family, with each architecture's
//! default input and parameter count. Nothing is built, so it answers at once.

use super::{Format, csv, footer, json, markdown};
use crate::sources::catalog::Builtin;
use crate::units::thousands;

pub fn render(builtins: &[Builtin], format: Format) -> String {
    match format {
        Format::Json => render_json(builtins),
        Format::Csv => render_csv(builtins),
        Format::Markdown => render_markdown(builtins),
        // `list` refuses --format html before it renders.
        Format::Table | Format::Html => render_text(builtins),
    }
}

const HEADER: [&str; 4] = ["Family", "Name", "Default input", "Params"];
const RIGHT: [bool; 4] = [false, false, false, true];

/// One row per architecture; the family is named on the first row of its group only.
fn rows(builtins: &[Builtin], separator: &str) -> Vec<(bool, Vec<String>)> {
    let mut previous = None;
    builtins
        .iter()
        .map(|b| {
            let first = previous != Some(b.family);
            previous = Some(b.family);
            let input: Vec<String> = b.default_input.iter().map(i64::to_string).collect();
            let family = if first { b.family } else { "" };
            (
                first,
                vec![
                    family.to_string(),
                    b.name.to_string(),
                    input.join(separator),
                    thousands(b.params),
                ],
            )
        })
        .collect()
}

fn families(builtins: &[Builtin]) -> usize {
    let mut families: Vec<&str> = builtins.iter().map(|b| b.family).collect();
    families.dedup();
    families.len()
}

fn closing_line(builtins: &[Builtin]) -> String {
    format!(
        "{} built-in architectures in {} families.\nParams at 1000 classes (--num-classes changes the \
         classifier); inputs C×H×W at batch 1 (--input-size, --batch-size change them).\n",
        builtins.len(),
        families(builtins)
    )
}

fn render_text(builtins: &[Builtin]) -> String {
    let mut table = vec![HEADER.map(String::from).to_vec()];
    for (i, (first, row)) in rows(builtins, "×").into_iter().enumerate() {
        // A blank line before each family but the first keeps the groups apart.
        if first && i > 0 {
            table.push(Vec::new());
        }
        table.push(row);
    }
    footer::aligned(&table, &RIGHT, "") + "\n" + &closing_line(builtins)
}

fn render_markdown(builtins: &[Builtin]) -> String {
    let header = HEADER.map(String::from).to_vec();
    let cells: Vec<Vec<String>> = rows(builtins, "×").into_iter().map(|r| r.1).collect();
    markdown::pipe_table(&header, &cells, &RIGHT) + "\n" + &closing_line(builtins)
}

fn render_csv(builtins: &[Builtin]) -> String {
    let mut s = csv::line(&["family", "name", "default_input", "params"].map(String::from));
    for b in builtins {
        let input: Vec<String> = b.default_input.iter().map(i64::to_string).collect();
        s += &csv::line(&[
            b.family.to_string(),
            b.name.to_string(),
            input.join("x"),
            b.params.to_string(),
        ]);
    }
    s
}

fn render_json(builtins: &[Builtin]) -> String {
    let rows: Vec<serde_json::Value> = builtins
        .iter()
        .map(|b| {
            serde_json::json!({
                "name": b.name,
                "family": b.family,
                "default_input": b.default_input,
                "params": b.params,
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
        assert!(text.ends_with("change them).\n"), "{text}");
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
        assert_eq!(rows.len(), CATALOG.len());
        assert!(rows.iter().all(|r| r["family"].is_string()));
    }
}
