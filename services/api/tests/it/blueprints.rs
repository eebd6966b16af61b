use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn create_get_list_and_delete_a_blueprint() {
    let app = spawn_app().await;
    let bp = app
        .blueprint(json!({"identifier": "svc", "title": "Service", "icon": "Service", "custom": {"kept": true},
            "schema": {"properties": {"lang": {"type": "string", "title": "Language"}}, "required": []}}))
        .await;
    assert_eq!(bp["identifier"], json!("svc"));
    assert_eq!(
        bp["custom"],
        json!({"kept": true}),
        "unknown top-level members are kept"
    );
    assert!(bp["createdAt"].is_string() && bp["updatedBy"].is_string());
    let got = app.get("/v1/blueprints/svc").await.expect(200, None);
    assert_eq!(
        got["blueprint"]["schema"]["properties"]["lang"]["title"],
        json!("Language")
    );
    let list = app.get("/v1/blueprints").await.expect(200, None);
    assert_eq!(list["blueprints"].as_array().unwrap().len(), 1);
    app.post(
        "/v1/blueprints",
        json!({"identifier": "svc", "title": "Again", "schema": {"properties": {}}}),
    )
    .await
    .expect(409, Some("identifier_taken"));
    app.delete("/v1/blueprints/svc").await.expect(200, None);
    app.get("/v1/blueprints/svc")
        .await
        .expect(404, Some("not_found"));
    app.delete("/v1/blueprints/svc")
        .await
        .expect(404, Some("not_found"));
    app.stop().await;
}

#[tokio::test]
async fn invalid_definitions_are_422_with_pointers_and_write_nothing() {
    let app = spawn_app().await;
    let long = "b".repeat(101);
    let cases = [
        (
            json!({"title": "No id", "schema": {"properties": {}}}),
            "/identifier",
        ),
        (
            json!({"identifier": long, "title": "t", "schema": {"properties": {}}}),
            "/identifier",
        ),
        (
            json!({"identifier": "a b", "title": "t", "schema": {"properties": {}}}),
            "/identifier",
        ),
        (
            json!({"identifier": "x", "schema": {"properties": {}}}),
            "/title",
        ),
        (json!({"identifier": "x", "title": "t"}), "/schema"),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {"p": {"type": "strange"}}}}),
            "/schema/properties/p",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {"p": {"type": "number", "minLength": 2}}}}),
            "/schema/properties/p",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {"p": {"type": "string", "format": "nope"}}}}),
            "/schema/properties/p",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {}, "required": ["ghost"]}}),
            "/schema/required",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {}},
            "relations": {"r": {"target": "missing", "required": false, "many": false}}}),
            "/relations/r/target",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {}},
            "relations": {"r": {"target": "x", "required": true, "many": true}}}),
            "/relations/r",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {}},
            "mirrorProperties": {"m": {"title": "M", "path": "r.$title"}}}),
            "/mirrorProperties",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {}},
            "calculationProperties": {"c": {"title": "C", "type": "string", "calculation": ".title"}}}),
            "/calculationProperties",
        ),
        (
            json!({"identifier": "x", "title": "t", "schema": {"properties": {}},
            "aggregationProperties": {"a": {"title": "A", "type": "number", "target": "x"}}}),
            "/aggregationProperties",
        ),
    ];
    for (body, pointer) in cases {
        let err = app
            .post("/v1/blueprints", body.clone())
            .await
            .expect(422, Some("invalid_request"));
        let pointers: Vec<&str> = err["details"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert!(
            pointers.iter().any(|p| p.starts_with(pointer)),
            "{body} -> {pointers:?}"
        );
    }
    assert_eq!(app.count_rows("blueprints").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_change_that_would_invalidate_entities_is_refused_with_the_offenders() {
    let app = spawn_app().await;
    catalog(&app).await;
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "core"}),
    )
    .await
    .expect(201, None);
    for i in 0..3 {
        app.post("/v1/blueprints/service/entities",
            json!({"identifier": format!("s{i}"), "properties": {"language": "rust", "port": 8000 + i}, "relations": {"owner": "core"}}))
            .await
            .expect(201, None);
    }
    // `port` becomes a string: every stored entity would be invalid.
    let patch = json!({"schema": {"properties": {"port": {"type": "string", "minimum": null, "maximum": null}}}});
    let dry = app
        .patch("/v1/blueprints/service?dry_run=true", patch.clone())
        .await
        .expect(200, None);
    assert_eq!(dry["dryRun"], json!(true));
    assert_eq!(dry["impact"]["invalidCount"], json!(3));
    assert_eq!(dry["impact"]["entitiesChecked"], json!(3));
    let err = app
        .patch("/v1/blueprints/service", patch)
        .await
        .expect(422, Some("entities_would_be_invalid"));
    let offenders = err["details"]["impact"]["invalidEntities"]
        .as_array()
        .unwrap();
    assert_eq!(offenders.len(), 3);
    assert_eq!(
        offenders[0]["errors"][0]["pointer"],
        json!("/properties/port")
    );
    let bp = app.get("/v1/blueprints/service").await.expect(200, None);
    assert_eq!(
        bp["blueprint"]["schema"]["properties"]["port"]["type"],
        json!("number"),
        "nothing changed"
    );

    // Removing a property is allowed and drops its values; the dry run says so first.
    let mut def = bp["blueprint"].clone();
    def["schema"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("port");
    let dry = app
        .put("/v1/blueprints/service?dry_run=true", def.clone())
        .await
        .expect(200, None);
    assert_eq!(dry["impact"]["removedProperties"], json!(["port"]));
    assert_eq!(dry["impact"]["invalidCount"], json!(0));
    app.put("/v1/blueprints/service", def)
        .await
        .expect(200, None);
    let e = app
        .get("/v1/blueprints/service/entities/s1")
        .await
        .expect(200, None);
    assert!(e["entity"]["properties"].get("port").is_none());
    // Making an unset property required would invalidate all three.
    let err = app
        .patch(
            "/v1/blueprints/service",
            json!({"schema": {"required": ["language", "url"]}}),
        )
        .await
        .expect(422, Some("entities_would_be_invalid"));
    assert_eq!(err["details"]["impact"]["invalidCount"], json!(3));
    app.stop().await;
}

