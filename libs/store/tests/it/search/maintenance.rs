//! The search index (`entity_values`, `entity_numbers`, `entity_dates`) after every kind of
//! write: it must always hold exactly `query::index_rows` of every stored entity. And
//! aggregates over it.

use portolan_domain::OrgId;
use portolan_domain::query::{Item, Kind, Op, Operand, Query, Scalar, index_rows};
use portolan_store::entities::{self, WriteMode, WriteOptions};
use portolan_store::search::{self, Func};
use portolan_store::{Store, blueprints, jobs};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Fx, and, blueprints_of, cmp, instant, node, one_num, one_str, one_time, prop, strs};
use crate::support::{
    actor, both, create_blueprints, entity_rows, is_postgres, new_org, opts, tenant, write,
    write_ok,
};

type IndexEntry = (
    String,
    String,
    String,
    Option<String>,
    Option<u64>,
    Option<i64>,
    bool,
);

/// Every row of the three index tables of the org (owner connection), sorted.
async fn index_table(store: &Store, org: OrgId) -> Vec<IndexEntry> {
    let backend = store.connection().get_database_backend();
    let p = if is_postgres(store) { "$1" } else { "?1" };
    let sql = format!(
        "SELECT blueprint, identifier, key, s, CAST(NULL AS double precision) AS n, \
                CAST(NULL AS bigint) AS t, long FROM entity_values WHERE org_id = {p} \
         UNION ALL SELECT blueprint, identifier, key, NULL, n, NULL, false \
           FROM entity_numbers WHERE org_id = {p} \
         UNION ALL SELECT blueprint, identifier, key, NULL, NULL, t, false \
           FROM entity_dates WHERE org_id = {p}"
    );
    let rows = store
        .connection()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [org.0.into()]))
        .await
        .expect("read the index tables");
    let mut out: Vec<IndexEntry> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "blueprint").expect("column blueprint"),
                r.try_get("", "identifier").expect("column identifier"),
                r.try_get("", "key").expect("column key"),
                r.try_get("", "s").expect("column s"),
                r.try_get::<Option<f64>>("", "n")
                    .expect("column n")
                    .map(f64::to_bits),
                r.try_get("", "t").expect("column t"),
                r.try_get("", "long").expect("column long"),
            )
        })
        .collect();
    out.sort();
    out
}

/// What the index tables must hold: the index rows of every stored entity.
async fn expected_index(store: &Store, org: OrgId) -> Vec<IndexEntry> {
    let bps = blueprints_of(store, org).await;
    let mut out = Vec::new();
    for (id, bp) in &bps {
        for m in entity_rows(store, org, id).await {
            let team: Vec<String> = m
                .team
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let empty = serde_json::Map::new();
            let props = m.properties.as_object().unwrap_or(&empty);
            for r in index_rows(bp, props, &team) {
                out.push((
                    id.clone(),
                    m.identifier.clone(),
                    r.key,
                    r.s,
                    r.n.map(f64::to_bits),
                    r.t,
                    r.long,
                ));
            }
        }
    }
    out.sort();
    out
}

pub(crate) async fn assert_index(store: &Store, org: OrgId, when: &str) {
    let table = index_table(store, org).await;
    let want = expected_index(store, org).await;
    if table != want {
        let extra: Vec<_> = table
            .iter()
            .filter(|r| !want.contains(r))
            .take(10)
            .collect();
        let missing: Vec<_> = want
            .iter()
            .filter(|r| !table.contains(r))
            .take(10)
            .collect();
        panic!(
            "{when}: the search index is out of step\nstale rows: {extra:#?}\nmissing rows: {missing:#?}"
        );
    }
}

fn svc_bp() -> Value {
    json!({
        "identifier": "svc",
        "title": "Service",
        "schema": {"properties": {
            "name": {"type": "string"},
            "port": {"type": "number", "default": 8080},
            "when": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object"},
        }},
        "relations": {"grp": {"target": "grp", "required": false, "many": false}},
    })
}

fn grp_bp() -> Value {
    json!({
        "identifier": "grp",
        "title": "Group",
        "schema": {"properties": {"size": {"type": "number", "default": 1}, "label": {"type": "string"}}},
    })
}

fn dep_bp() -> Value {
    json!({
        "identifier": "dep",
        "title": "Dependent",
        "schema": {"properties": {"note": {"type": "string"}}},
        "relations": {"svc": {"target": "svc", "required": true, "many": false}},
    })
}

