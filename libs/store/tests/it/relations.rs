//! The `entity_relations` edges: written with entities, replaced on update, removed on
//! delete; required dependents block a delete unless it cascades.

use portolan_store::StoreError;
use portolan_store::entities::{self, WriteMode};
use serde_json::json;

use crate::support::{
    actor, both, edge, edges, edges_from, edges_to, entity_events, entity_rows, ev, get_entity,
    new_org, seed_targets, svc, tenant, write_ok,
};

#[tokio::test]
async fn edges_are_indexed_both_ways_and_replaced_on_update() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            svc("db", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"language": "go"},
                   "relations": {"team": "t1", "domain": "d1", "deps": ["db", "api"]}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");

        let api_out = vec![
            edge("service", "api", "deps", "service", "api", false),
            edge("service", "api", "deps", "service", "db", false),
            edge("service", "api", "domain", "domain", "d1", false),
            edge("service", "api", "team", "team", "t1", true),
        ];
        assert_eq!(edges_from(&store, org, "service", "api").await, api_out);
        assert_eq!(
            edges_to(&store, org, "team", "t1").await,
            [
                edge("service", "api", "team", "team", "t1", true),
                edge("service", "db", "team", "team", "t1", true),
            ]
        );
        assert_eq!(
            edges_to(&store, org, "service", "db").await,
            [edge("service", "api", "deps", "service", "db", false)]
        );
        assert_eq!(
            edges_to(&store, org, "domain", "d1").await,
            [edge("service", "api", "domain", "domain", "d1", false)]
        );

        // Replace: the edges follow the new values.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"language": "go"},
                   "relations": {"team": "t2", "deps": ["db"]}}),
            WriteMode::Replace,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(
            edges_from(&store, org, "service", "api").await,
            [
                edge("service", "api", "deps", "service", "db", false),
                edge("service", "api", "team", "team", "t2", true),
            ]
        );
        assert!(edges_to(&store, org, "domain", "d1").await.is_empty());
        assert_eq!(
            edges_to(&store, org, "team", "t1").await,
            [edge("service", "db", "team", "team", "t1", true)]
        );

        // Merge: a null relation removes its edges, the others stay.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "relations": {"deps": null, "domain": "d2"}}),
            WriteMode::Merge,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(
            edges_from(&store, org, "service", "api").await,
            [
                edge("service", "api", "domain", "domain", "d2", false),
                edge("service", "api", "team", "team", "t2", true),
            ]
        );
        assert!(edges_to(&store, org, "service", "db").await.is_empty());

        // Delete of the source: its edges go.
        let t = tenant(&store, org).await;
        entities::delete(&t, "service", "api", false, &actor())
            .await
            .expect("delete api");
        t.commit().await.expect("commit");
        assert!(edges_from(&store, org, "service", "api").await.is_empty());
        assert!(edges_to(&store, org, "domain", "d2").await.is_empty());
        assert_eq!(
            edges(&store, org).await,
            [edge("service", "db", "team", "team", "t1", true)]
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_a_required_target_is_refused_unless_dependents_go_too() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        for (id, deps) in [
            ("db", json!([])),
            ("api", json!(["db"])),
            ("web", json!(["api"])),
        ] {
            write_ok(
                &t,
                "service",
                json!({"identifier": id, "properties": {"language": "go"},
                       "relations": {"team": "t1", "deps": deps}}),
                WriteMode::Create,
            )
            .await;
        }
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let refused = entities::delete(&t, "team", "t1", false, &actor()).await;
        let Err(StoreError::HasDependents { dependents, .. }) = refused else {
            panic!("a required target was deleted: {refused:?}");
        };
        let mut holders: Vec<&str> = dependents
            .iter()
            .map(|d| d["identifier"].as_str().expect("identifier"))
            .collect();
        holders.sort_unstable();
        assert_eq!(holders, ["api", "db", "web"]);
        assert!(
            dependents
                .iter()
                .all(|d| d["relation"] == "team" && d["target"] == "t1")
        );
        drop(t);
        assert!(get_entity(&store, org, "team", "t1").await.is_some());
        assert_eq!(entity_rows(&store, org, "service").await.len(), 3);

        let t = tenant(&store, org).await;
        let mut deleted = entities::delete(&t, "team", "t1", true, &actor())
            .await
            .expect("cascade");
        deleted.sort();
        assert_eq!(
            deleted,
            [
                ("service".to_owned(), "api".to_owned()),
                ("service".to_owned(), "db".to_owned()),
                ("service".to_owned(), "web".to_owned()),
                ("team".to_owned(), "t1".to_owned()),
            ]
        );
        t.commit().await.expect("commit");
        assert!(get_entity(&store, org, "team", "t1").await.is_none());
        assert!(entity_rows(&store, org, "service").await.is_empty());
        assert!(edges(&store, org).await.is_empty());
        assert!(
            get_entity(&store, org, "team", "t2").await.is_some(),
            "untouched"
        );
        let evts = entity_events(&store, org).await;
        for id in ["api", "db", "web"] {
            assert!(evts.contains(&ev("DELETE", "service", id)), "{id}");
        }
        assert!(evts.contains(&ev("DELETE", "team", "t1")));
    })
    .await;
}

