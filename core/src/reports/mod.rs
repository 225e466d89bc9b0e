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
