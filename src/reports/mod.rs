//! Reports: everything that turns a [`ModelSummary`](crate::summary::ModelSummary) into text for people or
//! machines. Reports only format; the numbers come from [`crate::summary`] and [`crate::memory`].

pub mod footer;
pub mod summary;
pub mod table;
pub mod vgg_names;
