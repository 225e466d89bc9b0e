//! Reports: everything that turns a [`ModelSummary`](crate::summary::ModelSummary) into text for people or
//! machines. Reports only format; the numbers come from [`crate::summary`] and [`crate::memory`].

pub mod compare;
pub mod csv;
pub mod footer;
pub mod html;
pub mod json;
pub mod linear;
pub mod lint;
pub mod list;
pub mod markdown;
pub mod plan;
pub mod summary;
pub mod table;
pub mod vgg_names;

/// The widest a name may be in a text or Markdown report, in characters (a longer one keeps its start
/// and end around `…`; JSON and CSV carry it whole). Reports' size then grows with their rows, never
/// with what a file chose to name things.
pub const MAX_NAME: usize = 40;
/// The widest a module path or any other cell may be.
pub const MAX_CELL: usize = 64;
/// The widest a line of prose quoting names may be (the head's layers).
pub const MAX_LINE: usize = 240;
/// The widest a note may be: notes are tchinfo's own sentences, some long, quoting names from the file,
/// so they get more room than a line of names, still bounded.
pub const MAX_NOTE: usize = 1000;
/// Notes shown under a text or Markdown report; JSON carries them all.
pub const MAX_NOTES: usize = 20;
/// Tree levels drawn with glyphs; deeper rows show how many more levels there are as a number.
pub const MAX_DRAWN_DEPTH: usize = 8;

/// A name from the model (a class, a module path, a file name) as a text report shows it: escaped and
/// at most `max` characters.
pub fn name(s: &str, max: usize) -> String {
    crate::text::cell(s, max)
}

/// The notes as text reports list them: each escaped on one line of at most [`MAX_NOTE`] characters, at
/// most [`MAX_NOTES`] of them, then a count of the rest.
pub fn shown_notes(notes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = notes
        .iter()
        .take(MAX_NOTES)
        .map(|n| name(n, MAX_NOTE))
        .collect();
    if notes.len() > MAX_NOTES {
        out.push(format!(
            "{} more notes, not shown (the JSON report has them all)",
            notes.len() - MAX_NOTES
        ));
    }
    out
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people (the default).
    Table,
    /// JSON, versioned schema (docs/json-schema.md), numbers unrounded.
    Json,
    /// CSV: one row per layer (summary), per metric (compare) or per quantity (linear).
    Csv,
    /// Markdown tables that render on GitHub.
    Markdown,
    /// One self-contained HTML page (summary, compare and plan): a treemap of where the parameters
    /// sit, the sortable layer table, memory charts. Opens from disk; loads nothing.
    Html,
}
