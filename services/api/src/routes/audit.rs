//! `GET /v1/audit-log`: the event log, filtered as Port does, newest first, cursor-paged.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use portolan_store::events::{self, AuditQuery};
use serde_json::json;

use crate::auth::Caller;
use crate::body::QueryPairs;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

fn date(q: &QueryPairs, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    q.get(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::InvalidParameter(format!(
                        "'{name}' must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// Read the audit log
///
/// Filters: `identifier`, `entity`, `blueprint`, `run_id`, `webhookId`, `webhookEventId`,
/// `origin`, `resources` (blueprint, entity, migration, credential, organization), `action`
/// (CREATE, UPDATE, DELETE), `status`, `from`, `to`, `limit` (1-1000, default 100). Pass
/// `next` back as `cursor` for the following page.
#[utoipa::path(tag = "Audit", security(("bearer" = [])),
    params(
        ("identifier" = Option<String>, Query), ("entity" = Option<String>, Query), ("blueprint" = Option<String>, Query),
        ("run_id" = Option<String>, Query), ("webhookId" = Option<String>, Query), ("webhookEventId" = Option<String>, Query),
        ("origin" = Option<Vec<String>>, Query), ("resources" = Option<Vec<String>>, Query),
        ("action" = Option<String>, Query), ("status" = Option<String>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query),
        ("limit" = Option<u64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AuditResponse), (status = 422, body = ErrorBody)))]
#[get("/audit-log")]
pub async fn audit_log(
    state: Data<AppState>,
    caller: Caller,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "'limit' must be an integer from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let action = q.get("action").map(str::to_ascii_uppercase);
    if action
        .as_deref()
        .is_some_and(|a| !["CREATE", "UPDATE", "DELETE"].contains(&a))
    {
        return Err(ApiError::InvalidParameter(
            "'action' must be CREATE, UPDATE or DELETE".into(),
        ));
    }
    let before_seq = q
        .get("cursor")
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::InvalidParameter("'cursor' is not a cursor this API gave".into())
            })
        })
        .transpose()?;
    // Webhook deliveries do not exist before ingestion lands: those filters match nothing.
    if q.get("webhookId").is_some() || q.get("webhookEventId").is_some() {
        return Ok(HttpResponse::Ok().json(json!({"ok": true, "audits": [], "next": null})));
    }
    let query = AuditQuery {
        identifier: q.get("identifier").map(str::to_owned),
        entity: q.get("entity").map(str::to_owned),
        blueprint: q.get("blueprint").map(str::to_owned),
        run_id: q.get("run_id").map(str::to_owned),
        origin: q.list("origin"),
        resources: q.list("resources"),
        action,
        status: q.get("status").map(str::to_ascii_uppercase),
        from: date(&q, "from")?,
        to: date(&q, "to")?,
        limit,
        before_seq,
    };
    let t = state.store.tenant(caller.org).await?;
    let (audits, next) = events::audit_log(&t, &query).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"ok": true, "audits": audits, "next": next.map(|n| n.to_string())})))
}
