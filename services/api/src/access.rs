//! Read permissions applied to every entity read: lists, single reads, counts, searches,
//! aggregates. The decisions come from `portolan_domain::permission`; this module turns them
//! into the `filter` query the search compiler ANDs onto every query, so a caller never gets
//! (or counts) an entity it may not read.

use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::permission::{BlueprintPermissions, ReadAccess, read_access};
use portolan_domain::query::{self, Combinator, Node, ParseScope, Query};
use portolan_store::Tenant;
use portolan_store::identity::all_blueprint_permissions;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;

/// What a caller may read among some blueprints.
#[derive(Debug, Clone)]
pub struct ReadScope {
    /// The candidate blueprints the caller may read some entities of (possibly none).
    pub candidates: Vec<String>,
    /// The query every result must also match; `None` when every entity of `candidates` is
    /// readable.
    pub filter: Option<Query>,
}

impl ReadScope {
    /// True when nothing at all is readable.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }
}

fn parse_one(
    raw: &serde_json::Value,
    blueprints: &IndexMap<String, Blueprint>,
    blueprint: Option<&str>,
) -> Option<Query> {
    query::parse(
        raw,
        &ParseScope {
            blueprints,
            blueprint,
            pointer: "",
        },
    )
    .ok()
    .map(|p| p.query)
}

/// The read scope of `caller` over `candidates`. Admins (and moderators, for their
/// blueprints) read everything without a filter. A stored policy that no longer parses
/// (its blueprint changed under it) reads nothing: it fails closed, and says so in the log.
pub async fn read_scope(
    t: &Tenant,
    caller: &Caller,
    blueprints: &IndexMap<String, Blueprint>,
    candidates: &[String],
) -> Result<ReadScope, ApiError> {
    if caller.principal.is_admin() {
        return Ok(ReadScope {
            candidates: candidates.to_vec(),
            filter: None,
        });
    }
    let stored = all_blueprint_permissions(t).await?;
    let ctx = caller.query_context();
    let mut all = Vec::new();
    let mut filtered: Vec<(String, Query)> = Vec::new();
    for bp in candidates {
        let perms = stored
            .get(bp)
            .cloned()
            .unwrap_or_else(|| BlueprintPermissions::defaults(bp));
        match read_access(&caller.principal, &perms, bp) {
            ReadAccess::All => all.push(bp.clone()),
            ReadAccess::Nothing => {}
            ReadAccess::Filter(raw) => match parse_one(&raw, blueprints, Some(bp)) {
                Some(q) => filtered.push((bp.clone(), query::bind(&q, &ctx))),
                None => {
                    tracing::warn!(blueprint = %bp, "a read policy no longer parses: nothing of the blueprint is readable until it is fixed");
                }
            },
        }
    }
    if filtered.is_empty() {
        return Ok(ReadScope {
            candidates: all,
            filter: None,
        });
    }
    // (`$blueprint` in the fully readable ones) OR (`$blueprint` = b AND b's filter) ...
    let mut any = Vec::new();
    if !all.is_empty()
        && let Some(q) = parse_one(
            &json!({"combinator": "and", "rules": [{"property": "$blueprint", "operator": "in", "value": all}]}),
            blueprints,
            None,
        )
    {
        any.push(Node::Query(q));
    }
    let mut readable = all.clone();
    for (bp, f) in filtered {
        let Some(is_bp) = parse_one(
            &json!({"combinator": "and", "rules": [{"property": "$blueprint", "operator": "=", "value": bp}]}),
            blueprints,
            None,
        ) else {
            continue;
        };
        any.push(Node::Query(Query {
            combinator: Combinator::And,
            rules: vec![Node::Query(is_bp), Node::Query(f)],
        }));
        readable.push(bp);
    }
    let order: Vec<String> = candidates
        .iter()
        .filter(|c| readable.contains(c))
        .cloned()
        .collect();
    Ok(ReadScope {
        candidates: order,
        filter: Some(Query {
            combinator: Combinator::Or,
            rules: any,
        }),
    })
}

/// May `caller` read entity `identifier` of `blueprint`? (404 is the answer when not: the
/// caller learns nothing about entities it cannot read.)
pub async fn can_read_entity(
    t: &Tenant,
    caller: &Caller,
    blueprints: &IndexMap<String, Blueprint>,
    blueprint: &str,
    identifier: &str,
) -> Result<bool, ApiError> {
    if caller.principal.moderates(blueprint) {
        return Ok(true);
    }
    let scope = read_scope(t, caller, blueprints, &[blueprint.to_owned()]).await?;
    if scope.is_empty() {
        return Ok(false);
    }
    let Some(filter) = &scope.filter else {
        return Ok(true);
    };
    let Some(q) = parse_one(
        &json!({"combinator": "and", "rules": [{"property": "$identifier", "operator": "=", "value": identifier}]}),
        blueprints,
        Some(blueprint),
    ) else {
        return Ok(false);
    };
    let n =
        portolan_store::search::count(t, &q, Some(filter), blueprints, &scope.candidates).await?;
    Ok(n > 0)
}

/// Every entity of `candidates` matching `filter`, in identifier order (the unpaged list
/// route, for a caller that reads only some of them).
pub async fn all_matching(
    t: &Tenant,
    filter: &Query,
    blueprints: &IndexMap<String, Blueprint>,
    candidates: &[String],
    read: &portolan_store::entities::ReadOptions,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let everything = Query {
        combinator: Combinator::And,
        rules: vec![],
    };
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = portolan_store::search::search(
            t,
            &portolan_store::search::SearchRequest {
                query: &everything,
                filter: Some(filter),
                blueprints,
                candidates,
                sort: None,
                after,
                limit: 1000,
                read,
            },
        )
        .await?;
        out.extend(page.entities);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}
