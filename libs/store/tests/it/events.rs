//! Events are appended in the writing transaction: one per changed entity on commit, none
//! (and no rows) when the transaction is dropped.

use portolan_store::entities::{self, WriteMode, WriteOptions};
use portolan_store::{blueprints, events};
use serde_json::json;

use crate::support::{
    actor, both, edges, entity_count, entity_events, ev, new_org, opts, seed_targets, svc, tenant,
    write, write_ok,
};

#[tokio::test]
async fn one_event_per_changed_entity_with_before_and_after() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            svc("a", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");
        let before = crate::support::events(&store, org).await;

        let t = tenant(&store, org).await;
        let o = WriteOptions {
            run_id: Some("run-42".into()),
            ..opts(WriteMode::Replace)
        };
        let (ok, failed) = write(
            &t,
            "service",
            vec![
                // unchanged: no event
                svc("a", "go", json!({"team": "t1"})),
                svc("b", "go", json!({"team": "t1"})),
                svc("c", "rust", json!({"team": "t2"})),
                // invalid: no event
                svc("d", 1, json!({"team": "t2"})),
            ],
            &o,
        )
        .await;
        assert_eq!((ok.len(), failed.len()), (3, 1));
        // Visible inside the transaction already.
        let inside = events::all_for_org(&t).await.expect("events");
        assert_eq!(inside.len(), before.len() + 2);
        t.commit().await.expect("commit");

        let all = crate::support::events(&store, org).await;
        let new: Vec<_> = all[before.len()..].to_vec();
        assert_eq!(
            new.iter()
                .map(|e| (e.r#type.as_str(), e.resource_id.as_str()))
                .collect::<Vec<_>>(),
            [("entity.created", "b"), ("entity.created", "c")]
        );
        for e in &new {
            assert_eq!(e.run_id.as_deref(), Some("run-42"));
            assert_eq!(e.blueprint.as_deref(), Some("service"));
            assert_eq!(e.origin, "API");
            assert_eq!(e.actor_json()["by"], "tester");
            assert_eq!(e.status, "SUCCESS");
            assert!(e.published_at.is_none(), "not relayed yet");
            assert_eq!(e.diff_json()["before"], json!(null));
            assert_eq!(e.diff_json()["after"]["identifier"], e.resource_id.as_str());
            assert_eq!(
                e.context_json(),
                json!({"blueprintIdentifier": "service", "entityIdentifier": e.resource_id})
            );
        }
        assert!(new[0].seq < new[1].seq);

        // An update carries before and after.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "b", "properties": {"port": 1}}),
            WriteMode::Patch,
        )
        .await;
        t.commit().await.expect("commit");
        let last = crate::support::events(&store, org)
            .await
            .pop()
            .expect("event");
        assert_eq!(last.r#type, "entity.updated");
        assert_eq!(last.diff_json()["before"]["properties"]["port"], 8080);
        assert_eq!(last.diff_json()["after"]["properties"]["port"], 1);
    })
    .await;
}

#[tokio::test]
async fn a_dropped_transaction_leaves_no_rows_and_no_events() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            svc("keep", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");
        let n_entities = entity_count(&store, org).await;
        let n_events = crate::support::events(&store, org).await.len();
        let n_edges = edges(&store, org).await;

        let t = tenant(&store, org).await;
        let o = WriteOptions {
            create_missing_related: true,
            ..opts(WriteMode::Create)
        };
        let (ok, _) = write(
            &t,
            "service",
            vec![
                svc("x", "go", json!({"team": "t-bare", "deps": ["keep"]})),
                svc("y", "go", json!({"team": "t1"})),
            ],
            &o,
        )
        .await;
        assert_eq!(ok.len(), 2);
        write_ok(
            &t,
            "service",
            json!({"identifier": "keep", "title": "changed"}),
            WriteMode::Patch,
        )
        .await;
        entities::delete(&t, "domain", "d1", false, &actor())
            .await
            .expect("delete");
        blueprints::create(
            &t,
            &json!({"identifier": "extra", "title": "Extra", "schema": {"properties": {}}}),
            false,
            &actor(),
        )
        .await
        .expect("create blueprint");
        blueprints::patch(&t, "team", &json!({"title": "Squad"}), false, &actor())
            .await
            .expect("patch blueprint");
        assert!(
            events::all_for_org(&t).await.expect("events").len() > n_events,
            "events were appended inside the transaction"
        );
        drop(t); // no commit: rollback

        assert_eq!(entity_count(&store, org).await, n_entities);
        assert_eq!(crate::support::events(&store, org).await.len(), n_events);
        assert_eq!(edges(&store, org).await, n_edges);
        assert!(
            crate::support::get_entity(&store, org, "team", "t-bare")
                .await
                .is_none()
        );
        assert!(
            crate::support::get_entity(&store, org, "domain", "d1")
                .await
                .is_some()
        );
        let keep = crate::support::get_entity(&store, org, "service", "keep")
            .await
            .expect("keep");
        assert_eq!(keep["title"], json!(null));
        let t = tenant(&store, org).await;
        assert!(blueprints::get(&t, "extra").await.is_err());
        assert_eq!(
            blueprints::get(&t, "team").await.expect("team")["title"],
            "Team"
        );
        assert_eq!(
            blueprints::load(&t, "team")
                .await
                .expect("team")
                .model
                .version,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_bulk_write_appends_its_events_in_request_order() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        let bodies: Vec<_> = (0..25)
            .map(|i| svc(&format!("s{i:02}"), "go", json!({"team": "t1"})))
            .collect();
        let (ok, failed) = write(&t, "service", bodies, &opts(WriteMode::Create)).await;
        assert_eq!((ok.len(), failed.len()), (25, 0));
        t.commit().await.expect("commit");
        let evts: Vec<_> = entity_events(&store, org)
            .await
            .into_iter()
            .filter(|e| e.1 == "service")
            .collect();
        let expected: Vec<_> = (0..25)
            .map(|i| ev("CREATE", "service", &format!("s{i:02}")))
            .collect();
        assert_eq!(evts, expected);
    })
    .await;
}
