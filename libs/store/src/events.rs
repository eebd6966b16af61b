//! The append-only event log. Every mutation appends its events in the same transaction as
//! the change; the log is both the audit log and the outbox the relay publishes from.

use chrono::{DateTime, Utc};
use portolan_domain::OrgId;
use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::models::event;
use crate::{StoreError, Tenant};

/// One event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub resource_type: ResourceType,
    pub action: Action,
    /// The identifier of the changed resource (entity, blueprint, migration, credential).
    pub resource_id: String,
    pub blueprint: Option<String>,
    pub context: Value,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub run_id: Option<String>,
}

/// `{"before": ..., "after": ...}` as text, serialized once.
fn diff_text(before: Option<&Value>, after: Option<&Value>) -> String {
    #[derive(serde::Serialize)]
    struct Diff<'a> {
        before: Option<&'a Value>,
        after: Option<&'a Value>,
    }
    serde_json::to_string(&Diff { before, after }).unwrap_or_else(|_| "{}".to_owned())
}

const EVENT_COLUMNS: &[&str] = &[
    "id",
    "org_id",
    "type",
    "resource_type",
    "action",
    "resource_id",
    "blueprint",
    "origin",
    "run_id",
    "actor",
    "occurred_at",
    "context",
    "diff",
    "status",
    "message",
    "published_at",
];

/// Appends `events` for `org`, in order, inside the caller's transaction.
pub(crate) async fn append<C: ConnectionTrait>(
    conn: &C,
    org: OrgId,
    actor: &Actor,
    events: Vec<NewEvent>,
) -> Result<(), StoreError> {
    append_with_status(conn, org, actor, events, "SUCCESS", None).await
}

/// [`append`] with the records' `status` (`SUCCESS`, `FAILURE`) and `message`.
pub(crate) async fn append_with_status<C: ConnectionTrait>(
    conn: &C,
    org: OrgId,
    actor: &Actor,
    events: Vec<NewEvent>,
    status: &str,
    message: Option<&str>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let actor_json =
        serde_json::to_string(actor).map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        let row: Vec<sea_orm::Value> = vec![
            Uuid::now_v7().into(),
            org.0.into(),
            e.resource_type.event_type(e.action).into(),
            e.resource_type.as_str().into(),
            e.action.as_str().into(),
            e.resource_id.into(),
            e.blueprint.into(),
            actor.origin.as_str().into(),
            e.run_id.into(),
            actor_json.as_str().into(),
            now.into(),
            e.context.to_string().into(),
            diff_text(e.before.as_ref(), e.after.as_ref()).into(),
            status.into(),
            message.map(str::to_owned).into(),
            Option::<chrono::DateTime<Utc>>::None.into(),
        ];
        rows.push(row);
    }
    crate::sql::insert_rows(conn, "events", EVENT_COLUMNS, rows, "").await?;
    Ok(())
}

/// Filters of `GET /v1/audit-log` (Port's names), plus a cursor for paging.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub identifier: Option<String>,
    pub entity: Option<String>,
    pub blueprint: Option<String>,
    pub run_id: Option<String>,
    pub origin: Vec<String>,
    pub resources: Vec<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u64,
    /// Return only events older than this sequence number (the `next` of the previous page).
    pub before_seq: Option<i64>,
}

/// A page of audit records, newest first, and the cursor of the next page.
pub async fn audit_log(
    t: &Tenant,
    q: &AuditQuery,
) -> Result<(Vec<Value>, Option<i64>), StoreError> {
    let mut sel = event::Entity::find().filter(event::Column::OrgId.eq(t.org().0));
    if let Some(id) = &q.identifier {
        sel = sel.filter(event::Column::ResourceId.eq(id.as_str()));
    }
    if let Some(id) = &q.entity {
        sel = sel
            .filter(event::Column::ResourceId.eq(id.as_str()))
            .filter(event::Column::ResourceType.eq(ResourceType::Entity.as_str()));
    }
    if let Some(bp) = &q.blueprint {
        sel = sel.filter(event::Column::Blueprint.eq(bp.as_str()));
    }
    if let Some(run) = &q.run_id {
        sel = sel.filter(event::Column::RunId.eq(run.as_str()));
    }
    if !q.origin.is_empty() {
        sel = sel.filter(event::Column::Origin.is_in(q.origin.iter().map(String::as_str)));
    }
    if !q.resources.is_empty() {
        sel = sel.filter(event::Column::ResourceType.is_in(q.resources.iter().map(String::as_str)));
    }
    if let Some(a) = &q.action {
        sel = sel.filter(event::Column::Action.eq(a.as_str()));
    }
    if let Some(s) = &q.status {
        sel = sel.filter(event::Column::Status.eq(s.as_str()));
    }
    if let Some(from) = q.from {
        sel = sel.filter(event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = q.to {
        sel = sel.filter(event::Column::OccurredAt.lte(to));
    }
    if let Some(seq) = q.before_seq {
        sel = sel.filter(Expr::col(event::Column::Seq).lt(seq));
    }
    let limit = q.limit.clamp(1, 1000);
    let rows = sel
        .order_by_desc(event::Column::Seq)
        .limit(limit + 1)
        .all(t.conn())
        .await?;
    let has_more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if has_more {
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    Ok((rows.iter().map(audit_record).collect(), next))
}

/// Port's audit record shape.
pub fn audit_record(e: &event::Model) -> Value {
    json!({
        "identifier": e.id.to_string(),
        "seq": e.seq,
        "type": e.r#type,
        "action": e.action,
        "resourceType": e.resource_type,
        "trigger": {
            "by": {"orgId": e.org_id.to_string(), "userId": e.actor_json().get("by")},
            "origin": e.origin,
            "at": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "context": e.context_json(),
        "diff": e.diff_json(),
        "status": e.status,
        "message": e.message,
    })
}

/// Every event of an org in log order (tests and the relay use this).
pub async fn all_for_org(t: &Tenant) -> Result<Vec<event::Model>, StoreError> {
    Ok(event::Entity::find()
        .filter(event::Column::OrgId.eq(t.org().0))
        .order_by_asc(event::Column::Seq)
        .all(t.conn())
        .await?)
}
