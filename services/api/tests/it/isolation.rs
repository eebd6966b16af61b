//! Org B's token never sees or changes org A's blueprints or entities.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn another_org_sees_nothing_and_changes_nothing() {
    let app = spawn_app().await;
    catalog(&app).await;
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "core"}),
    )
    .await
    .expect(201, None);
    let (_, other) = app.other_org().await;
    let as_b = |m: Method, p: &str, b: Option<serde_json::Value>| {
        let p = p.to_owned();
        let app = &app;
        let other = other.clone();
        async move { app.call_as(&other, m, &p, b).await }
    };
    let list = as_b(Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    assert_eq!(list["blueprints"], json!([]));
    for (m, p, b) in [
        (Method::GET, "/v1/blueprints/team", None),
        (
            Method::PUT,
            "/v1/blueprints/team",
            Some(json!({"identifier": "team", "title": "Mine", "schema": {"properties": {}}})),
        ),
        (
            Method::PATCH,
            "/v1/blueprints/team",
            Some(json!({"title": "Mine"})),
        ),
        (Method::DELETE, "/v1/blueprints/team", None),
        (Method::GET, "/v1/blueprints/team/entities", None),
        (Method::GET, "/v1/blueprints/team/entities/core", None),
        (Method::GET, "/v1/blueprints/team/entities-count", None),
        (
            Method::PATCH,
            "/v1/blueprints/team/entities/core",
            Some(json!({"title": "x"})),
        ),
        (Method::DELETE, "/v1/blueprints/team/entities/core", None),
        (
            Method::POST,
            "/v1/blueprints/team/entities",
            Some(json!({"identifier": "x"})),
        ),
        (
            Method::POST,
            "/v1/blueprints/team/bulk/entities/delete",
            Some(json!({"entities": ["core"]})),
        ),
        (Method::DELETE, "/v1/blueprints/team/all-entities", None),
        (
            Method::PATCH,
            "/v1/blueprints/team/properties/size/rename",
            Some(json!({"newPropertyName": "s"})),
        ),
    ] {
        as_b(m.clone(), p, b).await.expect(404, Some("not_found"));
    }
    // Org B may use the same identifiers for its own blueprint, and cannot relate to A's entity.
    as_b(
        Method::POST,
        "/v1/blueprints",
        Some(json!({"identifier": "team", "title": "B team", "schema": {"properties": {}}})),
    )
    .await
    .expect(201, None);
    as_b(
        Method::POST,
        "/v1/blueprints",
        Some(
            json!({"identifier": "svc", "title": "S", "schema": {"properties": {}},
        "relations": {"owner": {"target": "team", "required": false, "many": false}}}),
        ),
    )
    .await
    .expect(201, None);
    as_b(
        Method::POST,
        "/v1/blueprints/svc/entities",
        Some(json!({"identifier": "s", "relations": {"owner": "core"}})),
    )
    .await
    .expect(422, Some("invalid_request"));
    let audit = as_b(Method::GET, "/v1/audit-log?limit=1000", None)
        .await
        .expect(200, None);
    assert!(
        audit["audits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["context"]["entityIdentifier"] != json!("core"))
    );
    // A's data is untouched.
    let bp = app.get("/v1/blueprints/team").await.expect(200, None);
    assert_eq!(bp["blueprint"]["title"], json!("Team"));
    app.get("/v1/blueprints/team/entities/core")
        .await
        .expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn row_level_security_hides_other_orgs_even_without_a_filter() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    catalog(&app).await;
    let (other, _) = app.other_org().await;
    // Count blueprints with no WHERE clause inside a tenant transaction of the other org.
    let conn = app.store.connection();
    let backend = conn.get_database_backend();
    let tx = sea_orm::TransactionTrait::begin(conn).await.unwrap();
    tx.execute_unprepared(&format!(
        "SET LOCAL ROLE portolan_tenant; SELECT set_config('portolan.org_id', '{other}', true)"
    ))
    .await
    .unwrap();
    let row = tx
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM blueprints",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
    // And it cannot insert a row for org A.
    let err = tx
        .execute_unprepared(&format!(
            "INSERT INTO blueprints (org_id, identifier, version, definition, created_at, updated_at, created_by, updated_by) \
             VALUES ('{}', 'sneaky', 1, '{{}}', now(), now(), 'x', 'x')",
            app.org
        ))
        .await;
    assert!(err.is_err(), "RLS must refuse a row of another org");
    drop(tx);
    app.stop().await;
}
