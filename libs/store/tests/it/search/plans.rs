//! The plans the search compiler's SQL gets: a page filtered by a common value, or by a broad
//! date range, must come out in identifier order and stop after the page, not collect and sort
//! every match (docs/benchmarks.md, "Search"). PostgreSQL only; SQLite must at least use the
//! value indexes.

use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::query::{DateRange, Direction, Kind, Op, Query, Rule};
use portolan_store::entities::{ReadOptions, WriteMode};
use portolan_store::search::{self, SearchRequest};
use serde_json::{Value, json};

use super::{and, blueprints_of, cmp, instant, node, one_num, one_str, or, prop, strs};
use crate::support::{both, create_blueprints, is_postgres, new_org, opts, tenant, write};

const LANGUAGES: [&str; 5] = ["go", "rust", "python", "java", "ruby"];

/// Every plan node's type (with its index, if any), depth first.
fn nodes(plan: &Value, out: &mut Vec<String>) {
    if let Some(kind) = plan.get("Node Type").and_then(Value::as_str) {
        let index = plan.get("Index Name").and_then(Value::as_str);
        let rel = plan.get("Relation Name").and_then(Value::as_str);
        out.push(match (index, rel) {
            (Some(i), _) => format!("{kind} {i}"),
            (None, Some(r)) => format!("{kind} {r}"),
            _ => kind.to_owned(),
        });
    }
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for c in children {
            nodes(c, out);
        }
    }
}

/// Every index scan's (index, index condition), depth first.
fn index_conds(plan: &Value, out: &mut Vec<(String, String)>) {
    if let (Some(index), Some(cond)) = (
        plan.get("Index Name").and_then(Value::as_str),
        plan.get("Index Cond").and_then(Value::as_str),
    ) {
        out.push((index.to_owned(), cond.to_owned()));
    }
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for c in children {
            index_conds(c, out);
        }
    }
}

/// The plan of a page of 50 services matching `query` (PostgreSQL's JSON or SQLite's rows).
async fn explain(
    store: &portolan_store::Store,
    org: portolan_domain::OrgId,
    bps: &IndexMap<String, Blueprint>,
    query: &Query,
) -> Value {
    let t = tenant(store, org).await;
    let read = ReadOptions::default();
    let candidates = vec!["service".to_owned()];
    search::plan(
        &t,
        &SearchRequest {
            query,
            filter: None,
            blueprints: bps,
            candidates: &candidates,
            sort: None,
            after: None,
            limit: 50,
            read: &read,
        },
        false,
    )
    .await
    .expect("explain a page")
}

async fn plan_of(
    store: &portolan_store::Store,
    org: portolan_domain::OrgId,
    bps: &IndexMap<String, Blueprint>,
    query: &Query,
) -> Vec<String> {
    let plan = explain(store, org, bps, query).await;
    let mut out = Vec::new();
    if is_postgres(store) {
        nodes(&plan[0]["Plan"], &mut out);
    } else {
        for row in plan.as_array().expect("rows") {
            out.push(row["detail"].as_str().unwrap_or_default().to_owned());
        }
    }
    out
}

/// A new org whose `service` blueprint has `properties`, holding `bodies` (written 1,000 per
/// bulk write), with statistics gathered on PostgreSQL as autovacuum would (it is off on the
/// test server).
async fn services(
    store: &portolan_store::Store,
    properties: Value,
    bodies: Vec<Value>,
) -> portolan_domain::OrgId {
    let org = new_org(store).await;
    create_blueprints(
        store,
        org,
        &[json!({
            "identifier": "service",
            "title": "Service",
            "schema": {"properties": properties},
        })],
    )
    .await;
    let t = tenant(store, org).await;
    for chunk in bodies.chunks(1000) {
        let (_, failed) = write(&t, "service", chunk.to_vec(), &opts(WriteMode::Create)).await;
        assert!(failed.is_empty());
    }
    t.commit().await.expect("commit");
    if is_postgres(store) {
        use sea_orm::ConnectionTrait;
        store
            .connection()
            .execute_unprepared(
                "VACUUM ANALYZE entities, entity_values, entity_numbers, entity_dates",
            )
            .await
            .expect("analyze");
    }
    org
}

