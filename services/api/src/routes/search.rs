//! Search: `POST /v1/blueprints/{bp}/entities/search`, `POST /v1/entities/search` and
//! `POST /v1/entities/aggregate`, plus the query lookups of entity writes.
//!
//! A query is parsed against the org's blueprints (422 with the rule's pointer for anything
//! wrong), bound to the caller and the moment (context values, date presets), compiled to SQL
//! by the store and run in the caller's tenant transaction.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::post;
use actix_web::web::Path;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::query::{self, Kind, Meta, ParseScope, Parsed, QueryContext};
use portolan_store::entities::ReadOptions;
use portolan_store::search::{self as store_search, Func, Position, SearchRequest, Sort, SortKey};
use portolan_store::{Plans, Tenant};
use serde_json::{Value, json};

use crate::access;
use crate::auth::Caller;
use crate::body::{JsonBody, QueryPairs};
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;

/// Default page size of the blueprint search (Port's).
const DEFAULT_LIMIT: u64 = 200;
/// Largest page.
const MAX_LIMIT: u64 = 1000;
/// `POST /v1/entities/search` without `limit` answers every match, up to this many; above
/// it, the request is refused with a hint to page (never a silently truncated answer).
pub const MAX_UNPAGED: u64 = 10_000;

/// Parses `q` against `blueprints` and binds it to the caller (`ctx`: its user and teams, and
/// "now").
fn parse_query(
    q: &Value,
    blueprints: &IndexMap<String, Blueprint>,
    blueprint: Option<&str>,
    pointer: &str,
    ctx: &QueryContext,
) -> Result<Parsed, ApiError> {
    let parsed = query::parse(
        q,
        &ParseScope {
            blueprints,
            blueprint,
            pointer,
        },
    )?;
    Ok(Parsed {
        query: query::bind(&parsed.query, ctx),
        blueprints: parsed.blueprints,
    })
}

/// How to plan the tenant transaction of a request, guessed from its path and body before they
/// are parsed (the `Caller` extractor opens the transaction first; the body has arrived by
/// then). A plain page of `POST /blueprints/{bp}/entities/search` (no `include`, `exclude`,
/// relation titles or `sort`) whose query only walks from one entity, names one identifier or
/// has no rules is planned once per connection ([`Plans::Once`]): the store would switch to
/// that for its page anyway ([`store_search::plan_stable`]), at the cost of a round trip. The
/// store decides again on the parsed query and the caller's read filter, and switches back
/// when the guess was wrong: a guess costs a round trip at worst, never an answer.
pub(crate) fn plans_for(pattern: Option<&str>, body: &Value) -> Plans {
    let search = pattern.is_some_and(|p| p.ends_with("/blueprints/{blueprint}/entities/search"));
    let Some(b) = body.as_object().filter(|_| search) else {
        return Plans::WithValues;
    };
    let unset = |k: &str| match b.get(k) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    let plain = ["include", "exclude", "attach_title_to_relation", "sort"]
        .iter()
        .all(|k| unset(k));
    let stable = match b.get("query") {
        None | Some(Value::Null) => true,
        Some(q) => walks_only(q, 0),
    };
    if plain && stable {
        Plans::Once
    } else {
        Plans::WithValues
    }
}

/// Does query `q` only have rules that start from a handful of rows whatever their values
/// (as [`store_search::plan_stable`] says of the parsed query)? Read off the JSON, without
/// the blueprints; nesting deeper than the parser allows ([`query::MAX_DEPTH`]) is answered
/// no.
fn walks_only(q: &Value, depth: usize) -> bool {
    let Some(rules) = q.get("rules").and_then(Value::as_array) else {
        return false;
    };
    depth <= query::MAX_DEPTH
        && rules.iter().all(|r| {
            if r.get("rules").is_some() {
                return walks_only(r, depth + 1);
            }
            let one = match r.get("value") {
                Some(Value::String(_)) => true,
                Some(Value::Array(a)) => a.len() <= 1 && a.iter().all(Value::is_string),
                _ => false,
            };
            let identifier = r.get("property").and_then(Value::as_str) == Some("$identifier");
            match r.get("operator").and_then(Value::as_str) {
                Some("relatedTo" | "matchAny") => one,
                Some("=" | "in") => identifier && one,
                _ => false,
            }
        })
}

