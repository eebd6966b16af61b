//! Entities: writes in every Port mode (single and bulk), reads, deletes with dependents.
//!
//! A write request is validated in memory first (shape, blueprint schema, relations), then
//! every valid item is written in one transaction with its events: one multi-row statement
//! for the entities, one for their relation edges and one for the events.

pub(crate) mod delete;
mod ownership;
mod read;
pub(crate) mod shape;
pub(crate) mod write;

pub use delete::{bulk_delete, delete};
pub(crate) use read::render;
pub use read::{ReadOptions, count, get, list};
pub use shape::{entity_json, entity_raw, model_to_data};
pub use write::{Failed, WriteMode, WriteOptions, WriteRequest, Written, write};

/// Identifiers per `IN (...)` list: keeps every statement well under bind-parameter limits.
pub(crate) const IN_CHUNK: usize = 1_000;
