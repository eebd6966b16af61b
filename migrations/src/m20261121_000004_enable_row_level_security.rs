//! PostgreSQL row-level security: a tenant transaction runs as [`APP_ROLE`] with
//! [`ORG_SETTING`](crate::rls::ORG_SETTING) set, and every tenant table only shows it rows of that org. The
//! connecting (owning) role keeps full access for system work (migrations, job claims,
//! the outbox relay). SQLite has no RLS: there the repositories' own org filters are the lock.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::rls::{APP_ROLE, disable_sql, enable_sql};

/// The tenant tables that exist when this migration runs (later migrations enable RLS on
/// their own tables; `rls::TENANT_TABLES` lists them all).
const TABLES: &[(&str, &str)] = &[
    ("organizations", "id"),
    ("credentials", "org_id"),
    ("blueprints", "org_id"),
    ("entities", "org_id"),
    ("entity_relations", "org_id"),
    ("events", "org_id"),
    ("data_migrations", "org_id"),
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // The role is cluster-wide and shared by every database of the cluster; several
        // databases may be migrated at once (tests), so creation tolerates a concurrent twin.
        db.execute_unprepared(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                 CREATE ROLE {APP_ROLE} NOLOGIN;
               END IF;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$;"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "DO $$ BEGIN
               EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
             EXCEPTION WHEN duplicate_object OR unique_violation OR invalid_grant_operation THEN NULL;
             END $$;"
        ))
        .await?;
        db.execute_unprepared(&format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
            .await?;
        for (table, col) in TABLES {
            db.execute_unprepared(&enable_sql(table, col)).await?;
        }
        db.execute_unprepared(&format!(
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"
        ))
        .await?;
        // The signing keys are not tenant data; a tenant transaction may only read the public half.
        db.execute_unprepared(&format!(
            "GRANT SELECT (kid, public_key, created_at, retired_at) ON signing_keys TO {APP_ROLE}"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (table, _) in TABLES {
            db.execute_unprepared(&disable_sql(table)).await?;
        }
        db.execute_unprepared(&format!(
            "REVOKE ALL ON signing_keys FROM {APP_ROLE};
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
             REVOKE USAGE ON SCHEMA public FROM {APP_ROLE};"
        ))
        .await?;
        // The role itself is shared by every database of the cluster, so it stays.
        Ok(())
    }
}
