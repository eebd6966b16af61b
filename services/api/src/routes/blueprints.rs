//! `/v1/blueprints`: definitions, renames, counts, permissions, and delete-all.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use portolan_domain::permission::parse_blueprint_patch;
use portolan_store::blueprints::Member;
use portolan_store::{blueprints, entities, identity, jobs};
use serde_json::{Value, json};

use super::{envelope, ok};
use crate::access;
use crate::auth::Caller;
use crate::body::{JsonBody, QueryPairs};
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

/// List blueprints
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = BlueprintsResponse), (status = 401, body = ErrorBody)))]
#[get("/blueprints")]
pub async fn list_blueprints(caller: Caller) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
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
    caller: Caller,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let dry_run = q.flag("dry_run")?;
    let t = caller.tenant().await?;
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
pub async fn get_blueprint(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
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
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_moderator(&path)?;
    let dry_run = q.flag("dry_run")?;
    let t = caller.tenant().await?;
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
    caller: Caller,
    path: Path<String>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_moderator(&path)?;
    let dry_run = q.flag("dry_run")?;
    let t = caller.tenant().await?;
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
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_moderator(&path)?;
    let t = caller.tenant().await?;
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
    caller: &Caller,
    path: &(String, String),
    q: &QueryPairs,
    body: &JsonBody,
    member: Member,
    field: &str,
) -> Result<HttpResponse, ApiError> {
    caller.require_moderator(&path.0)?;
    let to = string_member(&body.0, field)?;
    let dry_run = q.flag("dry_run")?;
    let t = caller.tenant().await?;
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
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    rename(
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
    caller: Caller,
    path: Path<(String, String)>,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    rename(
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
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_moderator(&path.0)?;
    string_member(&body.0, "newMirrorName")?;
    let t = caller.tenant().await?;
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
pub async fn entities_count(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    let n = if caller.principal.moderates(&path) {
        entities::count(&t, &path).await?
    } else {
        let all = portolan_store::search::blueprints(&t).await?;
        if !all.contains_key(path.as_str()) {
            return Err(portolan_store::StoreError::not_found("blueprint", path.as_str()).into());
        }
        let scope = access::read_scope(&t, &caller, &all, &[path.to_string()]).await?;
        match (&scope.filter, scope.is_empty()) {
            (_, true) => 0,
            (None, false) => entities::count(&t, &path).await?,
            (Some(filter), false) => {
                let everything = portolan_domain::query::Query {
                    combinator: portolan_domain::query::Combinator::And,
                    rules: vec![],
                };
                portolan_store::search::count(
                    &t,
                    &everything,
                    Some(filter),
                    &all,
                    &scope.candidates,
                )
                .await?
            }
        }
    };
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
    caller.require_moderator(&path)?;
    let and_blueprint = q.flag("delete_blueprint")?;
    let t = caller.tenant().await?;
    let m = jobs::create_delete_all(&t, &path, and_blueprint, &caller.actor).await?;
    t.commit().await?;
    state.store.notify_jobs();
    Ok(HttpResponse::Accepted().json(json!({"ok": true, "migrationId": m["id"], "migration": m})))
}

/// Get a blueprint's permissions
///
/// Port's shape: `{entities: {read, register, update, unregister, updateProperties,
/// updateRelations}}`, every property and relation listed with its effective grant. A
/// blueprint whose permissions were never set has the defaults: everyone reads, Admin and
/// `<blueprint>-moderator` write.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])),
    responses((status = 200, body = PermissionsResponse), (status = 404, body = ErrorBody)))]
#[get("/blueprints/{identifier}/permissions")]
pub async fn get_permissions(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    let all = portolan_store::search::blueprints(&t).await?;
    let bp = all
        .get(path.as_str())
        .ok_or_else(|| portolan_store::StoreError::not_found("blueprint", path.as_str()))?;
    let perms = identity::blueprint_permissions(&t, &path).await?;
    Ok(ok("permissions", perms.to_port(bp)))
}

/// Change a blueprint's permissions
///
/// Admin or `<blueprint>-moderator`. Each grant given replaces the members it names (`roles`,
/// `users`, `teams`, `ownedByTeam`, and for `read` a `policy`: a query over this blueprint
/// with `{context: user | userTeams}` values); `updateProperties.<key>: null` drops that
/// property's own grant. Named users and teams must exist. Answers the new permissions.
#[utoipa::path(tag = "Blueprints", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = PermissionsResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/blueprints/{identifier}/permissions")]
pub async fn patch_permissions(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_moderator(&path)?;
    let t = caller.tenant().await?;
    let all = portolan_store::search::blueprints(&t).await?;
    let bp = all
        .get(path.as_str())
        .ok_or_else(|| portolan_store::StoreError::not_found("blueprint", path.as_str()))?;
    let current = identity::blueprint_permissions(&t, &path).await?;
    let (mut next, refs) = parse_blueprint_patch(&current, &body.0, bp, &all)?;
    let mut issues = portolan_domain::Issues::default();
    for (pointer, email) in &refs.users {
        if identity::find_user(&t, email).await?.is_none() {
            issues.push(pointer.as_str(), format!("no user `{email}`"));
        }
    }
    let names: Vec<String> = refs.teams.iter().map(|(_, n)| n.clone()).collect();
    let missing = identity::unknown_teams(&t, &names).await?;
    for (pointer, name) in &refs.teams {
        if missing.contains(name) {
            issues.push(pointer.as_str(), format!("no team `{name}`"));
        }
    }
    issues.into_result(()).map_err(ApiError::Invalid)?;
    next.prune(bp);
    identity::set_blueprint_permissions(&t, &path, &current, &next, &caller.actor).await?;
    t.commit().await?;
    Ok(ok("permissions", next.to_port(bp)))
}