#[tokio::test]
async fn a_page_over_a_common_value_stops_after_the_page() {
    both(|store| async move {
        // 4,000 services: 60% go, the rest spread over four languages.
        let bodies = (0..4000)
            .map(|n| {
                let language = if n % 10 < 6 {
                    "go"
                } else {
                    LANGUAGES[1 + n % 4]
                };
                json!({"identifier": format!("svc-{n:05}"),
                       "properties": {"language": language, "tier": n % 4}})
            })
            .collect();
        let properties = json!({"language": {"type": "string"}, "tier": {"type": "number"}});
        let org = services(&store, properties, bodies).await;
        let bps = blueprints_of(&store, org).await;

        let common = and(vec![node(cmp(
            prop("language", Kind::String),
            Op::Eq,
            one_str("go"),
        ))]);
        let plan = plan_of(&store, org, &bps, &common).await;
        if is_postgres(&store) {
            // The matches come from the ordered value index, merged with the entities' key.
            assert!(
                !plan.iter().any(|n| n == "Sort" || n.starts_with("Hash")),
                "a common value is collected and sorted: {plan:?}"
            );
            assert!(
                plan.iter().any(|n| n.contains("idx_values_s_id")),
                "the value index is not used: {plan:?}"
            );
        } else {
            assert!(
                plan.iter().any(|n| n.contains("idx_values_s_id")),
                "the value index is not used: {plan:?}"
            );
        }

        // `in` over common values: no sort of every match either.
        let several = and(vec![node(cmp(
            prop("language", Kind::String),
            Op::In,
            strs(&["go", "rust"]),
        ))]);
        let plan = plan_of(&store, org, &bps, &several).await;
        if is_postgres(&store) {
            assert!(
                !plan.iter().any(|n| n == "Sort"),
                "`in` over common values sorts every match: {plan:?}"
            );
        }

        // A rare value is looked up, not found by walking every service.
        let rare = and(vec![node(cmp(
            prop("language", Kind::String),
            Op::Eq,
            one_str("cobol"),
        ))]);
        let plan = plan_of(&store, org, &bps, &rare).await;
        assert!(
            plan.iter().any(|n| n.contains("idx_values_s_id")),
            "a rare value is not looked up in the value index: {plan:?}"
        );
        if is_postgres(&store) {
            assert!(
                !plan.iter().any(|n| n.starts_with("Seq Scan")),
                "a sequential scan: {plan:?}"
            );
        }
    })
    .await;
}