/// A 64-bit FNV-1a hash: ties a cursor to the query and sort it was made for.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn encode_cursor(pos: &Position, fp: u64) -> String {
    let v = json!({"p": pos, "h": format!("{fp:016x}")});
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn decode_cursor(s: &str, fp: u64, pointer: &str) -> Result<Position, ApiError> {
    let bad = || ApiError::invalid(pointer, "is not a cursor this search returned");
    let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if v.get("h").and_then(Value::as_str) != Some(format!("{fp:016x}").as_str()) {
        return Err(ApiError::invalid(
            pointer,
            "this cursor belongs to a different query or sort; start again without `from`",
        ));
    }
    serde_json::from_value(v.get("p").cloned().unwrap_or(Value::Null)).map_err(|_| bad())
}

/// `sort: {property, order}`: a meta-property (not `$team`) or a string, number or date
/// property of the candidate blueprints.
fn parse_sort(
    v: Option<&Value>,
    blueprints: &IndexMap<String, Blueprint>,
    candidates: &[String],
) -> Result<Option<Sort>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(o) = v.as_object() else {
        return Err(ApiError::invalid("/sort", "must be {property, order}"));
    };
    for k in o.keys() {
        if k != "property" && k != "order" {
            return Err(ApiError::invalid(
                &format!("/sort/{k}"),
                "unknown member; sort takes {property, order}",
            ));
        }
    }
    let descending = match o.get("order").and_then(Value::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "/sort/order",
                "must be \"asc\" or \"desc\"",
            ));
        }
    };
    let Some(name) = o.get("property").and_then(Value::as_str) else {
        return Err(ApiError::invalid(
            "/sort/property",
            "is required (a property or meta-property)",
        ));
    };
    if let Some(meta) = Meta::from_name(name) {
        if meta == Meta::Team {
            return Err(ApiError::invalid(
                "/sort/property",
                "cannot sort by $team (an array)",
            ));
        }
        return Ok(Some(Sort {
            key: SortKey::Meta(meta),
            descending,
        }));
    }
    let mut kind: Option<Kind> = None;
    for bp in candidates.iter().filter_map(|b| blueprints.get(b)) {
        if let Some(k) = bp.properties.get(name).and_then(query::index::kind_of) {
            if kind.is_some_and(|prev| prev != k) {
                return Err(ApiError::invalid(
                    "/sort/property",
                    format!("`{name}` has different types in the searched blueprints"),
                ));
            }
            kind = Some(k);
        }
    }
    match kind {
        Some(k @ (Kind::String | Kind::Number | Kind::Date)) => Ok(Some(Sort {
            key: SortKey::Property {
                key: name.to_owned(),
                kind: k,
            },
            descending,
        })),
        Some(_) => Err(ApiError::invalid(
            "/sort/property",
            format!("`{name}` is not a string, number or date property; it cannot be sorted by"),
        )),
        None => Err(ApiError::invalid(
            "/sort/property",
            format!("unknown property `{name}`"),
        )),
    }
}

fn string_list(v: Option<&Value>, pointer: &str) -> Result<Vec<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= 100 => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::invalid(&format!("{pointer}/{i}"), "must be a string"))
            })
            .collect(),
        Some(_) => Err(ApiError::invalid(
            pointer,
            "must be an array of at most 100 strings",
        )),
    }
}

