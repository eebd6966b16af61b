use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn delete_all_entities_runs_async_and_can_delete_the_blueprint() {
    let app = spawn_app().await;
    catalog(&app).await;
    let many: Vec<_> = (0..1200)
        .map(|i| json!({"identifier": format!("t{i}")}))
        .collect();
    app.post(
        "/v1/blueprints/team/entities/bulk",
        json!({"entities": many[..1000]}),
    )
    .await
    .expect(200, None);
    app.post(
        "/v1/blueprints/team/entities/bulk",
        json!({"entities": many[1000..]}),
    )
    .await
    .expect(200, None);
    // A service holds a required relation to a team: the job fails on it, cleanly.
    app.post(
        "/v1/blueprints/service/entities",
        json!({"identifier": "s", "properties": {"language": "go"}, "relations": {"owner": "t5"}}),
    )
    .await
    .expect(201, None);
    let res = app
        .delete("/v1/blueprints/team/all-entities")
        .await
        .expect(202, None);
    let id = res["migrationId"].as_str().unwrap().to_owned();
    let m = app.wait_migration(&id).await;
    assert_eq!(m["status"], json!("FAILURE"), "{m}");
    assert!(
        m["failureReason"]
            .as_str()
            .unwrap()
            .contains("required relation"),
        "{m}"
    );
    app.delete("/v1/blueprints/service/entities/s")
        .await
        .expect(200, None);
    app.delete("/v1/blueprints/service").await.expect(200, None);

    let res = app
        .delete("/v1/blueprints/team/all-entities?delete_blueprint=true")
        .await
        .expect(202, None);
    let id = res["migrationId"].as_str().unwrap().to_owned();
    let m = app.wait_migration(&id).await;
    assert_eq!(m["status"], json!("COMPLETED"), "{m}");
    assert_eq!(m["progress"], json!(100));
    app.get("/v1/blueprints/team")
        .await
        .expect(404, Some("not_found"));
    let list = app.get("/v1/migrations").await.expect(200, None);
    assert_eq!(list["migrations"].as_array().unwrap().len(), 2);
    app.post(&format!("/v1/migrations/{id}/cancel"), json!({}))
        .await
        .expect(409, Some("conflict"));
    app.get("/v1/migrations/migration_nope")
        .await
        .expect(404, Some("not_found"));
    app.delete("/v1/blueprints/ghost/all-entities")
        .await
        .expect(404, Some("not_found"));
    app.stop().await;
}

#[tokio::test]
async fn a_pending_migration_can_be_cancelled() {
    use portolan_store::jobs;
    let app = spawn_app().await;
    catalog(&app).await;
    // Create the job directly, without waking the runner, and cancel it before it runs.
    let t = app.store.tenant(app.org).await.unwrap();
    let m = jobs::create_delete_all(&t, "team", false, &portolan_domain::event::Actor::system())
        .await
        .unwrap();
    t.commit().await.unwrap();
    let id = m["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/migrations/{id}/cancel"), json!({}))
        .await
        .expect(200, None);
    assert!(
        ["CANCELLED", "PENDING_CANCELLATION"]
            .contains(&res["migration"]["status"].as_str().unwrap())
    );
    let m = app.wait_migration(id).await;
    assert!(
        ["CANCELLED", "COMPLETED"].contains(&m["status"].as_str().unwrap()),
        "{m}"
    );
    app.get("/v1/blueprints/team").await.expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn a_delete_all_cancelled_half_way_leaves_no_dangling_relation() {
    let app = spawn_app().await;
    app.blueprint(
        json!({"identifier": "node", "title": "Node", "schema": {"properties": {}},
        "relations": {"next": {"target": "node", "required": false, "many": false},
                      "peers": {"target": "node", "required": false, "many": true}}}),
    )
    .await;
    // 4,000 nodes, each pointing at the next and at two peers far away.
    let n = 4000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let entities: Vec<_> = chunk
            .iter()
            .map(|i| json!({"identifier": format!("n{i:05}"),
                "relations": {"next": format!("n{:05}", (i + 1) % n), "peers": [format!("n{:05}", (i + 1700) % n), format!("n{:05}", (i + 3100) % n)]}}))
            .collect();
        app.post(
            "/v1/blueprints/node/entities/bulk?upsert=true&create_missing_related_entities=true",
            json!({"entities": entities}),
        )
        .await
        .expect(200, None);
    }
    let id = app
        .delete("/v1/blueprints/node/all-entities")
        .await
        .expect(202, None)["migrationId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Cancel as soon as the first batch is done.
    for _ in 0..2000 {
        let m = app
            .get(&format!("/v1/migrations/{id}"))
            .await
            .expect(200, None)["migration"]
            .clone();
        if m["processed"].as_i64().unwrap() > 0
            || m["status"] != json!("PENDING") && m["status"] != json!("RUNNING")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    app.post(&format!("/v1/migrations/{id}/cancel"), json!({}))
        .await;
    let m = app.wait_migration(&id).await;
    let left = app
        .get("/v1/blueprints/node/entities")
        .await
        .expect(200, None)["entities"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(m["status"], json!("CANCELLED"), "{m}");
    assert!(
        !left.is_empty() && left.len() < n,
        "cancelled half-way: {} left",
        left.len()
    );
    let alive: std::collections::HashSet<&str> = left
        .iter()
        .map(|e| e["identifier"].as_str().unwrap())
        .collect();
    for e in &left {
        if let Some(next) = e["relations"]["next"].as_str() {
            assert!(
                alive.contains(next),
                "{} points at deleted {next}",
                e["identifier"]
            );
        }
        for p in e["relations"]["peers"].as_array().unwrap() {
            assert!(
                alive.contains(p.as_str().unwrap()),
                "{} points at deleted {p}",
                e["identifier"]
            );
        }
    }
    // The edges agree with the entities.
    let edges: i64 = app.count_rows("entity_relations").await;
    let from_json: usize = left
        .iter()
        .map(|e| {
            usize::from(e["relations"]["next"].is_string())
                + e["relations"]["peers"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(edges as usize, from_json);
    app.stop().await;
}
