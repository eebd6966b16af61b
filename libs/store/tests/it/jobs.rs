//! Data migrations: delete all entities of a blueprint in batches, cancel, failure.

use std::collections::BTreeMap;

use portolan_store::entities::WriteMode;
use portolan_store::{StoreError, blueprints, entities, jobs};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{
    actor, both, create_blueprints, edges, entity_rows, new_org, opts, seed_targets, svc, tenant,
    write, write_ok,
};

fn item_bp() -> Value {
    json!({
        "identifier": "item",
        "title": "Item",
        "schema": {"properties": {"n": {"type": "number"}}},
        "relations": {"next": {"target": "item", "many": false}},
    })
}

async fn seed_items(store: &portolan_store::Store, org: portolan_store::OrgId, n: usize) {
    create_blueprints(store, org, &[item_bp()]).await;
    let t = tenant(store, org).await;
    // Each item points at the one before (edges inside the blueprint, crossing batches).
    let bodies: Vec<Value> = (0..n)
        .map(|i| {
            let mut b = json!({"identifier": format!("i{i:05}"), "properties": {"n": i}});
            if i > 0 {
                b["relations"] = json!({"next": format!("i{:05}", i - 1)});
            }
            b
        })
        .collect();
    let (ok, failed) = write(&t, "item", bodies, &opts(WriteMode::Create)).await;
    assert_eq!((ok.len(), failed.len()), (n, 0));
    t.commit().await.expect("commit");
}

#[tokio::test]
async fn delete_all_runs_to_completion_in_batches() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_items(&store, org, 1_200).await;
        assert_eq!(edges(&store, org).await.len(), 1_199);

        let t = tenant(&store, org).await;
        let job = jobs::create_delete_all(&t, "item", false, &actor())
            .await
            .expect("create job");
        assert_eq!(job["status"], jobs::PENDING);
        assert_eq!(job["total"], 1_200);
        assert_eq!(job["processed"], 0);
        assert_eq!(job["progress"], 0);
        assert_eq!(job["sourceBlueprint"], "item");
        let id = job["id"].as_str().expect("id").to_owned();
        // One active job per blueprint.
        let second = jobs::create_delete_all(&t, "item", true, &actor()).await;
        assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
        assert_eq!(jobs::active_count(&t).await.expect("active"), 1);
        t.commit().await.expect("commit");

        let ran = jobs::run_next(&store, &CancellationToken::new())
            .await
            .expect("run");
        assert!(ran);
        assert!(
            !jobs::run_next(&store, &CancellationToken::new())
                .await
                .expect("run"),
            "nothing left to run"
        );

        let t = tenant(&store, org).await;
        let done = jobs::get(&t, &id).await.expect("get");
        assert_eq!(done["status"], jobs::COMPLETED);
        assert_eq!(done["processed"], 1_200);
        assert_eq!(done["progress"], 100);
        assert_eq!(done["failureReason"], json!(null));
        assert_eq!(entities::count(&t, "item").await.expect("count"), 0);
        assert!(blueprints::get(&t, "item").await.is_ok(), "blueprint kept");
        assert_eq!(jobs::active_count(&t).await.expect("active"), 0);
        assert_eq!(jobs::list(&t).await.expect("list").len(), 1);
        drop(t);
        assert!(edges(&store, org).await.is_empty());

        // One delete event per entity, written by batches of at most 500 (one transaction,
        // hence one timestamp, per batch).
        let evts = crate::support::events(&store, org).await;
        let deletes: Vec<_> = evts
            .iter()
            .filter(|e| e.r#type == "entity.deleted")
            .collect();
        assert_eq!(deletes.len(), 1_200);
        assert!(
            evts.iter().all(|e| e.r#type != "entity.updated"),
            "entities the job deletes anyway are not updated first"
        );
        let mut ids: Vec<&str> = deletes.iter().map(|e| e.resource_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1_200);
        let mut batches: BTreeMap<i64, usize> = BTreeMap::new();
        let mut first_seq_of: BTreeMap<String, i64> = BTreeMap::new();
        for e in &deletes {
            let seq = *first_seq_of
                .entry(e.occurred_at.to_rfc3339())
                .or_insert(e.seq);
            *batches.entry(seq).or_default() += 1;
        }
        let sizes: Vec<usize> = batches.values().copied().collect();
        assert_eq!(sizes, [500, 500, 200]);
        // The migration's own events: created, then updated to COMPLETED.
        let mig: Vec<_> = evts
            .iter()
            .filter(|e| e.resource_type == "migration")
            .map(|e| (e.action.as_str(), e.diff_json()["after"]["status"].clone()))
            .collect();
        assert_eq!(
            mig,
            [("CREATE", json!("PENDING")), ("UPDATE", json!("COMPLETED"))]
        );
    })
    .await;
}