fn limit_of(v: Option<&Value>, pointer: &str) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid(
                pointer,
                format!("must be an integer from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// Search a blueprint's entities
///
/// Body: `{query?, include?, exclude?, limit? (1-1000, default 200), from?, sort?: {property,
/// order}, attach_title_to_relation?}`. Pass the answer's `next` back as `from` for the next
/// page: paging never skips or repeats an entity that exists throughout, whatever is written
/// meanwhile.
#[utoipa::path(tag = "Search", security(("bearer" = [])), request_body = BlueprintSearchBody,
    responses((status = 200, body = SearchResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[post("/blueprints/{blueprint}/entities/search")]
pub async fn search_blueprint(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let Some(b) = body.0.as_object() else {
        return Err(ApiError::invalid("", "the body must be an object"));
    };
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "query"
                | "include"
                | "exclude"
                | "limit"
                | "from"
                | "sort"
                | "attach_title_to_relation"
        ) {
            return Err(ApiError::invalid(&format!("/{k}"), "unknown member"));
        }
    }
    let read = ReadOptions {
        include: string_list(b.get("include"), "/include")?,
        exclude: string_list(b.get("exclude"), "/exclude")?,
        attach_title_to_relation: match b.get("attach_title_to_relation") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(x)) => *x,
            Some(_) => {
                return Err(ApiError::invalid(
                    "/attach_title_to_relation",
                    "must be a boolean",
                ));
            }
        },
    };
    let limit = limit_of(b.get("limit"), "/limit")?.unwrap_or(DEFAULT_LIMIT);
    let t = caller.tenant().await?;
    let blueprints = store_search::blueprints(&t).await?;
    if !blueprints.contains_key(path.as_str()) {
        return Err(portolan_store::StoreError::not_found("blueprint", path.as_str()).into());
    }
    let empty = json!({"combinator": "and", "rules": []});
    let raw_query = b.get("query").filter(|q| !q.is_null()).unwrap_or(&empty);
    let parsed = parse_query(
        raw_query,
        &blueprints,
        Some(path.as_str()),
        "/query",
        &caller.query_context(),
    )?;
    let sort = parse_sort(b.get("sort"), &blueprints, &parsed.blueprints)?;
    let scope = access::read_scope(&t, &caller, &blueprints, &parsed.blueprints).await?;
    let fp = fingerprint(&[
        path.as_str(),
        &raw_query.to_string(),
        &b.get("sort").map(Value::to_string).unwrap_or_default(),
    ]);
    let after = match b.get("from") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(decode_cursor(s, fp, "/from")?),
        Some(_) => {
            return Err(ApiError::invalid(
                "/from",
                "must be the `next` string of a previous page",
            ));
        }
    };
    let page = if scope.is_empty() {
        empty_page()
    } else {
        store_search::search_raw(
            &t,
            &SearchRequest {
                query: &parsed.query,
                filter: scope.filter.as_ref(),
                blueprints: &blueprints,
                candidates: &scope.candidates,
                sort,
                after,
                limit,
                read: &read,
            },
        )
        .await?
    };
    let next = page.next.as_ref().map(|n| encode_cursor(n, fp));
    page_response(page, false, next)
}

