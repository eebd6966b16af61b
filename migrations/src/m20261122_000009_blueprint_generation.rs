//! A per-org generation of the blueprints: `organizations.blueprint_generation`, raised by a
//! trigger on every insert, update and delete of a blueprint row.
//!
//! Every search and entity write parses its query against the org's blueprints, and reading
//! them was a statement (and a parse and clone of every definition) per request. The store now
//! keeps the org's blueprints in memory under the generation they were read at, and a tenant
//! transaction reads the generation in the round trip that sets it up: an unchanged
//! generation means unchanged blueprints, on every instance, for any writer (a trigger cannot
//! be bypassed by a code path that forgot to bump it). The increment runs in the writing
//! transaction, so a rolled-back change leaves the generation as it was, and concurrent
//! blueprint writes of one org take turns on the org row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const BUMP: &str = "UPDATE organizations SET blueprint_generation = blueprint_generation + 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "ALTER TABLE organizations ADD COLUMN blueprint_generation bigint NOT NULL DEFAULT 0",
        )
        .await?;
        if db.get_database_backend() == DbBackend::Postgres {
            // AFTER ... FOR EACH ROW: `NEW` is NULL for a delete, `OLD` for an insert.
            db.execute_unprepared(&format!(
                "CREATE FUNCTION portolan_blueprint_generation() RETURNS trigger
                   LANGUAGE plpgsql AS $$
                 BEGIN
                   {BUMP} WHERE id = COALESCE(NEW.org_id, OLD.org_id);
                   RETURN NULL;
                 END $$;
                 CREATE TRIGGER blueprints_generation
                   AFTER INSERT OR UPDATE OR DELETE ON blueprints
                   FOR EACH ROW EXECUTE FUNCTION portolan_blueprint_generation();"
            ))
            .await?;
        } else {
            for (op, row) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
                let name = op.to_lowercase();
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER blueprints_generation_{name} AFTER {op} ON blueprints
                     BEGIN {BUMP} WHERE id = {row}.org_id; END"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "DROP TRIGGER blueprints_generation ON blueprints;
                 DROP FUNCTION portolan_blueprint_generation();",
            )
            .await?;
        } else {
            for name in ["insert", "update", "delete"] {
                db.execute_unprepared(&format!("DROP TRIGGER blueprints_generation_{name}"))
                    .await?;
            }
        }
        db.execute_unprepared("ALTER TABLE organizations DROP COLUMN blueprint_generation")
            .await?;
        Ok(())
    }
}
