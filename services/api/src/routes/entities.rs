//! `/v1/blueprints/{bp}/entities`: every Port write mode, bulk with partial results, reads,
//! deletes with dependents.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use portolan_domain::entity::EntityInput;
use portolan_store::entities::{self, ReadOptions, WriteMode, WriteOptions, WriteRequest};
use serde_json::{Value, json};

use super::{envelope, ok, search};
use crate::access;
use crate::auth::Caller;
use crate::body::{JsonBody, QueryPairs};
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;
use crate::write_access::{self, PendingWrite};

/// Most identifiers one bulk delete may name (Port's limit).
const MAX_BULK_DELETE: usize = 100;

fn write_options(q: &QueryPairs, single_mode: Option<WriteMode>) -> Result<WriteOptions, ApiError> {
    let upsert = q.flag("upsert")?;
    let merge = q.flag("merge")?;
    let mode = match single_mode {
        Some(m) => m,
        None if upsert && merge => WriteMode::Merge,
        None if upsert => WriteMode::Replace,
        None if merge => {
            return Err(ApiError::InvalidParameter(
                "merge=true needs upsert=true".into(),
            ));
        }
        None => WriteMode::Create,
    };
    let run_id = q.get("run_id").map(str::to_owned);
    if run_id.as_ref().is_some_and(|r| r.len() > 100) {
        return Err(ApiError::InvalidParameter(
            "run_id must be at most 100 characters".into(),
        ));
    }
    Ok(WriteOptions {
        mode,
        validation_only: q.flag("validation_only")?,
        create_missing_related: q.flag("create_missing_related_entities")?,
        run_id,
    })
}

fn read_options(q: &QueryPairs) -> Result<ReadOptions, ApiError> {
    Ok(ReadOptions {
        include: q.list("include"),
        exclude: q.list("exclude"),
        attach_title_to_relation: q.flag("attach_title_to_relation")?,
    })
}

/// Writes one entity; answers like Port (201 created, 200 updated or validated). Queries
/// given for the identifier, team or relations are resolved first, in the same transaction.
async fn write_one(
    caller: &Caller,
    blueprint: &str,
    body: &Value,
    path_identifier: Option<&str>,
    opts: WriteOptions,
) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    let resolved =
        search::resolve_entity_queries(&t, caller, blueprint, body, &mut Default::default())
            .await?;
    let body = resolved.as_ref().unwrap_or(body);
    write_access::check_teams(&t, body).await?;
    let identifier = path_identifier.map(str::to_owned).or_else(|| {
        body.get("identifier")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let (_, mut refused) = write_access::check_writes(
        &t,
        caller,
        blueprint,
        opts.mode,
        vec![PendingWrite {
            index: 0,
            body,
            identifier,
        }],
    )
    .await?;
    if let Some((_, _, e)) = refused.pop() {
        return Err(e);
    }
    let input = match path_identifier {
        Some(id) => with_path_identifier(body, id)?,
        None => EntityInput::parse(body)?,
    };
    let (mut written, mut failed) = entities::write(
        &t,
        blueprint,
        vec![WriteRequest { index: 0, input }],
        &opts,
        &caller.actor,
    )
    .await?;
    if let Some(f) = failed.pop() {
        return Err(f.error.into());
    }
    let w = written
        .pop()
        .ok_or_else(|| ApiError::Internal("write returned nothing".into()))?;
    if opts.validation_only {
        return Ok(HttpResponse::Ok()
            .json(json!({"ok": true, "validationOnly": true, "entity": w.entity})));
    }
    t.commit().await?;
    let status = if w.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(envelope("entity", w.entity)))
}

