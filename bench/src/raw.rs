//! The raw SQL baseline: the same rows written straight into `entities` and
//! `entity_relations`, one transaction per batch holding one multi-row
//! `INSERT ... ON CONFLICT DO UPDATE` and one multi-row `INSERT ... ON CONFLICT DO NOTHING`
//! (prepared, with bind parameters, as sea-orm's `insert_many` does). Optionally (profiling)
//! also one multi-row insert into `events` with a before/after diff like the API writes.

use std::fmt::Write as _;

use anyhow::Context;
use portolan_migrations::rls::{APP_ROLE, ORG_SETTING};
use portolan_store::Store;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value as SqlValue};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::data::{self, Row};

/// What the raw writer needs to know about its environment.
#[derive(Clone)]
pub struct RawWriter {
    pub store: Store,
    pub org: Uuid,
    pub by: String,
    pub version: i64,
    /// Run each transaction as the API's tenant role with the org setting (row-level
    /// security applies), exactly as the API's tenant transactions do.
    pub rls: bool,
    /// Also append one event per row (profiling: the database cost of the event log).
    pub events: bool,
}

fn json_value(v: Value) -> SqlValue {
    SqlValue::Json(Some(Box::new(v)))
}

fn placeholders(sql: &mut String, first: usize, n: usize) {
    sql.push('(');
    for k in 0..n {
        if k > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "${}", first + k);
    }
    sql.push(')');
}

impl RawWriter {
    fn entities_stmt(&self, rows: &[Row]) -> Statement {
        const COLS: usize = 12;
        let mut sql = String::with_capacity(512 + rows.len() * 100);
        sql.push_str(
            "INSERT INTO entities (org_id, blueprint, identifier, title, icon, team, properties, \
             relations, blueprint_version, created_by, updated_by, datasource, created_at, updated_at) VALUES ",
        );
        let mut values = Vec::with_capacity(rows.len() * COLS);
        for (n, r) in rows.iter().enumerate() {
            if n > 0 {
                sql.push_str(", ");
            }
            placeholders(&mut sql, n * COLS + 1, COLS);
            sql.truncate(sql.len() - 1);
            sql.push_str(", now(), now())");
            values.extend([
                SqlValue::from(self.org),
                data::SERVICE.into(),
                r.identifier.clone().into(),
                r.title.clone().into(),
                SqlValue::String(None),
                json_value(json!([])),
                json_value(r.properties.clone()),
                json_value(r.relations()),
                self.version.into(),
                self.by.clone().into(),
                self.by.clone().into(),
                SqlValue::String(None),
            ]);
        }
        sql.push_str(
            " ON CONFLICT (org_id, blueprint, identifier) DO UPDATE SET \
             title = EXCLUDED.title, icon = EXCLUDED.icon, team = EXCLUDED.team, \
             properties = EXCLUDED.properties, relations = EXCLUDED.relations, \
             blueprint_version = EXCLUDED.blueprint_version, updated_at = EXCLUDED.updated_at, \
             updated_by = EXCLUDED.updated_by, datasource = EXCLUDED.datasource",
        );
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    fn relations_stmt(&self, rows: &[Row]) -> Statement {
        const COLS: usize = 7;
        let mut sql = String::with_capacity(256 + rows.len() * 2 * 40);
        sql.push_str(
            "INSERT INTO entity_relations (org_id, source_blueprint, source_identifier, relation, \
             target_blueprint, target_identifier, required) VALUES ",
        );
        let mut values = Vec::with_capacity(rows.len() * 2 * COLS);
        let mut n = 0;
        for r in rows {
            for (rel, target_bp, target, required) in [
                ("owner", data::TEAM, &r.owner, true),
                ("domain", data::DOMAIN, &r.domain, false),
            ] {
                if n > 0 {
                    sql.push_str(", ");
                }
                placeholders(&mut sql, n * COLS + 1, COLS);
                values.extend([
                    SqlValue::from(self.org),
                    data::SERVICE.into(),
                    r.identifier.clone().into(),
                    rel.into(),
                    target_bp.into(),
                    target.clone().into(),
                    required.into(),
                ]);
                n += 1;
            }
        }
        sql.push_str(
            " ON CONFLICT (org_id, source_blueprint, source_identifier, relation, target_identifier) DO NOTHING",
        );
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    /// An entity as the API shows it (the shape of an event's before/after).
    fn entity_json(&self, r: &Row) -> Value {
        json!({
            "identifier": r.identifier, "title": r.title, "icon": null,
            "blueprint": data::SERVICE, "team": [],
            "properties": r.properties, "relations": r.relations(),
            "createdAt": "2026-01-01T00:00:00.000Z", "createdBy": self.by,
            "updatedAt": "2026-01-01T00:00:00.000Z", "updatedBy": self.by,
        })
    }

    fn events_stmt(&self, rows: &[Row], before: Option<&[Row]>) -> Statement {
        const COLS: usize = 8;
        let mut sql = String::with_capacity(512 + rows.len() * 80);
        sql.push_str(
            "INSERT INTO events (id, org_id, type, action, resource_id, actor, context, diff, \
             resource_type, blueprint, origin, run_id, occurred_at, status, message, published_at) VALUES ",
        );
        let actor = json!({"by": self.by, "origin": "API"});
        let mut values = Vec::with_capacity(rows.len() * COLS);
        for (n, r) in rows.iter().enumerate() {
            if n > 0 {
                sql.push_str(", ");
            }
            placeholders(&mut sql, n * COLS + 1, COLS);
            sql.truncate(sql.len() - 1);
            sql.push_str(", 'entity', 'service', 'API', NULL, now(), 'SUCCESS', NULL, NULL)");
            let prev = before.and_then(|b| b.get(n)).map(|b| self.entity_json(b));
            let (ty, action) = if prev.is_some() {
                ("entity.updated", "UPDATE")
            } else {
                ("entity.created", "CREATE")
            };
            values.extend([
                SqlValue::from(Uuid::now_v7()),
                self.org.into(),
                ty.into(),
                action.into(),
                r.identifier.clone().into(),
                json_value(actor.clone()),
                json_value(
                    json!({"blueprintIdentifier": data::SERVICE, "entityIdentifier": r.identifier}),
                ),
                json_value(json!({"before": prev, "after": self.entity_json(r)})),
            ]);
        }
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    /// Writes one batch in one transaction. `before` (same order as `rows`) are the
    /// previous revisions, only used for the events' diffs.
    pub async fn write_batch(&self, rows: &[Row], before: Option<&[Row]>) -> anyhow::Result<()> {
        let tx = self
            .store
            .connection()
            .begin()
            .await
            .context("cannot begin")?;
        if self.rls {
            tx.execute_unprepared(&format!(
                "SET LOCAL ROLE {APP_ROLE}; SELECT set_config('{ORG_SETTING}', '{}', true)",
                self.org
            ))
            .await
            .context("cannot switch to the tenant role")?;
        }
        tx.execute_raw(self.entities_stmt(rows))
            .await
            .context("raw entities insert failed")?;
        tx.execute_raw(self.relations_stmt(rows))
            .await
            .context("raw relations insert failed")?;
        if self.events {
            tx.execute_raw(self.events_stmt(rows, before))
                .await
                .context("raw events insert failed")?;
        }
        tx.commit().await.context("cannot commit")?;
        Ok(())
    }
}