#[tokio::test]
async fn the_index_follows_every_write() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[grp_bp(), svc_bp(), dep_bp()]).await;
        let t = tenant(&store, org).await;
        let bodies: Vec<Value> = (1..=6)
            .map(|i| {
                json!({"identifier": format!("s{i}"), "team": ["core", format!("t{i}")],
                       "properties": {"name": format!("n{i}"), "port": 8000 + i,
                                      "when": format!("2024-05-0{i}T10:00:00+02:00"),
                                      "tags": ["a", format!("b{i}"), "a"],
                                      "meta": {"i": i}}})
            })
            .collect();
        let (ok, failed) = write(&t, "svc", bodies, &opts(WriteMode::Create)).await;
        assert_eq!((ok.len(), failed.len()), (6, 0));
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s7", "properties": {"name": "x".repeat(300)}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");
        assert_index(&store, org, "after creates").await;

        let name = || prop("name", Kind::String);
        let check = |q: Query, expected: &'static [&'static str]| {
            let store = store.clone();
            async move {
                let fx = Fx::new(store, org).await;
                fx.check_in(&["svc"], &q, expected).await;
            }
        };
        check(and(vec![node(cmp(name(), Op::Eq, one_str("n1")))]), &["s1"]).await;

        // Updates: properties, teams; a no-op rewrite; a removal.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s1", "team": ["edge"],
                   "properties": {"name": "renamed", "tags": ["z"]}}),
            WriteMode::Merge,
        )
        .await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s2", "properties": {"tags": null, "port": null}}),
            WriteMode::Merge,
        )
        .await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s3", "team": ["core", "t3"],
                   "properties": {"name": "n3", "port": 8003, "when": "2024-05-03T10:00:00+02:00",
                                  "tags": ["a", "b3", "a"], "meta": {"i": 3}}}),
            WriteMode::Replace,
        )
        .await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s7", "properties": {"name": format!("{}y", "x".repeat(299))}}),
            WriteMode::Patch,
        )
        .await;
        t.commit().await.expect("commit");
        assert_index(&store, org, "after updates").await;
        check(and(vec![node(cmp(name(), Op::Eq, one_str("n1")))]), &[]).await;
        check(
            and(vec![node(cmp(name(), Op::Eq, one_str("renamed")))]),
            &["s1"],
        )
        .await;
        check(
            and(vec![node(cmp(
                prop("tags", Kind::Array(Item::String)),
                Op::Contains,
                one_str("a"),
            ))]),
            &["s3", "s4", "s5", "s6"],
        )
        .await;
        check(
            and(vec![node(cmp(
                super::meta(portolan_domain::query::Meta::Team),
                Op::ContainsAny,
                strs(&["edge", "t2"]),
            ))]),
            &["s1", "s2"],
        )
        .await;
        check(
            and(vec![node(cmp(
                prop("port", Kind::Number),
                Op::Gt,
                one_num(8004.0),
            ))]),
            &["s5", "s6", "s7"],
        )
        .await;
        check(
            and(vec![node(cmp(
                name(),
                Op::BeginsWith,
                one_str(&format!("{}y", "x".repeat(299))),
            ))]),
            &["s7"],
        )
        .await;

        // Bare targets created with their defaults are indexed too.
        let t = tenant(&store, org).await;
        let (ok, failed) = entities::write(
            &t,
            "svc",
            vec![crate::support::request(
                0,
                json!({"identifier": "s8", "relations": {"grp": "g1"}}),
            )],
            &WriteOptions {
                create_missing_related: true,
                ..opts(WriteMode::Create)
            },
            &actor(),
        )
        .await
        .expect("write");
        assert_eq!((ok.len(), failed.len()), (1, 0));
        t.commit().await.expect("commit");
        assert_index(&store, org, "after creating a bare target").await;
        let fx = Fx::new(store.clone(), org).await;
        fx.check_in(
            &["grp"],
            &and(vec![node(cmp(
                prop("size", Kind::Number),
                Op::Eq,
                one_num(1.0),
            ))]),
            &["g1"],
        )
        .await;

        // A property rename moves the index rows to the new key.
        let t = tenant(&store, org).await;
        blueprints::rename(
            &t,
            "svc",
            blueprints::Member::Property,
            "name",
            "label",
            false,
            &actor(),
        )
        .await
        .expect("rename");
        t.commit().await.expect("commit");
        assert_index(&store, org, "after a property rename").await;
        check(
            and(vec![node(cmp(
                prop("label", Kind::String),
                Op::Eq,
                one_str("renamed"),
            ))]),
            &["s1"],
        )
        .await;
        check(
            and(vec![node(cmp(name(), Op::Eq, one_str("renamed")))]),
            &[],
        )
        .await;

        // A string becomes a date-time: its values are indexed as instants.
        let when = || prop("when", Kind::Date);
        let t = tenant(&store, org).await;
        blueprints::patch(
            &t,
            "svc",
            &json!({"schema": {"properties": {"when": {"type": "string", "format": "date-time"}}}}),
            false,
            &actor(),
        )
        .await
        .expect("patch to date-time");
        t.commit().await.expect("commit");
        assert_index(&store, org, "after a change of format").await;
        check(
            and(vec![node(cmp(
                when(),
                Op::Eq,
                one_time("2024-05-02T08:00:00Z"),
            ))]),
            &["s2"],
        )
        .await;
        check(
            and(vec![node(cmp(
                when(),
                Op::Ge,
                one_time("2024-05-05T08:00:00Z"),
            ))]),
            &["s5", "s6"],
        )
        .await;
        check(
            and(vec![node(portolan_domain::query::Rule::Between {
                field: when(),
                range: portolan_domain::query::DateRange::Fixed {
                    from: instant("2024-05-02T10:00:00+02:00"),
                    to: instant("2024-05-04T08:00:00Z"),
                },
                negate: false,
            })]),
            &["s2", "s3", "s4"],
        )
        .await;
        // And back to a plain string.
        let t = tenant(&store, org).await;
        blueprints::patch(
            &t,
            "svc",
            &json!({"schema": {"properties": {"when": {"type": "string", "format": null}}}}),
            false,
            &actor(),
        )
        .await
        .expect("patch back to string");
        t.commit().await.expect("commit");
        assert_index(&store, org, "after dropping the format").await;
        check(
            and(vec![node(cmp(
                prop("when", Kind::String),
                Op::Eq,
                one_str("2024-05-02T10:00:00+02:00"),
            ))]),
            &["s2"],
        )
        .await;

        // Deletes: one entity; one with its dependents; all of a blueprint.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "dep",
            json!({"identifier": "d1", "properties": {"note": "hi"}, "relations": {"svc": "s4"}}),
            WriteMode::Create,
        )
        .await;
        entities::delete(&t, "svc", "s3", false, &actor())
            .await
            .expect("delete s3");
        t.commit().await.expect("commit");
        assert_index(&store, org, "after a delete").await;
        let t = tenant(&store, org).await;
        let gone = entities::delete(&t, "svc", "s4", true, &actor())
            .await
            .expect("delete s4 and dependents");
        assert_eq!(gone.len(), 2);
        t.commit().await.expect("commit");
        assert_index(&store, org, "after a cascading delete").await;
        assert!(
            index_table(&store, org)
                .await
                .iter()
                .all(|r| r.1 != "s3" && r.1 != "s4" && r.1 != "d1")
        );
        check(
            and(vec![node(cmp(
                prop("label", Kind::String),
                Op::In,
                strs(&["n3", "n4", "n5"]),
            ))]),
            &["s5"],
        )
        .await;

        let t = tenant(&store, org).await;
        jobs::create_delete_all(&t, "svc", false, &actor())
            .await
            .expect("delete all");
        t.commit().await.expect("commit");
        while jobs::run_next(&store, &CancellationToken::new())
            .await
            .expect("run job")
        {}
        assert_index(&store, org, "after delete-all").await;
        assert!(index_table(&store, org).await.iter().all(|r| r.0 != "svc"));
        check(and(vec![]), &[]).await;
    })
    .await;
}

