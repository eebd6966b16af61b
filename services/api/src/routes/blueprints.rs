//! `/v1/blueprints`: definitions, renames, counts, permissions, and delete-all.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use portolan_store::blueprints::Member;
use portolan_store::{blueprints, entities, jobs};
use serde_json::{Value, json};

use super::{envelope, ok};
use crate::auth::Caller;
use crate::body::{JsonBody, QueryPairs};
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

/// List blueprints
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = BlueprintsResponse), (status = 401, body = ErrorBody)))]
#[get("/blueprints")]
pub async fn list_blueprints(
    state: Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    let list = blueprints::list(&t).await?;
    Ok(ok("blueprints", list))
}

/// Create a blueprint
///
/// `dry_run=true` validates and answers without writing.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = BlueprintBody,
    params(("dry_run" = Option<bool>, Query, description = "validate only")),
    responses((status = 201, body = BlueprintResponse), (status = 200, description = "dry run", body = BlueprintResponse),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/blueprints")]
pub async fn create_blueprint(
    state: Data<AppState>,
    caller: Caller,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let dry_run = q.flag("dry_run")?;
    let t = state.store.tenant(caller.org).await?;
    let bp = blueprints::create(&t, &body.0, dry_run, &caller.actor).await?;
    if dry_run {
        return Ok(HttpResponse::Ok().json(json!({"ok": true, "dryRun": true, "blueprint": bp})));
    }
    t.commit().await?;
    Ok(HttpResponse::Created().json(envelope("blueprint", bp)))
}

/// Get a blueprint
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = BlueprintResponse), (status = 404, body = ErrorBody)))]
#[get("/blueprints/{identifier}")]
pub async fn get_blueprint(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    Ok(ok("blueprint", blueprints::get(&t, &path).await?))
}

fn change_response(out: blueprints::UpdateOutcome) -> HttpResponse {
    if out.dry_run {
        HttpResponse::Ok().json(
            json!({"ok": true, "dryRun": true, "blueprint": out.blueprint, "impact": out.impact}),
        )
    } else {
        HttpResponse::Ok().json(json!({"ok": true, "blueprint": out.blueprint}))
    }
}

/// Replace a blueprint
///
/// Refused with 422 and the offending entities when the new definition would make stored
/// entities invalid; `dry_run=true` reports the impact of any change without writing.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = BlueprintBody,
    params(("dry_run" = Option<bool>, Query, description = "report the impact, write nothing")),
    responses((status = 200, body = BlueprintChangeResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/blueprints/{identifier}")]
pub async fn replace_blueprint(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let dry_run = q.flag("dry_run")?;
    let t = state.store.tenant(caller.org).await?;
    let out = blueprints::replace(&t, &path, &body.0, dry_run, &caller.actor).await?;
    if !dry_run {
        t.commit().await?;
    }
    Ok(change_response(out))
}

/// Update a blueprint (merge)
///
/// The body is merged onto the stored definition (JSON merge patch: `null` removes a member).
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = Object,
    params(("dry_run" = Option<bool>, Query, description = "report the impact, write nothing")),
    responses((status = 200, body = BlueprintChangeResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{identifier}")]
pub async fn patch_blueprint(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let dry_run = q.flag("dry_run")?;
    let t = state.store.tenant(caller.org).await?;
    let out = blueprints::patch(&t, &path, &body.0, dry_run, &caller.actor).await?;
    if !dry_run {
        t.commit().await?;
    }
    Ok(change_response(out))
}

/// Delete a blueprint
///
/// Fails with `has_dependents` while it holds entities or other blueprints relate to it.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = OkResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/blueprints/{identifier}")]
pub async fn delete_blueprint(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    blueprints::delete(&t, &path, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}

fn string_member(body: &Value, key: &str) -> Result<String, ApiError> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::invalid(
                &format!("/{key}"),
                format!("'{key}' is required and must be a string"),
            )
        })
}

async fn rename(
    state: &AppState,
    caller: &Caller,
    path: &(String, String),
    q: &QueryPairs,
    body: &JsonBody,
    member: Member,
    field: &str,
) -> Result<HttpResponse, ApiError> {
    let to = string_member(&body.0, field)?;
    let dry_run = q.flag("dry_run")?;
    let t = state.store.tenant(caller.org).await?;
    let out = blueprints::rename(&t, &path.0, member, &path.1, &to, dry_run, &caller.actor).await?;
    if !dry_run {
        t.commit().await?;
    }
    Ok(change_response(out))
}

/// Rename a property
///
/// Every entity's value moves to the new name.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = RenamePropertyBody,
    params(("dry_run" = Option<bool>, Query, description = "report the impact, write nothing")),
    responses((status = 200, body = BlueprintChangeResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{identifier}/properties/{property}/rename")]
pub async fn rename_property(
    state: Data<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    rename(
        &state,
        &caller,
        &path,
        &q,
        &body,
        Member::Property,
        "newPropertyName",
    )
    .await
}

/// Rename a relation
///
/// Every entity's relation value moves to the new identifier.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = RenameRelationBody,
    params(("dry_run" = Option<bool>, Query, description = "report the impact, write nothing")),
    responses((status = 200, body = BlueprintChangeResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{identifier}/relations/{relation}/rename")]
pub async fn rename_relation(
    state: Data<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    rename(
        &state,
        &caller,
        &path,
        &q,
        &body,
        Member::Relation,
        "newRelationIdentifier",
    )
    .await
}

/// Rename a mirror property
///
/// Mirror properties are not supported yet (a blueprint that declares one is refused), so
/// every mirror is unknown: 404.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = RenameMirrorBody,
    responses((status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{identifier}/mirror/{mirror}/rename")]
pub async fn rename_mirror(
    state: Data<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    string_member(&body.0, "newMirrorName")?;
    let t = state.store.tenant(caller.org).await?;
    blueprints::get(&t, &path.0).await?;
    Err(ApiError::NotFound {
        resource: "mirror property",
        identifier: path.1.clone(),
    })
}

/// Count a blueprint's entities
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = CountResponse), (status = 404, body = ErrorBody)))]
#[get("/blueprints/{identifier}/entities-count")]
pub async fn entities_count(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    let n = entities::count(&t, &path).await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true, "count": n})))
}

