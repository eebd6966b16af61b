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