/// Create or update an entity
///
/// No flag creates (409 if the identifier exists); `upsert=true` replaces the whole entity;
/// `upsert=true&merge=true` updates only what is sent; `validation_only=true` writes nothing;
/// `create_missing_related_entities=true` creates bare targets for dangling relations.
#[utoipa::path(tag = "Entities", security(("bearer" = [])), request_body = EntityBody,
    params(
        ("upsert" = Option<bool>, Query), ("merge" = Option<bool>, Query),
        ("validation_only" = Option<bool>, Query), ("create_missing_related_entities" = Option<bool>, Query),
        ("run_id" = Option<String>, Query)),
    responses((status = 201, body = EntityResponse), (status = 200, body = EntityResponse),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/blueprints/{blueprint}/entities")]
pub async fn create_entity(
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let opts = write_options(&q, None)?;
    write_one(&caller, &path, &body.0, None, opts).await
}

/// Create or update entities in bulk
///
/// Same flags as the single write. Each entity is validated on its own; the valid ones are
/// written in one transaction. 200 when all succeed, 207 with `errors` otherwise.
#[utoipa::path(tag = "Entities", security(("bearer" = [])), request_body = BulkBody,
    params(
        ("upsert" = Option<bool>, Query), ("merge" = Option<bool>, Query),
        ("validation_only" = Option<bool>, Query), ("create_missing_related_entities" = Option<bool>, Query),
        ("run_id" = Option<String>, Query)),
    responses((status = 200, body = BulkResponse), (status = 207, body = BulkResponse),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/blueprints/{blueprint}/entities/bulk")]
pub async fn bulk_entities(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let opts = write_options(&q, None)?;
    let max = state.config.bulk_max_entities;
    let items = match body.0.get("entities") {
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(ApiError::invalid(
                "/entities",
                "must hold at least one entity",
            ));
        }
        Some(Value::Array(a)) if a.len() > max => {
            return Err(ApiError::invalid(
                "/entities",
                format!("holds {} entities; at most {max} per request", a.len()),
            ));
        }
        Some(Value::Array(a)) => a,
        _ => {
            return Err(ApiError::invalid(
                "/entities",
                "'entities' is required and must be an array",
            ));
        }
    };
    let t = caller.tenant().await?;
    let mut errors = Vec::new();
    let mut lookups = search::Lookups::default();
    let mut bodies: Vec<(usize, Value)> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let resolved =
            match search::resolve_entity_queries(&t, &caller, &path, item, &mut lookups).await {
                Ok(r) => r,
                Err(e @ ApiError::Invalid(_)) => {
                    errors.push(bulk_error(index, None, e));
                    continue;
                }
                Err(e) => return Err(e),
            };
        bodies.push((index, resolved.unwrap_or_else(|| item.clone())));
    }
    let missing = write_access::missing_teams(&t, bodies.iter().map(|(_, b)| b)).await?;
    bodies.retain(
        |(index, body)| match write_access::team_error(body, &missing) {
            Some(e) => {
                errors.push(bulk_error(*index, identifier_of(body), e));
                false
            }
            None => true,
        },
    );
    let pending = bodies
        .iter()
        .map(|(index, body)| PendingWrite {
            index: *index,
            body,
            identifier: identifier_of(body),
        })
        .collect();
    let (allowed, refused) =
        write_access::check_writes(&t, &caller, &path, opts.mode, pending).await?;
    for (index, identifier, e) in refused {
        errors.push(bulk_error(index, identifier, e));
    }
    let mut reqs = Vec::with_capacity(allowed.len());
    for w in allowed {
        match EntityInput::parse(w.body) {
            Ok(input) => reqs.push(WriteRequest {
                index: w.index,
                input,
            }),
            Err(issues) => errors.push(bulk_error(
                w.index,
                identifier_of(w.body),
                ApiError::Invalid(issues),
            )),
        }
    }
    let (written, failed) = entities::write(&t, &path, reqs, &opts, &caller.actor).await?;
    if !opts.validation_only {
        t.commit().await?;
    }
    errors.extend(
        failed
            .into_iter()
            .map(|f| bulk_error(f.index, f.identifier, f.error.into())),
    );
    errors.sort_by_key(|e| e.index);
    let mut ok_items: Vec<BulkItem> = written
        .into_iter()
        .map(|w| BulkItem {
            index: w.index,
            identifier: w.identifier,
            created: w.created,
        })
        .collect();
    ok_items.sort_by_key(|i| i.index);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok(HttpResponse::build(status).json(BulkResponse {
        ok: errors.is_empty(),
        entities: ok_items,
        errors,
    }))
}