#[tokio::test]
async fn deleting_an_optional_target_clears_it_on_its_holders() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            svc("db", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        write_ok(
            &t,
            "service",
            svc("cache", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"language": "go"},
                   "relations": {"team": "t1", "domain": "d1", "deps": ["db", "cache"]}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        entities::delete(&t, "domain", "d1", false, &actor())
            .await
            .expect("delete domain");
        entities::delete(&t, "service", "db", false, &actor())
            .await
            .expect("delete db");
        t.commit().await.expect("commit");

        let api = get_entity(&store, org, "service", "api")
            .await
            .expect("api stays");
        assert_eq!(api["relations"]["domain"], json!(null));
        assert_eq!(api["relations"]["deps"], json!(["cache"]));
        assert_eq!(
            edges_from(&store, org, "service", "api").await,
            [
                edge("service", "api", "deps", "service", "cache", false),
                edge("service", "api", "team", "team", "t1", true),
            ]
        );
        let evts = entity_events(&store, org).await;
        let tail: Vec<_> = evts[evts.len() - 4..].to_vec();
        assert_eq!(
            tail,
            [
                ev("UPDATE", "service", "api"),
                ev("DELETE", "domain", "d1"),
                ev("UPDATE", "service", "api"),
                ev("DELETE", "service", "db"),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_a_set_that_holds_its_own_dependents_needs_no_cascade() {
    both(|store| async move {
        let org = new_org(&store).await;
        crate::support::create_blueprints(
            &store,
            org,
            &[json!({
                "identifier": "node",
                "title": "Node",
                "schema": {"properties": {}},
                "relations": {"parent": {"target": "node", "required": true, "many": false}},
            })],
        )
        .await;
        let t = tenant(&store, org).await;
        // The root is its own parent (a target written by the same request is fine).
        let (ok, failed) = crate::support::write(
            &t,
            "node",
            vec![
                json!({"identifier": "root", "relations": {"parent": "root"}}),
                json!({"identifier": "leaf", "relations": {"parent": "root"}}),
            ],
            &crate::support::opts(WriteMode::Create),
        )
        .await;
        assert_eq!((ok.len(), failed.len()), (2, 0), "{failed:?}");
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let refused = entities::delete(&t, "node", "root", false, &actor()).await;
        let Err(StoreError::HasDependents { dependents, .. }) = refused else {
            panic!("a required target was deleted: {refused:?}");
        };
        assert_eq!(
            dependents,
            [json!({"blueprint": "node", "identifier": "leaf",
                    "relation": "parent", "target": "root"})]
        );
        let both_nodes = ["root".to_owned(), "leaf".to_owned()];
        let deleted = entities::bulk_delete(&t, "node", &both_nodes, false, &actor())
            .await
            .expect("the set holds its own dependents");
        assert_eq!(deleted.len(), 2);
        t.commit().await.expect("commit");
        assert!(entity_rows(&store, org, "node").await.is_empty());
        assert!(edges(&store, org).await.is_empty());
    })
    .await;
}
