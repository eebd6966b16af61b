//! Search index, third step: numbers and dates get tables of their own.
//!
//! `entity_values` held every indexed scalar, with one of `s`, `n` and `t` set per row. Its
//! per-column statistics then describe all values at once: the histogram of `t` covers every
//! date property of every blueprint, and its null fraction counts the strings and numbers.
//! For `startedAt between` a 30-day window PostgreSQL multiplied the frequency of
//! `key = 'startedAt'` by the (small) non-null fraction of `t`, as if independent, and
//! estimated 75 matches where there were 2,438 (at 100k entities). So it collected and sorted
//! every match of a broad range instead of walking the entities in page order and stopping
//! after the page (105 ms against 19 ms at 1M, docs/benchmarks.md). Numbers ranges had the
//! same flaw.
//!
//! Now `entity_values` keeps the strings (`s`, `long`), `entity_numbers` the numbers (`n`) and
//! `entity_dates` the instants (`t`, microseconds), all `NOT NULL`: each table's statistics
//! describe one type. On PostgreSQL each new table also gets multivariate statistics over
//! `(blueprint, key)` (a key belongs to few blueprints, so the two are far from independent)
//! and a finer histogram of its value column. Existing rows move to their table.
//!
//! With only strings left in `entity_values`, building `st_values_key_s` (migration 7) at its
//! target of 1,000 made `ANALYZE entity_values` take 105 s at 1M entities (a 300,000-row
//! sample of mostly distinct strings; 2 s without the statistics). At the default target (100:
//! a 30,000-row sample, 100 most common pairs) it takes 3 s, and the estimate that migration 7
//! fixed is kept: `language = 'typescript'` is estimated at 41,268 rows for 40,383 real. The
//! common pairs, where the planner's choice matters, are the ones an MCV list of 100 holds.
//!
//! `entity_values.s` stays nullable (SQLite cannot add `NOT NULL` to a column in place, and the
//! store writes no other rows any more); its partial index is unchanged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::rls::{disable_sql, enable_sql};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Entries in the `(blueprint, key)` MCV list and buckets of the value histogram.
const STATISTICS_TARGET: u32 = 1000;
/// `st_values_key_s`'s target: PostgreSQL's default, and what migration 7 set.
const VALUES_TARGET: i32 = -1;
const VALUES_TARGET_BEFORE: i32 = 1000;

/// The typed tables: name, value column, its SQL type on PostgreSQL and on SQLite, and the
/// prefix of their index names.
const TYPED: &[(&str, &str, &str, &str, &str)] = &[
    ("entity_numbers", "n", "double precision", "real", "numbers"),
    ("entity_dates", "t", "bigint", "bigint", "dates"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let pg = db.get_database_backend() == DbBackend::Postgres;
        let uuid = if pg { "uuid" } else { "uuid_text" };
        for (table, col, pg_type, sqlite_type, short) in TYPED {
            let ty = if pg { pg_type } else { sqlite_type };
            db.execute_unprepared(&format!(
                "CREATE TABLE {table} (
                   org_id {uuid} NOT NULL,
                   blueprint varchar(100) NOT NULL,
                   identifier varchar(1000) NOT NULL,
                   key varchar(110) NOT NULL,
                   {col} {ty} NOT NULL
                 )"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "INSERT INTO {table} (org_id, blueprint, identifier, key, {col})
                 SELECT org_id, blueprint, identifier, key, {col} FROM entity_values
                 WHERE {col} IS NOT NULL"
            ))
            .await?;
            // Built after the copy: one sort per index instead of a row-by-row insert.
            for sql in [
                format!(
                    "CREATE INDEX idx_{short}_entity ON {table} (org_id, blueprint, identifier)"
                ),
                format!(
                    "CREATE INDEX idx_{short}_{col} ON {table} (org_id, blueprint, key, {col}, identifier)"
                ),
            ] {
                db.execute_unprepared(&sql).await?;
            }
            if pg {
                db.execute_unprepared(&enable_sql(table, "org_id")).await?;
                db.execute_unprepared(&format!(
                    "CREATE STATISTICS st_{short}_key (mcv, dependencies) ON blueprint, key FROM {table};
                     ALTER STATISTICS st_{short}_key SET STATISTICS {STATISTICS_TARGET};
                     ALTER TABLE {table} ALTER COLUMN {col} SET STATISTICS {STATISTICS_TARGET};"
                ))
                .await?;
            }
        }
        for sql in [
            "DELETE FROM entity_values WHERE s IS NULL",
            "DROP INDEX idx_values_n_id",
            "DROP INDEX idx_values_t_id",
            // One column per statement: SQLite drops one at a time.
            "ALTER TABLE entity_values DROP COLUMN n",
            "ALTER TABLE entity_values DROP COLUMN t",
        ] {
            db.execute_unprepared(sql).await?;
        }
        if pg {
            db.execute_unprepared(&format!(
                "ALTER STATISTICS st_values_key_s SET STATISTICS {VALUES_TARGET}"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let pg = db.get_database_backend() == DbBackend::Postgres;
        let double = if pg { "double precision" } else { "real" };
        if pg {
            db.execute_unprepared(&format!(
                "ALTER STATISTICS st_values_key_s SET STATISTICS {VALUES_TARGET_BEFORE}"
            ))
            .await?;
        }
        for sql in [
            format!("ALTER TABLE entity_values ADD COLUMN n {double}"),
            "ALTER TABLE entity_values ADD COLUMN t bigint".to_owned(),
        ] {
            db.execute_unprepared(&sql).await?;
        }
        for (table, col, _, _, _) in TYPED {
            db.execute_unprepared(&format!(
                "INSERT INTO entity_values (org_id, blueprint, identifier, key, {col})
                 SELECT org_id, blueprint, identifier, key, {col} FROM {table}"
            ))
            .await?;
            if pg {
                db.execute_unprepared(&disable_sql(table)).await?;
            }
            // Its indexes and statistics go with it.
            db.execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        for sql in [
            "CREATE INDEX idx_values_n_id ON entity_values (org_id, blueprint, key, n, identifier) WHERE n IS NOT NULL",
            "CREATE INDEX idx_values_t_id ON entity_values (org_id, blueprint, key, t, identifier) WHERE t IS NOT NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
