//! sea-orm models, one per table. Repositories in the parent module are the only users.

pub mod blueprint;
pub mod credential;
pub mod data_migration;
pub mod entity;
pub mod event;
pub mod org_secret;
pub mod organization;
pub mod permission;
pub mod relation;
pub mod signing_key;
pub mod team;
pub mod team_member;
pub mod user;
