//! The plans the search compiler's SQL gets: a page filtered by a common value must come out
//! of the indexes in identifier order and stop after the page, not collect and sort every
//! match (docs/benchmarks.md, "Search"). PostgreSQL only; SQLite must at least use the value
//! index.

use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::query::{Kind, Op, Query};
use portolan_store::entities::{ReadOptions, WriteMode};
use portolan_store::search::{self, SearchRequest};
use serde_json::{Value, json};

use super::{and, blueprints_of, cmp, node, one_str, prop, strs};
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

async fn plan_of(
    store: &portolan_store::Store,
    org: portolan_domain::OrgId,
    bps: &IndexMap<String, Blueprint>,
    query: &Query,
) -> Vec<String> {
    let t = tenant(store, org).await;
    let read = ReadOptions::default();
    let candidates = vec!["service".to_owned()];
    let plan = search::plan(
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
    )
    .await
    .expect("explain a page");
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

#[tokio::test]
async fn a_page_over_a_common_value_stops_after_the_page() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(
            &store,
            org,
            &[json!({
                "identifier": "service",
                "title": "Service",
                "schema": {"properties": {
                    "language": {"type": "string"},
                    "tier": {"type": "number"},
                }},
            })],
        )
        .await;
        // 4,000 services: 60% go, the rest spread over four languages.
        let t = tenant(&store, org).await;
        for chunk in 0..4 {
            let bodies: Vec<Value> = (0..1000)
                .map(|i| {
                    let n = chunk * 1000 + i;
                    let language = if n % 10 < 6 {
                        "go"
                    } else {
                        LANGUAGES[1 + n % 4]
                    };
                    json!({"identifier": format!("svc-{n:05}"),
                           "properties": {"language": language, "tier": n % 4}})
                })
                .collect();
            let (_, failed) = write(&t, "service", bodies, &opts(WriteMode::Create)).await;
            assert!(failed.is_empty());
        }
        t.commit().await.expect("commit");
        if is_postgres(&store) {
            // What autovacuum would do (it is off on the test server).
            use sea_orm::ConnectionTrait;
            store
                .connection()
                .execute_unprepared("VACUUM ANALYZE entities, entity_values")
                .await
                .expect("analyze");
        }
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