/// An `OR` of value rules: PostgreSQL runs each rule's lookup once as a hashed set (not per
/// entity), and that lookup must still read its index by org, blueprint, key and value; without
/// the org and blueprint named as constants in the lookup it read the whole index table
/// (1.2 s at 1M entities).
#[tokio::test]
async fn an_or_of_value_rules_reads_each_rule_from_its_index() {
    both(|store| async move {
        let bodies = (0..4000)
            .map(|n| {
                json!({"identifier": format!("svc-{n:05}"),
                       "properties": {"language": LANGUAGES[n % 5], "tier": n % 8}})
            })
            .collect();
        let properties = json!({"language": {"type": "string"}, "tier": {"type": "number"}});
        let org = services(&store, properties.clone(), bodies).await;
        // Another org with the same catalog: the lookups must not read its rows either.
        let other_bodies = (0..4000)
            .map(|n| json!({"identifier": format!("svc-{n:05}"), "properties": {"language": "ruby", "tier": 7}}))
            .collect();
        services(&store, properties, other_bodies).await;
        let bps = blueprints_of(&store, org).await;

        let either = or(vec![
            node(cmp(prop("language", Kind::String), Op::Eq, one_str("ruby"))),
            node(cmp(prop("tier", Kind::Number), Op::Eq, one_num(7.0))),
        ]);
        // Values no service has: no page can stop early, so PostgreSQL reads each rule's
        // matches once into a hashed set rather than probing per service.
        let rare = or(vec![
            node(cmp(prop("language", Kind::String), Op::Eq, one_str("cobol"))),
            node(cmp(prop("tier", Kind::Number), Op::Eq, one_num(99.0))),
        ]);
        let plan = plan_of(&store, org, &bps, &rare).await;
        if is_postgres(&store) {
            let json = explain(&store, org, &bps, &rare).await;
            let mut conds = Vec::new();
            index_conds(&json[0]["Plan"], &mut conds);
            let lookups: Vec<&(String, String)> = conds
                .iter()
                .filter(|(index, _)| index == "idx_values_s_id" || index == "idx_numbers_n")
                .collect();
            assert_eq!(lookups.len(), 2, "{conds:?}");
            for (index, cond) in lookups {
                assert!(
                    cond.contains("org_id = '") && cond.contains("blueprint = "),
                    "{index} is not read by org and blueprint: {cond}"
                );
            }
            assert!(
                !plan.iter().any(|n| n.starts_with("Seq Scan")),
                "a sequential scan: {plan:?}"
            );
            assert!(
                plan.iter().any(|n| n.contains("idx_values_s_id")),
                "the string rule is not looked up in its index: {plan:?}"
            );
            assert!(
                plan.iter().any(|n| n.contains("entity_numbers") || n.contains("idx_numbers")),
                "the number rule is not looked up in its index: {plan:?}"
            );
        }
        // Both backends answer it (the property tests check such answers in depth).
        // ruby: n % 5 == 4 (800); tier 7: n % 8 == 7 (500); both: n % 40 == 39 (100).
        let t = tenant(&store, org).await;
        let candidates = vec!["service".to_owned()];
        let n = search::count(&t, &either, None, &bps, &candidates)
            .await
            .expect("count");
        assert_eq!(n, 1200);
    })
    .await;
}

/// A page over a broad date range walks the entities in identifier order and probes each one,
/// stopping after the page; a narrow range is looked up in the date index. Dates live in their
/// own table (migration 8), so PostgreSQL's estimate of a range on one date property is not
/// diluted by every string and number of the catalog: in one generic table this catalog's
/// `t` column is null in 9 rows of 10, and the planner counted that twice.
#[tokio::test]
async fn a_page_over_a_broad_date_range_stops_after_the_page() {
    both(|store| async move {
        let mut props = serde_json::Map::new();
        props.insert(
            "deployedAt".into(),
            json!({"type": "string", "format": "date-time"}),
        );
        for k in 0..8 {
            props.insert(format!("label{k}"), json!({"type": "string"}));
        }
        // 4,000 services, one deploy date each, spread over 1,000 days of 2025-2027.
        let base = instant("2025-01-01T00:00:00Z");
        let day = 86_400_000_000_i64;
        let bodies = (0..4000_i64)
            .map(|n| {
                // A permutation of the days, so that dates and identifiers are unrelated.
                let d = (n * 7919) % 1000;
                let at = chrono::DateTime::from_timestamp_micros(base + d * day)
                    .expect("a date")
                    .to_rfc3339();
                let mut p = serde_json::Map::new();
                p.insert("deployedAt".into(), json!(at));
                for k in 0..8 {
                    p.insert(format!("label{k}"), json!(format!("l{}", (n + k) % 50)));
                }
                json!({"identifier": format!("svc-{n:05}"), "properties": p})
            })
            .collect();
        let org = services(&store, Value::Object(props), bodies).await;
        let bps = blueprints_of(&store, org).await;
        let between = |from_day: i64, to_day: i64| {
            and(vec![node(Rule::Between {
                field: prop("deployedAt", Kind::Date),
                range: DateRange::Fixed {
                    from: base + from_day * day,
                    to: base + to_day * day,
                },
                negate: false,
            })])
        };

        // 300 of 1,000 days: 1,200 matches for a page of 50.
        let plan = plan_of(&store, org, &bps, &between(100, 400)).await;
        if is_postgres(&store) {
            assert!(
                !plan.iter().any(|n| n == "Sort" || n.starts_with("Hash")),
                "a broad date range is collected and sorted: {plan:?}"
            );
        }
        assert!(
            !plan
                .iter()
                .any(|n| n.contains("Seq Scan") || n.starts_with("SCAN v")),
            "a date range scans a table: {plan:?}"
        );

        // 2 days: 8 matches, looked up in the date index.
        let plan = plan_of(&store, org, &bps, &between(500, 501)).await;
        assert!(
            plan.iter().any(|n| n.contains("idx_dates_t")),
            "a narrow date range is not looked up in the date index: {plan:?}"
        );
    })
    .await;
}

