//! The search index: `entity_values` holds one row per indexed scalar of an entity (see
//! `portolan_domain::query::index`), with B-tree indexes per value type.
//!
//! One generic table serves every property of every blueprint, so a new blueprint or property
//! needs no DDL and the number of indexes stays fixed however many tenants there are.
//!
//! The rows are derived data, written and deleted by the store in the same transaction as their
//! entity. There is deliberately no foreign key to `entities`: its check would cost an index
//! probe per value row (ten or more per entity) on the hot write path. For the same reason
//! `entities` gets no further `(org_id, blueprint, <column>)` indexes here: while a table has no
//! statistics, PostgreSQL resolves the foreign-key checks of `entity_relations` through any such
//! index (filtering the identifier) instead of the primary key, and a bulk load turns quadratic.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::rls::{disable_sql, enable_sql};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let pg = db.get_database_backend() == DbBackend::Postgres;
        // PostgreSQL: `s` compares bytewise (COLLATE "C") so that `beginsWith` is an index
        // range whatever the database's collation; SQLite compares bytewise by default.
        let (uuid, collate, double) = if pg {
            ("uuid", " COLLATE \"C\"", "double precision")
        } else {
            ("uuid_text", "", "real")
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE entity_values (
               org_id {uuid} NOT NULL,
               blueprint varchar(100) NOT NULL,
               identifier varchar(1000) NOT NULL,
               key varchar(110) NOT NULL,
               s text{collate},
               n {double},
               t bigint,
               long boolean NOT NULL DEFAULT false
             )"
        ))
        .await?;
        for sql in [
            "CREATE INDEX idx_values_entity ON entity_values (org_id, blueprint, identifier)",
            "CREATE INDEX idx_values_s ON entity_values (org_id, blueprint, key, s) WHERE s IS NOT NULL",
            "CREATE INDEX idx_values_n ON entity_values (org_id, blueprint, key, n) WHERE n IS NOT NULL",
            "CREATE INDEX idx_values_t ON entity_values (org_id, blueprint, key, t) WHERE t IS NOT NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }
        if pg {
            db.execute_unprepared(&enable_sql("entity_values", "org_id"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(&disable_sql("entity_values")).await?;
        }
        db.execute_unprepared("DROP TABLE entity_values").await?;
        Ok(())
    }
}