#[tokio::test]
async fn renames_move_values_and_edges() {
    let app = spawn_app().await;
    catalog(&app).await;
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "core"}),
    )
    .await
    .expect(201, None);
    app.post("/v1/blueprints/service/entities",
        json!({"identifier": "api", "properties": {"language": "go", "port": 80}, "relations": {"owner": "core"}}))
        .await
        .expect(201, None);
    let dry = app
        .patch(
            "/v1/blueprints/service/properties/port/rename?dry_run=true",
            json!({"newPropertyName": "listenPort"}),
        )
        .await
        .expect(200, None);
    assert_eq!(dry["dryRun"], json!(true));
    assert_eq!(dry["impact"]["entitiesChecked"], json!(1));
    assert!(
        dry["blueprint"]["schema"]["properties"]
            .get("listenPort")
            .is_some()
    );
    let still = app
        .get("/v1/blueprints/service/entities/api")
        .await
        .expect(200, None);
    assert_eq!(
        still["entity"]["properties"]["port"],
        json!(80),
        "a dry run writes nothing"
    );
    let bp = app
        .patch(
            "/v1/blueprints/service/properties/port/rename",
            json!({"newPropertyName": "listenPort"}),
        )
        .await
        .expect(200, None);
    assert!(
        bp["blueprint"]["schema"]["properties"]
            .get("listenPort")
            .is_some()
    );
    let bp = app
        .patch(
            "/v1/blueprints/service/properties/language/rename",
            json!({"newPropertyName": "lang"}),
        )
        .await
        .expect(200, None);
    assert_eq!(bp["blueprint"]["schema"]["required"], json!(["lang"]));
    app.patch(
        "/v1/blueprints/service/relations/owner/rename",
        json!({"newRelationIdentifier": "ownedBy"}),
    )
    .await
    .expect(200, None);
    let e = app
        .get("/v1/blueprints/service/entities/api")
        .await
        .expect(200, None)["entity"]
        .clone();
    assert_eq!(e["properties"]["listenPort"], json!(80));
    assert_eq!(e["properties"]["lang"], json!("go"));
    assert_eq!(e["relations"]["ownedBy"], json!("core"));
    // The edge moved too: the team is still protected by the (renamed) required relation.
    app.delete("/v1/blueprints/team/entities/core")
        .await
        .expect(409, Some("has_dependents"));
    // Errors: unknown property, taken name, invalid name, mirror.
    app.patch(
        "/v1/blueprints/service/properties/ghost/rename",
        json!({"newPropertyName": "x"}),
    )
    .await
    .expect(404, Some("not_found"));
    app.patch(
        "/v1/blueprints/service/properties/lang/rename",
        json!({"newPropertyName": "listenPort"}),
    )
    .await
    .expect(409, Some("identifier_taken"));
    app.patch(
        "/v1/blueprints/service/properties/lang/rename",
        json!({"newPropertyName": "a.b"}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.patch("/v1/blueprints/service/properties/lang/rename", json!({}))
        .await
        .expect(422, Some("invalid_request"));
    app.patch(
        "/v1/blueprints/service/mirror/m/rename",
        json!({"newMirrorName": "n"}),
    )
    .await
    .expect(404, Some("not_found"));
    app.stop().await;
}

#[tokio::test]
async fn delete_refuses_while_entities_or_relations_depend_on_it() {
    let app = spawn_app().await;
    catalog(&app).await;
    app.delete("/v1/blueprints/team")
        .await
        .expect(409, Some("has_dependents"));
    app.post("/v1/blueprints/team/entities", json!({"identifier": "t"}))
        .await
        .expect(201, None);
    let count = app
        .get("/v1/blueprints/team/entities-count")
        .await
        .expect(200, None);
    assert_eq!(count["count"], json!(1));
    app.delete("/v1/blueprints/service").await.expect(200, None);
    app.delete("/v1/blueprints/team")
        .await
        .expect(409, Some("has_dependents"));
    app.stop().await;
}

#[tokio::test]
async fn permissions_show_the_effective_defaults_and_validate_changes() {
    let app = spawn_app().await;
    catalog(&app).await;
    let p = app
        .get("/v1/blueprints/service/permissions")
        .await
        .expect(200, None);
    assert_eq!(
        p["permissions"]["entities"]["updateProperties"]["language"]["roles"],
        json!(["Admin", "service-moderator"])
    );
    assert_eq!(
        p["permissions"]["entities"]["read"]["roles"],
        json!(["Admin", "Member", "service-moderator"])
    );
    let bad = app
        .patch(
            "/v1/blueprints/service/permissions",
            json!({"entities": {"register": {"roles": ["Owner"]}, "updateProperties": {"nope": {"roles": []}},
                   "read": {"policy": {"combinator": "and", "rules": [{"property": "ghost", "operator": "=", "value": 1}]}}}}),
        )
        .await
        .expect(422, Some("invalid_request"));
    let pointers: Vec<&str> = bad["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/entities/register/roles/0"), "{bad}");
    assert!(
        pointers.contains(&"/entities/updateProperties/nope"),
        "{bad}"
    );
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/entities/read/policy")),
        "{bad}"
    );
    // Nothing changed.
    let again = app
        .get("/v1/blueprints/service/permissions")
        .await
        .expect(200, None);
    assert_eq!(again, p);
    let changed = app
        .patch(
            "/v1/blueprints/service/permissions",
            json!({"entities": {"register": {"roles": ["Member"]}, "updateProperties": {"language": {"ownedByTeam": true}}}}),
        )
        .await
        .expect(200, None);
    assert_eq!(
        changed["permissions"]["entities"]["register"]["roles"],
        json!(["Member"])
    );
    assert_eq!(
        changed["permissions"]["entities"]["updateProperties"]["language"]["ownedByTeam"],
        json!(true)
    );
    assert_eq!(
        app.get("/v1/blueprints/service/permissions")
            .await
            .expect(200, None),
        changed
    );
    app.get("/v1/blueprints/ghost/permissions")
        .await
        .expect(404, Some("not_found"));
    app.stop().await;
}
