//! Search index, second step: value lookups that come out in identifier order, and statistics
//! that tell the planner how common a value is.
//!
//! - `idx_values_s` and `idx_values_n` gain `identifier` as their last column. The matches of
//!   one string or number (`language = "go"`, `tier = 2`, a team) then come from the index in
//!   identifier order, so a page sorted by identifier is a merge of that range with the
//!   entities' primary key and stops after the page, instead of collecting and sorting every
//!   match (612 ms for a page of 200 of 200,000 matches at 1M entities, docs/benchmarks.md).
//!   The lookups also become index-only. `idx_values_t` gains `identifier` too, only for
//!   that: dates are queried by range, whose matches come in date order whatever follows.
//! - PostgreSQL: multivariate statistics (most common values and functional dependencies) over
//!   `(blueprint, key, s)`. One generic table serves every property, so the per-column
//!   statistics say how common `s = 'typescript'` is among all strings of all properties, and
//!   the planner multiplies that by the frequency of `key = 'language'` as if they were
//!   independent: it estimated 42 matches where there were 3,966 and chose the collect-and-sort
//!   plan. With the MCV list it estimates 4,000 and merges. The statistics assume tenants have
//!   similar value distributions (the org is not a column of the statistics: with it the
//!   combinations would not fit any MCV list).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Entries in the multivariate MCV list (PostgreSQL's maximum is 10,000; ANALYZE samples
/// 300 rows per unit of the largest target).
const STATISTICS_TARGET: u32 = 1000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for sql in [
            "CREATE INDEX idx_values_s_id ON entity_values (org_id, blueprint, key, s, identifier) WHERE s IS NOT NULL",
            "CREATE INDEX idx_values_n_id ON entity_values (org_id, blueprint, key, n, identifier) WHERE n IS NOT NULL",
            "CREATE INDEX idx_values_t_id ON entity_values (org_id, blueprint, key, t, identifier) WHERE t IS NOT NULL",
            "DROP INDEX idx_values_s",
            "DROP INDEX idx_values_n",
            "DROP INDEX idx_values_t",
        ] {
            db.execute_unprepared(sql).await?;
        }
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE STATISTICS st_values_key_s (mcv, dependencies) ON blueprint, key, s FROM entity_values",
            )
            .await?;
            db.execute_unprepared(&format!(
                "ALTER STATISTICS st_values_key_s SET STATISTICS {STATISTICS_TARGET}"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP STATISTICS st_values_key_s")
                .await?;
        }
        for sql in [
            "CREATE INDEX idx_values_s ON entity_values (org_id, blueprint, key, s) WHERE s IS NOT NULL",
            "CREATE INDEX idx_values_n ON entity_values (org_id, blueprint, key, n) WHERE n IS NOT NULL",
            "CREATE INDEX idx_values_t ON entity_values (org_id, blueprint, key, t) WHERE t IS NOT NULL",
            "DROP INDEX idx_values_s_id",
            "DROP INDEX idx_values_n_id",
            "DROP INDEX idx_values_t_id",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