fn identifier_of(body: &Value) -> Option<String> {
    body.get("identifier")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn bulk_error(index: usize, identifier: Option<String>, e: ApiError) -> BulkError {
    let (status, code) = e.parts();
    BulkError {
        index,
        identifier,
        status_code: status.as_u16(),
        error: code.to_owned(),
        message: e.to_string(),
        details: e.details(),
    }
}

/// List a blueprint's entities
#[utoipa::path(tag = "Entities", security(("bearer" = [])),
    params(
        ("include" = Option<Vec<String>>, Query, description = "fields to keep, e.g. properties.language"),
        ("exclude" = Option<Vec<String>>, Query, description = "fields to drop"),
        ("attach_title_to_relation" = Option<bool>, Query),
        ("exclude_calculated_properties" = Option<bool>, Query)),
    responses((status = 200, body = EntitiesResponse), (status = 404, body = ErrorBody)))]
#[get("/blueprints/{blueprint}/entities")]
pub async fn list_entities(
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let opts = read_options(&q)?;
    q.flag("exclude_calculated_properties")?;
    let t = caller.tenant().await?;
    if caller.principal.moderates(&path) {
        return Ok(ok("entities", entities::list(&t, &path, &opts).await?));
    }
    let blueprints = portolan_store::search::blueprints(&t).await?;
    if !blueprints.contains_key(path.as_str()) {
        return Err(portolan_store::StoreError::not_found("blueprint", path.as_str()).into());
    }
    let scope = access::read_scope(&t, &caller, &blueprints, &[path.to_string()]).await?;
    let list = match (&scope.filter, scope.is_empty()) {
        (_, true) => vec![],
        (None, false) => entities::list(&t, &path, &opts).await?,
        (Some(filter), false) => {
            access::all_matching(&t, filter, &blueprints, &scope.candidates, &opts).await?
        }
    };
    Ok(ok("entities", list))
}

/// Get an entity
#[utoipa::path(tag = "Entities", security(("bearer" = [])),
    params(
        ("include" = Option<Vec<String>>, Query), ("exclude" = Option<Vec<String>>, Query),
        ("attach_title_to_relation" = Option<bool>, Query), ("exclude_calculated_properties" = Option<bool>, Query)),
    responses((status = 200, body = EntityResponse), (status = 404, body = ErrorBody)))]
#[get("/blueprints/{blueprint}/entities/{identifier}")]
pub async fn get_entity(
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let opts = read_options(&q)?;
    q.flag("exclude_calculated_properties")?;
    let t = caller.tenant().await?;
    if !caller.principal.moderates(&path.0) {
        let blueprints = portolan_store::search::blueprints(&t).await?;
        if !blueprints.contains_key(path.0.as_str()) {
            return Err(portolan_store::StoreError::not_found("blueprint", path.0.as_str()).into());
        }
        if !access::can_read_entity(&t, &caller, &blueprints, &path.0, &path.1).await? {
            return Err(portolan_store::StoreError::not_found("entity", path.1.as_str()).into());
        }
    }
    Ok(ok(
        "entity",
        entities::get(&t, &path.0, &path.1, &opts).await?,
    ))
}

fn with_path_identifier(body: &Value, id: &str) -> Result<EntityInput, ApiError> {
    let mut input = EntityInput::parse(body)?;
    match &input.identifier {
        Some(given) if given != id => {
            return Err(ApiError::invalid(
                "/identifier",
                "must equal the identifier in the path (or be left out)",
            ));
        }
        _ => input.identifier = Some(id.to_owned()),
    }
    Ok(input)
}