/// The actual rows of every node of type `kind` of a plan run with `ANALYZE`.
fn actual_rows(plan: &Value, kind: &str, out: &mut Vec<u64>) {
    if plan.get("Node Type").and_then(Value::as_str) == Some(kind) {
        out.push(plan["Actual Rows"].as_u64().expect("actual rows"));
    }
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for c in children {
            actual_rows(c, kind, out);
        }
    }
}

/// A `relatedTo` walk collects only the entities it can step on from: the deployments of a
/// service (nothing points at a deployment) are read by the last step, not gathered into the
/// walk, so a start that nothing depends on costs the one-hop join.
#[tokio::test]
async fn a_walk_collects_only_what_it_can_step_on_from() {
    both(|store| async move {
        if !is_postgres(&store) {
            return;
        }
        let org = new_org(&store).await;
        create_blueprints(
            &store,
            org,
            &[
                json!({"identifier": "service", "title": "Service", "schema": {"properties": {}},
                       "relations": {"dependsOn": {"target": "service", "required": false, "many": true}}}),
                json!({"identifier": "deployment", "title": "Deployment", "schema": {"properties": {}},
                       "relations": {"service": {"target": "service", "required": true, "many": false}}}),
            ],
        )
        .await;
        let t = tenant(&store, org).await;
        // a <- b (b depends on a); c alone. 40 deployments each.
        let services = vec![
            json!({"identifier": "a"}),
            json!({"identifier": "b", "relations": {"dependsOn": ["a"]}}),
            json!({"identifier": "c"}),
        ];
        let (_, failed) = write(&t, "service", services, &opts(WriteMode::Create)).await;
        assert!(failed.is_empty(), "{failed:?}");
        let deployments = ["a", "b", "c"]
            .iter()
            .flat_map(|s| {
                (0..40).map(move |n| {
                    json!({"identifier": format!("{s}-{n:02}"), "relations": {"service": s}})
                })
            })
            .collect();
        let (_, failed) = write(&t, "deployment", deployments, &opts(WriteMode::Create)).await;
        assert!(failed.is_empty(), "{failed:?}");
        t.commit().await.expect("commit");
        let bps = blueprints_of(&store, org).await;
        let candidates = vec!["deployment".to_owned()];
        let read = ReadOptions::default();
        let downstream_of = |id: &str| {
            and(vec![node(Rule::RelatedTo {
                blueprint: "service".into(),
                ids: vec![id.into()],
                direction: Some(Direction::Downstream),
                required: None,
            })])
        };
        for (start, walked, found) in [("c", 1, 40), ("a", 2, 80)] {
            let query = downstream_of(start);
            let req = SearchRequest {
                query: &query,
                filter: None,
                blueprints: &bps,
                candidates: &candidates,
                sort: None,
                after: None,
                limit: 1000,
                read: &read,
            };
            let t = tenant(&store, org).await;
            let plan = search::plan(&t, &req, true).await.expect("explain");
            let mut walks = Vec::new();
            actual_rows(&plan[0]["Plan"], "Recursive Union", &mut walks);
            assert_eq!(walks, [walked], "from {start}: {plan}");
            let page = search::search(&t, &req).await.expect("search");
            assert_eq!(page.entities.len(), found, "from {start}");
        }
    })
    .await;
}

/// Index tuples `index` has returned on the tenant transaction's connection, counted by the
/// backend since it last reported its statistics (never within a transaction): the difference
/// of two readings in one transaction counts what ran between them, whatever its plan.
async fn index_tuples_read(t: &portolan_store::Tenant, index: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let row = t
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT pg_stat_get_xact_tuples_returned('{index}'::regclass) AS n"),
        ))
        .await
        .expect("index statistics")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("a count")
}