/// Delete every entity of a blueprint (async)
///
/// Answers 202 with a migration id at once; poll `GET /v1/migrations/{id}`. With
/// `delete_blueprint=true` the blueprint is deleted when its entities are gone.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    params(("delete_blueprint" = Option<bool>, Query, description = "also delete the blueprint")),
    responses((status = 202, body = MigrationIdResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/blueprints/{identifier}/all-entities")]
pub async fn delete_all_entities(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let and_blueprint = q.flag("delete_blueprint")?;
    let t = state.store.tenant(caller.org).await?;
    let m = jobs::create_delete_all(&t, &path, and_blueprint, &caller.actor).await?;
    t.commit().await?;
    state.store.notify_jobs();
    Ok(HttpResponse::Accepted().json(json!({"ok": true, "migrationId": m["id"], "migration": m})))
}

/// Get a blueprint's permissions
///
/// Until fine-grained roles land, the effective permissions are: the org's Admin role (which
/// every credential holds) and `<blueprint>-moderator` may do everything.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = PermissionsResponse), (status = 404, body = ErrorBody)))]
#[get("/blueprints/{identifier}/permissions")]
pub async fn get_permissions(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    let bp = blueprints::get(&t, &path).await?;
    let roles = json!(["Admin", format!("{}-moderator", path.as_str())]);
    let everyone = json!({"roles": roles, "users": [], "teams": [], "ownedByTeam": false});
    let per_key = |key: &str| -> Value {
        bp.pointer(key)
            .and_then(Value::as_object)
            .map(|o| {
                o.keys()
                    .map(|k| (k.clone(), everyone.clone()))
                    .collect::<serde_json::Map<_, _>>()
            })
            .map_or(json!({}), Value::Object)
    };
    let permissions = json!({
        "entities": {
            "read": {"roles": ["Admin", "Member", format!("{}-moderator", path.as_str())], "users": [], "teams": [], "ownedByTeam": false},
            "register": everyone,
            "update": everyone,
            "unregister": everyone,
            "updateProperties": per_key("/schema/properties"),
            "updateRelations": per_key("/relations"),
        }
    });
    Ok(ok("permissions", permissions))
}

/// Change a blueprint's permissions
///
/// Not configurable yet: refused with 422 until per-blueprint RBAC lands.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = Object,
    responses((status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{identifier}/permissions")]
pub async fn patch_permissions(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
    _body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    blueprints::get(&t, &path).await?;
    Err(ApiError::invalid(
        "",
        "blueprint permissions are not configurable yet: every credential of the org is an Admin",
    ))
}
