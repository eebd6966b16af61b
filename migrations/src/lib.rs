//! Portolan's schema, as sea-orm migrations that run on PostgreSQL and SQLite.
//!
//! Naming follows `mYYYYMMDD_HHMMSS_<verb>_<noun>`; every migration has `up` and `down`.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_tenancy;
mod m20261121_000002_create_catalog;
mod m20261121_000003_create_events;
mod m20261121_000004_enable_row_level_security;
mod m20261121_000005_create_search_index;
mod m20261121_000006_create_identity;
mod m20261121_000007_order_search_index;
mod m20261121_000008_typed_search_index;
mod m20261122_000009_blueprint_generation;
mod m20261122_000010_relations_into_in_source_order;
pub mod rls;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_tenancy::Migration),
            Box::new(m20261121_000002_create_catalog::Migration),
            Box::new(m20261121_000003_create_events::Migration),
            Box::new(m20261121_000004_enable_row_level_security::Migration),
            Box::new(m20261121_000005_create_search_index::Migration),
            Box::new(m20261121_000006_create_identity::Migration),
            Box::new(m20261121_000007_order_search_index::Migration),
            Box::new(m20261121_000008_typed_search_index::Migration),
            Box::new(m20261122_000009_blueprint_generation::Migration),
            Box::new(m20261122_000010_relations_into_in_source_order::Migration),
        ]
    }
}
