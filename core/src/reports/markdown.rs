//! Markdown that renders on GitHub: the layer table and the footer sections as pipe tables.

use super::footer::{self, Section};
use super::table::{self, TableOptions};
use crate::summary::ModelSummary;

/// A line break (a ModuleDict key may hold one) would end the table row or list item: a space instead.
pub(crate) fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// Pipes inside cells would split them; tree glyphs keep their indentation with non-breaking spaces.
fn escape(cell: &str) -> String {
    one_line(cell)
        .replace('|', "\\|")
        .replace("  ", "\u{a0}\u{a0}")
}

/// A pipe table. Empty headers still need a header row in GitHub Markdown.
pub fn pipe_table(header: &[String], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut s = String::new();
    s += &format!(
        "| {} |\n",
        header
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let aligns: Vec<&str> = (0..header.len())
        .map(|c| {
            if right.get(c).copied().unwrap_or(false) {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    s += &format!("|{}|\n", aligns.join("|"));
    for row in rows {
        s += &format!(
            "| {} |\n",
            row.iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    s
}

fn section(section: &Section) -> String {
    let mut s = String::new();
    if let Some(title) = &section.title {
        s += &format!("**{title}**\n\n");
    }
    if section.key_value {
        for row in &section.rows {
            s += &format!(
                "- **{}**: {}\n",
                one_line(&row[0]),
                one_line(&row[1..].join(" "))
            );
        }
    } else {
        s += &pipe_table(&section.header, &section.rows, &section.right);
    }
    s.push('\n');
    s
}

pub fn render(summary: &ModelSummary, opts: &TableOptions) -> String {
    let totals = summary.totals();
    let cells = table::cells(summary, &totals, opts);
    let mut s = format!(
        "## {} ({})\n\n",
        super::name(&summary.name, super::MAX_CELL),
        super::name(&summary.root.type_name, super::MAX_NAME)
    );
    s += &pipe_table(&cells.header, &cells.rows, &cells.right);
    s.push('\n');
    for group in footer::sections(summary, &totals) {
        for sec in &group {
            s += &section(sec);
        }
    }
    for note in super::shown_notes(&summary.notes) {
        s += &format!("> Note: {note}\n");
    }
    s
}