#[tokio::test]
async fn delete_all_can_delete_the_blueprint_too() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_items(&store, org, 30).await;
        let t = tenant(&store, org).await;
        let job = jobs::create_delete_all(&t, "item", true, &actor())
            .await
            .expect("create job");
        t.commit().await.expect("commit");
        assert!(
            jobs::run_next(&store, &CancellationToken::new())
                .await
                .expect("run")
        );
        let t = tenant(&store, org).await;
        let done = jobs::get(&t, job["id"].as_str().expect("id"))
            .await
            .expect("get");
        assert_eq!(done["status"], jobs::COMPLETED);
        assert_eq!(done["deleteBlueprint"], true);
        assert!(matches!(
            blueprints::get(&t, "item").await,
            Err(StoreError::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn cancelling_a_pending_job() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_items(&store, org, 10).await;
        let t = tenant(&store, org).await;
        let job = jobs::create_delete_all(&t, "item", false, &actor())
            .await
            .expect("create job");
        let id = job["id"].as_str().expect("id").to_owned();
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let cancelled = jobs::cancel(&t, &id, &actor()).await.expect("cancel");
        assert_eq!(cancelled["status"], jobs::CANCELLED);
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        assert_eq!(
            jobs::get(&t, &id).await.expect("get")["status"],
            jobs::CANCELLED
        );
        assert_eq!(jobs::active_count(&t).await.expect("active"), 0);
        // Cancelling again is idempotent.
        assert_eq!(
            jobs::cancel(&t, &id, &actor()).await.expect("again")["status"],
            jobs::CANCELLED
        );
        t.commit().await.expect("commit");

        // Nothing runs, nothing is deleted.
        assert!(
            !jobs::run_next(&store, &CancellationToken::new())
                .await
                .expect("run")
        );
        assert_eq!(entity_rows(&store, org, "item").await.len(), 10);

        // A new job can be queued now; once completed it cannot be cancelled.
        let t = tenant(&store, org).await;
        let job = jobs::create_delete_all(&t, "item", false, &actor())
            .await
            .expect("second job");
        let id2 = job["id"].as_str().expect("id").to_owned();
        t.commit().await.expect("commit");
        assert!(
            jobs::run_next(&store, &CancellationToken::new())
                .await
                .expect("run")
        );
        let t = tenant(&store, org).await;
        let ended = jobs::cancel(&t, &id2, &actor()).await;
        assert!(matches!(ended, Err(StoreError::Conflict(_))), "{ended:?}");
        assert!(matches!(
            jobs::cancel(&t, "migration_nope", &actor()).await,
            Err(StoreError::NotFound { .. })
        ));
        let list = jobs::list(&t).await.expect("list");
        let statuses: Vec<&str> = list
            .iter()
            .map(|j| j["status"].as_str().expect("status"))
            .collect();
        assert_eq!(statuses, [jobs::COMPLETED, jobs::CANCELLED], "newest first");
    })
    .await;
}

#[tokio::test]
async fn a_shut_down_runner_leaves_the_job_for_another() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_items(&store, org, 5).await;
        let t = tenant(&store, org).await;
        let job = jobs::create_delete_all(&t, "item", false, &actor())
            .await
            .expect("create job");
        let id = job["id"].as_str().expect("id").to_owned();
        t.commit().await.expect("commit");
        let stopped = CancellationToken::new();
        stopped.cancel();
        assert!(jobs::run_next(&store, &stopped).await.expect("run"));
        let t = tenant(&store, org).await;
        let job = jobs::get(&t, &id).await.expect("get");
        assert_eq!(job["status"], jobs::RUNNING, "claimed, not finished");
        assert_eq!(entities::count(&t, "item").await.expect("count"), 5);
        assert_eq!(jobs::active_count(&t).await.expect("active"), 1);
    })
    .await;
}

#[tokio::test]
async fn delete_all_fails_when_other_entities_require_them() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            svc("api", "go", json!({"team": "t2"})),
            WriteMode::Create,
        )
        .await;
        let job = jobs::create_delete_all(&t, "team", false, &actor())
            .await
            .expect("create job");
        t.commit().await.expect("commit");
        assert!(
            jobs::run_next(&store, &CancellationToken::new())
                .await
                .expect("run")
        );
        let t = tenant(&store, org).await;
        let failed = jobs::get(&t, job["id"].as_str().expect("id"))
            .await
            .expect("get");
        assert_eq!(failed["status"], jobs::FAILURE);
        assert!(
            failed["failureReason"]
                .as_str()
                .is_some_and(|r| r.contains("required relation")),
            "{failed}"
        );
        // The batch was rolled back: both teams are still there.
        assert_eq!(entities::count(&t, "team").await.expect("count"), 2);
        assert!(matches!(
            jobs::create_delete_all(&t, "nope", false, &actor()).await,
            Err(StoreError::NotFound { .. })
        ));
    })
    .await;
}