/// A page of the entities `relatedTo` a hub reads the page's edges, not the hub's: the edges
/// into one entity come in their sources' identifier order (migration 10), which is the
/// page's, so the join stops after the page whether the start has 30 dependents or 3,000, on
/// the generic plan a page of walks gets (`search_raw`), which takes every start for an
/// average one, and on a custom one (`search`).
#[tokio::test]
async fn a_page_related_to_a_hub_stops_after_the_page() {
    both(|store| async move {
        if !is_postgres(&store) {
            return;
        }
        let org = new_org(&store).await;
        create_blueprints(
            &store,
            org,
            &[
                json!({"identifier": "environment", "title": "Environment", "schema": {"properties": {}}}),
                json!({"identifier": "deployment", "title": "Deployment", "schema": {"properties": {}},
                       "relations": {"environment": {"target": "environment", "required": false, "many": false}}}),
            ],
        )
        .await;
        let t = tenant(&store, org).await;
        // prod: 2,970 deployments, spread over the identifiers; dev: 30; and 2,000 small
        // environments of one deployment each, so that an environment has 2.5 deployments on
        // average: what a generic plan assumes of any.
        let mut envs: Vec<Value> = ["prod", "dev"].map(|e| json!({"identifier": e})).to_vec();
        envs.extend((0..2_000).map(|n| json!({"identifier": format!("small-{n:04}")})));
        let mut deployments: Vec<Value> = (0..3_000)
            .map(|n| {
                let env = if n % 100 == 7 { "dev" } else { "prod" };
                json!({"identifier": format!("d-{n:05}"), "relations": {"environment": env}})
            })
            .collect();
        deployments.extend((0..2_000).map(|n| {
            json!({"identifier": format!("s-{n:05}"), "relations": {"environment": format!("small-{n:04}")}})
        }));
        for (bp, rows) in [("environment", envs), ("deployment", deployments)] {
            for chunk in rows.chunks(1000) {
                let (_, failed) = write(&t, bp, chunk.to_vec(), &opts(WriteMode::Create)).await;
                assert!(failed.is_empty(), "{failed:?}");
            }
        }
        t.commit().await.expect("commit");
        {
            use sea_orm::ConnectionTrait;
            store
                .connection()
                .execute_unprepared("VACUUM ANALYZE entities, entity_relations")
                .await
                .expect("analyze");
        }
        let bps = blueprints_of(&store, org).await;
        let candidates = vec!["deployment".to_owned()];
        let read = ReadOptions::default();
        for (start, found) in [("prod", 50), ("dev", 30)] {
            let query = and(vec![node(Rule::RelatedTo {
                blueprint: "environment".into(),
                ids: vec![start.into()],
                direction: Some(Direction::Downstream),
                required: None,
            })]);
            let req = SearchRequest {
                query: &query,
                filter: None,
                blueprints: &bps,
                candidates: &candidates,
                sort: None,
                after: None,
                limit: 50,
                read: &read,
            };
            // Generic (a page of walks, search_raw) and custom (search).
            const INDEX: &str = "idx_relations_target";
            let t = tenant(&store, org).await;
            let before = index_tuples_read(&t, INDEX).await;
            let raw = search::search_raw(&t, &req).await.expect("search_raw");
            let ids: Vec<Value> = serde_json::from_slice(&raw.entities).expect("JSON");
            assert_eq!(ids.len(), found, "{start}: search_raw's page");
            let generic = index_tuples_read(&t, INDEX).await - before;
            drop(t);
            let t = tenant(&store, org).await;
            let before = index_tuples_read(&t, INDEX).await;
            let page = search::search(&t, &req).await.expect("search");
            assert_eq!(page.entities.len(), found, "{start}: search's page");
            let custom = index_tuples_read(&t, INDEX).await - before;
            // The page (and the one row that tells whether there is a next page) or, for dev,
            // its 30 edges: nothing near prod's 2,970.
            for (plan, read) in [("generic", generic), ("custom", custom)] {
                assert!(
                    read <= 60,
                    "{start}, {plan} plan: {read} edges read for a page of {found}"
                );
            }
        }
    })
    .await;
}