/// Replace an entity
///
/// Creates it when missing.
#[utoipa::path(tag = "Entities", security(("bearer" = [])), request_body = EntityBody,
    params(("validation_only" = Option<bool>, Query), ("create_missing_related_entities" = Option<bool>, Query), ("run_id" = Option<String>, Query)),
    responses((status = 200, body = EntityResponse), (status = 201, body = EntityResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/blueprints/{blueprint}/entities/{identifier}")]
pub async fn replace_entity(
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let opts = write_options(&q, Some(WriteMode::Replace))?;
    write_one(&caller, &path.0, &body.0, Some(&path.1), opts).await
}

/// Update an entity (merge)
///
/// Only the members sent change; a `null` property or relation clears it. 404 when missing.
#[utoipa::path(tag = "Entities", security(("bearer" = [])), request_body = EntityBody,
    params(("validation_only" = Option<bool>, Query), ("create_missing_related_entities" = Option<bool>, Query), ("run_id" = Option<String>, Query)),
    responses((status = 200, body = EntityResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{blueprint}/entities/{identifier}")]
pub async fn patch_entity(
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let opts = write_options(&q, Some(WriteMode::Patch))?;
    write_one(&caller, &path.0, &body.0, Some(&path.1), opts).await
}

/// Delete an entity
///
/// Refused with `has_dependents` while other entities hold a required relation to it, unless
/// `delete_dependents=true` (which deletes them too). Optional relations to it are cleared.
#[utoipa::path(tag = "Entities", security(("bearer" = [])),
    params(("delete_dependents" = Option<bool>, Query)),
    responses((status = 200, body = OkResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/blueprints/{blueprint}/entities/{identifier}")]
pub async fn delete_entity(
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let delete_dependents = q.flag("delete_dependents")?;
    let t = caller.tenant().await?;
    if delete_dependents {
        caller.require_moderator(&path.0)?;
    }
    write_access::check_unregister(&t, &caller, &path.0, &path.1).await?;
    let deleted = entities::delete(&t, &path.0, &path.1, delete_dependents, &caller.actor).await?;
    t.commit().await?;
    let deleted: Vec<Value> = deleted
        .into_iter()
        .map(|(b, i)| json!({"blueprint": b, "identifier": i}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"ok": true, "deletedEntities": deleted})))
}

/// Delete entities in bulk
///
/// 1 to 100 identifiers of one blueprint, all or nothing.
#[utoipa::path(tag = "Entities", security(("bearer" = [])), request_body = BulkDeleteBody,
    params(("delete_dependents" = Option<bool>, Query)),
    responses((status = 200, body = BulkDeleteResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/blueprints/{blueprint}/bulk/entities/delete")]
pub async fn bulk_delete_entities(
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let delete_dependents = q.flag("delete_dependents")?;
    let ids: Vec<String> = match body.0.get("entities") {
        Some(Value::Array(a)) if (1..=MAX_BULK_DELETE).contains(&a.len()) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::invalid(
                        &format!("/entities/{i}"),
                        "must be an entity identifier (string)",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(a)) => {
            return Err(ApiError::invalid(
                "/entities",
                format!(
                    "must hold 1 to {MAX_BULK_DELETE} identifiers, not {}",
                    a.len()
                ),
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "/entities",
                "'entities' is required and must be an array of identifiers",
            ));
        }
    };
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    let t = caller.tenant().await?;
    if delete_dependents {
        caller.require_moderator(&path)?;
    }
    for id in &unique {
        write_access::check_unregister(&t, &caller, &path, id).await?;
    }
    let deleted =
        entities::bulk_delete(&t, &path, &unique, delete_dependents, &caller.actor).await?;
    t.commit().await?;
    let deleted: Vec<String> = deleted
        .into_iter()
        .filter(|(b, _)| b == path.as_str())
        .map(|(_, i)| i)
        .collect();
    Ok(HttpResponse::Ok().json(json!({"ok": true, "deletedEntities": deleted})))
}