/// A page of entities as it is sent: `{ok, matchingBlueprints?, entities, next?}`. The store
/// wrote the entities as one JSON array's text already; it is copied into the body once.
fn page_response(
    page: store_search::RawPage,
    matching_blueprints: bool,
    next: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let unwritable = |e: serde_json::Error| ApiError::Internal(format!("cannot write a page: {e}"));
    let mut body = Vec::with_capacity(page.entities.len() + 256);
    body.extend_from_slice(br#"{"ok":true,"#);
    if matching_blueprints {
        body.extend_from_slice(br#""matchingBlueprints":"#);
        serde_json::to_writer(&mut body, &page.blueprints).map_err(unwritable)?;
        body.push(b',');
    }
    body.extend_from_slice(br#""entities":"#);
    body.extend_from_slice(&page.entities);
    if let Some(next) = next {
        body.extend_from_slice(br#","next":"#);
        serde_json::to_writer(&mut body, &next).map_err(unwritable)?;
    }
    body.push(b'}');
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}

fn empty_page() -> store_search::RawPage {
    store_search::RawPage {
        entities: b"[]".to_vec(),
        next: None,
        blueprints: vec![],
    }
}

/// Search entities across blueprints
///
/// The body is the query itself. Port answers every match; Portolan does too (up to
/// 10,000, else a 422 that says to page) and adds paging: `?limit=` (1-1000) and `?from=`
/// (the previous answer's `next`). `include`, `exclude` and `attach_title_to_relation` as
/// query parameters.
#[utoipa::path(tag = "Search", security(("bearer" = [])), request_body = QueryBody,
    params(
        ("limit" = Option<u64>, Query), ("from" = Option<String>, Query),
        ("include" = Option<Vec<String>>, Query), ("exclude" = Option<Vec<String>>, Query),
        ("attach_title_to_relation" = Option<bool>, Query), ("exclude_calculated_properties" = Option<bool>, Query)),
    responses((status = 200, body = CrossSearchResponse), (status = 422, body = ErrorBody)))]
#[post("/entities/search")]
pub async fn search_entities(
    caller: Caller,
    q: QueryPairs,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let read = ReadOptions {
        include: q.list("include"),
        exclude: q.list("exclude"),
        attach_title_to_relation: q.flag("attach_title_to_relation")?,
    };
    q.flag("exclude_calculated_properties")?;
    let limit = match q.get("limit") {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::InvalidParameter(format!(
                    "limit must be an integer from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let t = caller.tenant().await?;
    let blueprints = store_search::blueprints(&t).await?;
    let parsed = parse_query(&body.0, &blueprints, None, "", &caller.query_context())?;
    let scope = access::read_scope(&t, &caller, &blueprints, &parsed.blueprints).await?;
    let fp = fingerprint(&["*", &body.0.to_string()]);
    let after = match q.get("from") {
        None => None,
        Some(s) => Some(decode_cursor(s, fp, "/from")?),
    };
    let page = if scope.is_empty() {
        empty_page()
    } else {
        store_search::search_raw(
            &t,
            &SearchRequest {
                query: &parsed.query,
                filter: scope.filter.as_ref(),
                blueprints: &blueprints,
                candidates: &scope.candidates,
                sort: None,
                after,
                limit: limit.unwrap_or(MAX_UNPAGED),
                read: &read,
            },
        )
        .await?
    };
    if limit.is_none() && page.next.is_some() {
        return Err(ApiError::InvalidParameter(format!(
            "more than {MAX_UNPAGED} entities match; page through them with ?limit= and ?from="
        )));
    }
    let next = page.next.as_ref().map(|n| encode_cursor(n, fp));
    page_response(page, true, next)
}

/// Aggregate entities
///
/// Body: `{func: count | sum | min | max | average | median, property?, query}`. `property`
/// (a number property) is required for every function but `count`. Answers `{ok, result}`;
/// `result` is `null` when no matching entity has a value (`sum` is then 0).
#[utoipa::path(tag = "Search", security(("bearer" = [])), request_body = AggregateBody,
    responses((status = 200, body = AggregateResponse), (status = 422, body = ErrorBody)))]
#[post("/entities/aggregate")]
pub async fn aggregate(caller: Caller, body: JsonBody) -> Result<HttpResponse, ApiError> {
    let Some(b) = body.0.as_object() else {
        return Err(ApiError::invalid("", "the body must be an object"));
    };
    for k in b.keys() {
        if !matches!(k.as_str(), "func" | "property" | "query") {
            return Err(ApiError::invalid(&format!("/{k}"), "unknown member"));
        }
    }
    let func = match b.get("func").and_then(Value::as_str) {
        Some("count") => Func::Count,
        Some("sum") => Func::Sum,
        Some("min") => Func::Min,
        Some("max") => Func::Max,
        Some("average") => Func::Average,
        Some("median") => Func::Median,
        _ => {
            return Err(ApiError::invalid(
                "/func",
                "must be one of count, sum, min, max, average, median",
            ));
        }
    };
    let Some(raw_query) = b.get("query") else {
        return Err(ApiError::invalid("/query", "is required"));
    };
    let t = caller.tenant().await?;
    let blueprints = store_search::blueprints(&t).await?;
    let parsed = parse_query(
        raw_query,
        &blueprints,
        None,
        "/query",
        &caller.query_context(),
    )?;
    let scope = access::read_scope(&t, &caller, &blueprints, &parsed.blueprints).await?;
    let property = match (func, b.get("property")) {
        (Func::Count, None | Some(Value::Null)) => None,
        (_, Some(Value::String(p))) => {
            let mut found = false;
            for bp in parsed.blueprints.iter().filter_map(|x| blueprints.get(x)) {
                match bp.properties.get(p).and_then(query::index::kind_of) {
                    Some(Kind::Number) => found = true,
                    Some(_) => {
                        return Err(ApiError::invalid(
                            "/property",
                            format!(
                                "`{p}` of blueprint `{}` is not a number property",
                                bp.identifier
                            ),
                        ));
                    }
                    None => {}
                }
            }
            if !found {
                return Err(ApiError::invalid(
                    "/property",
                    format!("unknown number property `{p}`"),
                ));
            }
            Some(p.as_str())
        }
        (Func::Count, Some(_)) => return Err(ApiError::invalid("/property", "must be a string")),
        _ => {
            return Err(ApiError::invalid(
                "/property",
                "is required (a number property) for this function",
            ));
        }
    };
    let result = if scope.is_empty() {
        match func {
            Func::Count => Some(0.0),
            Func::Sum => Some(0.0),
            _ => None,
        }
    } else {
        store_search::aggregate(
            &t,
            &parsed.query,
            scope.filter.as_ref(),
            &blueprints,
            &scope.candidates,
            func,
            property,
        )
        .await?
    };
    Ok(HttpResponse::Ok().json(json!({"ok": true, "result": result})))
}

/// Most entities a relation given as a query may resolve to (Port's limit).
const MAX_RELATION_MATCHES: u64 = 100;

/// What the queries of one write request have resolved to so far. A bulk request resolves
/// every body's queries before anything is written, so within it the same query always has
/// the same answer: the usual bulk body, where every entity names its team or relation target
/// by the same query, costs one search instead of one per entity.
#[derive(Default)]
pub(crate) struct Lookups {
    blueprints: Option<std::sync::Arc<IndexMap<String, Blueprint>>>,
    /// (blueprint, query as JSON text, most matches asked) -> identifiers.
    found: HashMap<(String, String, u64), Vec<String>>,
    /// The caller's read scope per candidate blueprints.
    scopes: HashMap<Vec<String>, access::ReadScope>,
}

/// Resolves the queries an entity write may hold in place of its `identifier` (exactly one
/// match), `team` (teams are the entities of the `_team` blueprint) and relation values (one
/// match for a single relation, at most 100 for a `many` one), rewriting them to identifiers.
/// Bodies without queries are returned untouched (and cost nothing).
pub(crate) async fn resolve_entity_queries(
    t: &Tenant,
    caller: &Caller,
    blueprint: &str,
    item: &Value,
    lookups: &mut Lookups,
) -> Result<Option<Value>, ApiError> {
    let Some(o) = item.as_object() else {
        return Ok(None);
    };
    let has_query = o.get("identifier").is_some_and(query::is_query)
        || o.get("team").is_some_and(query::is_query)
        || o.get("relations")
            .and_then(Value::as_object)
            .is_some_and(|r| r.values().any(query::is_query));
    if !has_query {
        return Ok(None);
    }
    if lookups.blueprints.is_none() {
        lookups.blueprints = Some(store_search::blueprints(t).await?);
    }
    let Lookups {
        blueprints: Some(blueprints),
        found,
        scopes,
    } = lookups
    else {
        return Err(ApiError::Internal("blueprints not loaded".into()));
    };
    let blueprints = &*blueprints;
    let mut lookup = async |target: &str, q: &Value, pointer: &str, max: u64| {
        let key = (target.to_owned(), q.to_string(), max);
        if let Some(ids) = found.get(&key) {
            return Ok(ids.clone());
        }
        let ids = search_ids(t, caller, blueprints, scopes, target, q, pointer, max).await?;
        found.insert(key, ids.clone());
        Ok::<_, ApiError>(ids)
    };
    let Some(bp) = blueprints.get(blueprint) else {
        return Err(portolan_store::StoreError::not_found("blueprint", blueprint).into());
    };
    let mut out = o.clone();
    if let Some(q) = o.get("identifier").filter(|v| query::is_query(v)) {
        let ids = lookup(blueprint, q, "/identifier", 2).await?;
        match ids.as_slice() {
            [one] => {
                out.insert("identifier".into(), Value::String(one.clone()));
            }
            [] => {
                return Err(ApiError::invalid(
                    "/identifier",
                    "the query matches no entity; an identifier query must match exactly one",
                ));
            }
            _ => {
                return Err(ApiError::invalid(
                    "/identifier",
                    "the query matches more than one entity; an identifier query must match exactly one",
                ));
            }
        }
    }
    if let Some(q) = o.get("team").filter(|v| query::is_query(v)) {
        if !blueprints.contains_key("_team") {
            return Err(ApiError::invalid(
                "/team",
                "a team query searches the `_team` blueprint, which this organization does not have",
            ));
        }
        let ids = lookup("_team", q, "/team", MAX_RELATION_MATCHES + 1).await?;
        if ids.len() as u64 > MAX_RELATION_MATCHES {
            return Err(ApiError::invalid(
                "/team",
                format!("the query matches more than {MAX_RELATION_MATCHES} teams"),
            ));
        }
        out.insert("team".into(), json!(ids));
    }
    if let Some(rels) = o.get("relations").and_then(Value::as_object) {
        let mut new_rels = rels.clone();
        for (key, v) in rels {
            if !query::is_query(v) {
                continue;
            }
            let pointer = format!("/relations/{}", portolan_domain::error::escape_token(key));
            let Some(def) = bp.relations.get(key) else {
                return Err(ApiError::invalid(
                    &pointer,
                    format!("unknown relation `{key}`"),
                ));
            };
            let max = if def.many { MAX_RELATION_MATCHES } else { 1 };
            let ids = lookup(&def.target, v, &pointer, max + 1).await?;
            if ids.len() as u64 > max {
                return Err(ApiError::invalid(
                    &pointer,
                    if def.many {
                        format!("the query matches more than {MAX_RELATION_MATCHES} entities")
                    } else {
                        "the query matches more than one entity; a single relation takes one".into()
                    },
                ));
            }
            let value = if def.many {
                json!(ids)
            } else {
                match ids.into_iter().next() {
                    Some(id) => Value::String(id),
                    None => {
                        return Err(ApiError::invalid(
                            &pointer,
                            "the query matches no entity; a single relation query must match exactly one",
                        ));
                    }
                }
            };
            new_rels.insert(key.clone(), value);
        }
        out.insert("relations".into(), Value::Object(new_rels));
    }
    Ok(Some(Value::Object(out)))
}

/// The identifiers of the first `max` readable entities matching query `q` (uncached).
#[allow(clippy::too_many_arguments)]
async fn search_ids(
    t: &Tenant,
    caller: &Caller,
    blueprints: &IndexMap<String, Blueprint>,
    scopes: &mut HashMap<Vec<String>, access::ReadScope>,
    blueprint: &str,
    q: &Value,
    pointer: &str,
    max: u64,
) -> Result<Vec<String>, ApiError> {
    let ctx = QueryContext {
        user: None,
        teams: Vec::new(),
        now: chrono::Utc::now().timestamp_micros(),
    };
    let parsed = parse_query(q, blueprints, Some(blueprint), pointer, &ctx)?;
    // Only entities the caller may read: a lookup must not reveal (or relate to) the others.
    let scope = match scopes.get(&parsed.blueprints) {
        Some(s) => s.clone(),
        None => {
            let s = access::read_scope(t, caller, blueprints, &parsed.blueprints).await?;
            scopes.insert(parsed.blueprints.clone(), s.clone());
            s
        }
    };
    if scope.is_empty() {
        return Ok(Vec::new());
    }
    let query = match scope.filter {
        None => parsed.query,
        Some(filter) => query::Query {
            combinator: query::Combinator::And,
            rules: vec![query::Node::Query(parsed.query), query::Node::Query(filter)],
        },
    };
    Ok(store_search::identifiers(t, &query, blueprints, &scope.candidates, max).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEARCH: &str = "/v1/blueprints/{blueprint}/entities/search";

    fn catalog() -> IndexMap<String, Blueprint> {
        let mut out = IndexMap::new();
        for v in [
            json!({"identifier": "service", "title": "S",
                   "schema": {"properties": {"language": {"type": "string"}}},
                   "relations": {"dependsOn": {"target": "service", "many": true}}}),
            json!({"identifier": "deployment", "title": "D", "schema": {"properties": {}},
                   "relations": {"service": {"target": "service", "many": false}}}),
        ] {
            let bp = Blueprint::parse(&v).expect("a blueprint");
            out.insert(bp.identifier.clone(), bp);
        }
        out
    }

    /// The guess from the JSON is the store's decision on the parsed query, for plain pages.
    #[test]
    fn the_guessed_plans_agree_with_the_parsed_query() {
        let bps = catalog();
        let ctx = QueryContext {
            user: None,
            teams: vec![],
            now: 0,
        };
        let related = json!({"operator": "relatedTo", "blueprint": "service", "value": "s1",
                             "direction": "downstream"});
        let queries = [
            json!({"combinator": "and", "rules": []}),
            json!({"combinator": "and", "rules": [related]}),
            json!({"combinator": "or", "rules": [related,
                {"combinator": "and", "rules": [{"property": "$identifier", "operator": "=", "value": "d1"}]}]}),
            json!({"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "service", "value": ["s1"]}]}),
            json!({"combinator": "and", "rules": [{"property": {"path": ["service"]}, "operator": "matchAny", "value": "s1"}]}),
            json!({"combinator": "and", "rules": [{"property": "$identifier", "operator": "in", "value": ["d1"]}]}),
            // Planned with their values:
            json!({"combinator": "and", "rules": [{"operator": "relatedTo", "blueprint": "service", "value": ["s1", "s2"]}]}),
            json!({"combinator": "and", "rules": [{"property": "$identifier", "operator": "in", "value": ["d1", "d2"]}]}),
            json!({"combinator": "and", "rules": [related, {"property": "$title", "operator": "=", "value": "x"}]}),
            json!({"combinator": "and", "rules": [{"property": "$identifier", "operator": "!=", "value": "d1"}]}),
        ];
        let mut stable = 0;
        for q in &queries {
            let parsed = parse_query(q, &bps, Some("deployment"), "/query", &ctx).expect("parses");
            let want = store_search::plan_stable(&parsed.query);
            stable += usize::from(want);
            let got = plans_for(Some(SEARCH), &json!({"query": q, "limit": 50}));
            assert_eq!(got == Plans::Once, want, "{q}");
        }
        assert_eq!(stable, 6);
        // Not a plain page, not the route, or no query at all.
        let walk = json!({"combinator": "and", "rules": [related]});
        for (pattern, body, want) in [
            (SEARCH, json!({}), Plans::Once),
            (SEARCH, json!({"query": walk, "include": []}), Plans::Once),
            (
                SEARCH,
                json!({"query": walk, "include": ["x"]}),
                Plans::WithValues,
            ),
            (
                SEARCH,
                json!({"query": walk, "attach_title_to_relation": true}),
                Plans::WithValues,
            ),
            (
                SEARCH,
                json!({"query": walk, "sort": {"property": "$title"}}),
                Plans::WithValues,
            ),
            ("/v1/entities/search", walk.clone(), Plans::WithValues),
            (
                "/v1/blueprints/{identifier}/entities/bulk",
                json!({"query": walk}),
                Plans::WithValues,
            ),
        ] {
            assert_eq!(plans_for(Some(pattern), &body), want, "{pattern} {body}");
        }
        assert_eq!(plans_for(None, &json!({})), Plans::WithValues);
        // Deeper than the parser allows: not guessed (and not walked without end).
        let mut deep = walk.clone();
        for _ in 0..=query::MAX_DEPTH + 1 {
            deep = json!({"combinator": "and", "rules": [deep]});
        }
        assert_eq!(
            plans_for(Some(SEARCH), &json!({"query": deep})),
            Plans::WithValues
        );
    }
}