#[tokio::test]
async fn aggregates() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(
            &store,
            org,
            &[json!({
                "identifier": "m",
                "title": "Metric",
                "schema": {"properties": {
                    "v": {"type": "number"}, "w": {"type": "number"}, "s": {"type": "string"},
                    "vs": {"type": "array", "items": {"type": "number"}},
                }},
            })],
        )
        .await;
        let t = tenant(&store, org).await;
        let bodies = vec![
            json!({"identifier": "m1", "properties": {"v": 1, "s": "a", "vs": [100]}}),
            json!({"identifier": "m2", "properties": {"v": 2, "s": "b"}}),
            json!({"identifier": "m3", "properties": {"v": 3}}),
            json!({"identifier": "m4", "properties": {"v": 10.0}}),
            json!({"identifier": "m5", "properties": {"v": 2.5}}),
            json!({"identifier": "m6", "properties": {"s": "c"}}),
        ];
        let (ok, _) = write(&t, "m", bodies, &opts(WriteMode::Create)).await;
        assert_eq!(ok.len(), 6);
        t.commit().await.expect("commit");
        let bps = blueprints_of(&store, org).await;
        let cands = vec!["m".to_owned()];
        let agg = |q: Query, func: Func, property: &'static str| {
            let (store, bps, cands) = (store.clone(), bps.clone(), cands.clone());
            async move {
                let t = tenant(&store, org).await;
                search::aggregate(&t, &q, None, &bps, &cands, func, Some(property))
                    .await
                    .unwrap_or_else(|e| panic!("aggregate {func:?}: {e}"))
            }
        };
        let v = || prop("v", Kind::Number);
        let all = || and(vec![]);
        let close = |got: Option<f64>, want: Option<f64>, what: &str| match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{what}: {g} != {w}"),
            _ => assert_eq!(got, want, "{what}"),
        };
        close(agg(all(), Func::Count, "v").await, Some(6.0), "count");
        close(agg(all(), Func::Sum, "v").await, Some(18.5), "sum");
        close(agg(all(), Func::Min, "v").await, Some(1.0), "min");
        close(agg(all(), Func::Max, "v").await, Some(10.0), "max");
        close(agg(all(), Func::Average, "v").await, Some(3.7), "avg");
        close(agg(all(), Func::Median, "v").await, Some(2.5), "median");
        let gt2 = || and(vec![node(cmp(v(), Op::Gt, one_num(2.0)))]);
        close(agg(gt2(), Func::Count, "v").await, Some(3.0), "count > 2");
        close(agg(gt2(), Func::Sum, "v").await, Some(15.5), "sum > 2");
        close(agg(gt2(), Func::Min, "v").await, Some(2.5), "min > 2");
        close(
            agg(gt2(), Func::Average, "v").await,
            Some(15.5 / 3.0),
            "avg > 2",
        );
        close(agg(gt2(), Func::Median, "v").await, Some(3.0), "median > 2");
        let le3 = || and(vec![node(cmp(v(), Op::Le, one_num(3.0)))]);
        close(
            agg(le3(), Func::Median, "v").await,
            Some(2.25),
            "even median",
        );
        // The string property is not a number: nothing to aggregate.
        close(
            agg(all(), Func::Sum, "s").await,
            Some(0.0),
            "sum of strings",
        );
        close(agg(all(), Func::Max, "s").await, None, "max of strings");
        close(agg(all(), Func::Max, "vs").await, None, "max of an array");
        // Nobody has `w`; nothing matches `v < 0`.
        close(
            agg(all(), Func::Sum, "w").await,
            Some(0.0),
            "sum of nothing",
        );
        close(agg(all(), Func::Average, "w").await, None, "avg of nothing");
        let none = || and(vec![node(cmp(v(), Op::Lt, one_num(0.0)))]);
        close(
            agg(none(), Func::Count, "v").await,
            Some(0.0),
            "empty count",
        );
        close(agg(none(), Func::Sum, "v").await, Some(0.0), "empty sum");
        close(agg(none(), Func::Min, "v").await, None, "empty min");
        close(agg(none(), Func::Max, "v").await, None, "empty max");
        close(agg(none(), Func::Average, "v").await, None, "empty avg");
        close(agg(none(), Func::Median, "v").await, None, "empty median");
        // With a filter (a read policy).
        let t = tenant(&store, org).await;
        let filter = and(vec![node(cmp(
            prop("s", Kind::String),
            Op::In,
            Operand::Many(vec![Scalar::Str("a".into()), Scalar::Str("b".into())]),
        ))]);
        let got = search::aggregate(
            &t,
            &all(),
            Some(&filter),
            &bps,
            &cands,
            Func::Sum,
            Some("v"),
        )
        .await
        .expect("aggregate");
        close(got, Some(3.0), "sum with a filter");
        let got = search::aggregate(&t, &all(), Some(&filter), &bps, &cands, Func::Count, None)
            .await
            .expect("aggregate");
        close(got, Some(2.0), "count with a filter");
        assert!(
            search::aggregate(&t, &all(), None, &bps, &cands, Func::Sum, None)
                .await
                .is_err(),
            "sum needs a property"
        );
    })
    .await;
}
