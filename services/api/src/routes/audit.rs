//! `GET /v1/audit-log`: the event log, filtered as Port does, newest first, cursor-paged.

use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use portolan_store::events::{self, AuditQuery};
use serde_json::json;

use crate::access;
use crate::auth::Caller;
use crate::body::QueryPairs;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;

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
pub async fn audit_log(caller: Caller, q: QueryPairs) -> Result<HttpResponse, ApiError> {
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
        .is_some_and(|a| !["CREATE", "UPDATE", "DELETE", "LOGIN"].contains(&a))
    {
        return Err(ApiError::InvalidParameter(
            "'action' must be CREATE, UPDATE, DELETE or LOGIN".into(),
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
    let t = caller.tenant().await?;
    let (audits, next) = if caller.principal.is_admin() {
        events::audit_log(&t, &query).await?
    } else {
        member_audit_log(&t, &caller, query).await?
    };
    Ok(HttpResponse::Ok()
        .json(json!({"ok": true, "audits": audits, "next": next.map(|n| n.to_string())})))
}

/// What a non-Admin sees of the audit log: blueprint records, and entity records of entities
/// it may read now (a blueprint it reads only in part is checked entity by entity, in one
/// query per blueprint per page). Sign-ins, credentials, users, teams, permissions, secrets
/// and migrations are for Admins.
async fn member_audit_log(
    t: &portolan_store::Tenant,
    caller: &Caller,
    mut query: AuditQuery,
) -> Result<(Vec<serde_json::Value>, Option<i64>), ApiError> {
    use portolan_domain::query::{self, ParseScope};
    const MEMBER_RESOURCES: [&str; 2] = ["entity", "blueprint"];
    query.resources = if query.resources.is_empty() {
        MEMBER_RESOURCES.iter().map(|r| (*r).to_owned()).collect()
    } else {
        query
            .resources
            .into_iter()
            .filter(|r| MEMBER_RESOURCES.contains(&r.as_str()))
            .collect()
    };
    if query.resources.is_empty() {
        return Ok((vec![], None));
    }
    let (records, next) = events::audit_log(t, &query).await?;
    let blueprints = portolan_store::search::blueprints(t).await?;
    // Entity identifiers per blueprint on this page.
    let mut by_bp: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in &records {
        if r["resourceType"] == "entity"
            && let (Some(bp), Some(id)) = (
                r["context"]["blueprintIdentifier"].as_str(),
                r["context"]["entityIdentifier"].as_str(),
            )
        {
            by_bp.entry(bp.to_owned()).or_default().push(id.to_owned());
        }
    }
    let mut readable: std::collections::HashSet<(String, String)> = Default::default();
    for (bp, ids) in &by_bp {
        if !blueprints.contains_key(bp) {
            continue;
        }
        let scope = access::read_scope(t, caller, &blueprints, std::slice::from_ref(bp)).await?;
        if scope.is_empty() {
            continue;
        }
        let Some(filter) = &scope.filter else {
            readable.extend(ids.iter().map(|i| (bp.clone(), i.clone())));
            continue;
        };
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        let raw = json!({"combinator": "and", "rules": [
            {"property": "$identifier", "operator": "in", "value": unique}]});
        let Ok(parsed) = query::parse(
            &raw,
            &ParseScope {
                blueprints: &blueprints,
                blueprint: Some(bp),
                pointer: "",
            },
        ) else {
            continue;
        };
        let mut matched = Vec::new();
        let mut after = None;
        loop {
            let page = portolan_store::search::search(
                t,
                &portolan_store::search::SearchRequest {
                    query: &parsed.query,
                    filter: Some(filter),
                    blueprints: &blueprints,
                    candidates: &scope.candidates,
                    sort: None,
                    after,
                    limit: 1000,
                    read: &portolan_store::entities::ReadOptions {
                        include: vec!["identifier".into()],
                        ..Default::default()
                    },
                },
            )
            .await?;
            matched.extend(page.entities);
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        readable.extend(
            matched
                .iter()
                .filter_map(|e| e["identifier"].as_str())
                .map(|i| (bp.clone(), i.to_owned())),
        );
    }
    let visible = records
        .into_iter()
        .filter(|r| {
            r["resourceType"] != "entity"
                || match (
                    r["context"]["blueprintIdentifier"].as_str(),
                    r["context"]["entityIdentifier"].as_str(),
                ) {
                    (Some(bp), Some(id)) => readable.contains(&(bp.to_owned(), id.to_owned())),
                    _ => false,
                }
        })
        .collect();
    Ok((visible, next))
}
