//! Portolan's domain model: blueprints, entities, identifiers and their rules. No IO.
//!
//! Everything here is a pure function over values, so it is tested hard with unit tests and
//! shared by the store, the API and the workers.

pub mod blueprint;
pub mod entity;
pub mod error;
pub mod event;
pub mod ids;
pub mod permission;
pub mod projection;
pub mod query;
pub mod schema;

pub use error::{Issue, Issues};
pub use ids::{BlueprintKey, EntityKey, OrgId};
