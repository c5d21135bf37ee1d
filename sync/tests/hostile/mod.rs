//! The hostile property harness: [`checks`] are plain functions over plain data (the
//! properties themselves), [`strategies`] generate that data for proptest.

pub mod checks;
pub mod strategies;

pub use checks::{decode_everything, merge, round_trip};
pub use strategies::{bytes, json_documents, messages, scenarios};
