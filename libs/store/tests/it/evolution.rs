//! Blueprint evolution: renames move values, changes that would invalidate entities are
//! refused with the offenders, dry runs report without writing.

use portolan_store::entities::WriteMode;
use portolan_store::{StoreError, blueprints, entities};
use serde_json::{Value, json};

use crate::support::{
    actor, both, create_blueprints, edge, edges_from, entity_rows, get_entity, new_org, opts,
    seed_targets, tenant, write, write_ok,
};

fn component_bp() -> Value {
    json!({
        "identifier": "component",
        "title": "Component",
        "schema": {
            "properties": {
                "lang": {"type": "string"},
                "size": {"type": "string"},
                "note": {"type": "string"},
            },
            "required": ["lang"],
        },
    })
}

#[tokio::test]
async fn rename_property_moves_every_value() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[component_bp()]).await;
        let t = tenant(&store, org).await;
        let bodies: Vec<Value> = (0..5)
            .map(|i| {
                json!({"identifier": format!("c{i}"),
                       "properties": {"lang": format!("l{i}"), "note": "n"}})
            })
            .collect();
        let (ok, _) = write(&t, "component", bodies, &opts(WriteMode::Create)).await;
        assert_eq!(ok.len(), 5);
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        // A dry run first: reports, writes nothing.
        let dry = blueprints::rename_property(&t, "component", "lang", "language", true, &actor())
            .await
            .expect("dry run");
        assert!(dry.dry_run);
        assert_eq!(dry.impact.entities_checked, 5);
        assert_eq!(dry.impact.invalid_count, 0);
        assert!(
            dry.impact.removed_properties.is_empty(),
            "a rename removes nothing"
        );
        assert!(
            dry.blueprint["schema"]["properties"]
                .get("language")
                .is_some()
        );
        assert_eq!(
            blueprints::load(&t, "component")
                .await
                .expect("load")
                .model
                .version,
            1
        );
        let bp = blueprints::rename_property(&t, "component", "lang", "language", false, &actor())
            .await
            .expect("rename");
        assert!(!bp.dry_run);
        let bp = bp.blueprint;
        assert!(bp["schema"]["properties"].get("lang").is_none());
        assert_eq!(bp["schema"]["properties"]["language"]["type"], "string");
        assert_eq!(bp["schema"]["required"], json!(["language"]));
        t.commit().await.expect("commit");

        for i in 0..5 {
            let e = get_entity(&store, org, "component", &format!("c{i}"))
                .await
                .expect("entity");
            assert_eq!(e["properties"]["language"], format!("l{i}"));
            assert!(e["properties"].get("lang").is_none());
            assert_eq!(e["properties"]["note"], "n");
        }
        for row in entity_rows(&store, org, "component").await {
            assert!(row.properties.get("lang").is_none(), "stored value moved");
            assert!(row.properties.get("language").is_some());
            assert_eq!(row.blueprint_version, 2);
        }
        // The renamed property is required under its new name.
        let t = tenant(&store, org).await;
        let (ok, failed) = write(
            &t,
            "component",
            vec![json!({"identifier": "x", "properties": {"lang": "go"}})],
            &opts(WriteMode::Create),
        )
        .await;
        assert!(ok.is_empty());
        assert_eq!(failed.len(), 1);
        let who = actor();
        let rename = |from: &'static str, to: &'static str| {
            blueprints::rename_property(&t, "component", from, to, false, &who)
        };
        let clash = rename("language", "note").await;
        assert!(
            matches!(clash, Err(StoreError::AlreadyExists { .. })),
            "{clash:?}"
        );
        let missing = rename("lang", "x").await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { .. })),
            "{missing:?}"
        );
        let bad = rename("note", "not a key!").await;
        assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    })
    .await;
}

/// 150 entities that a type change breaks, 20 that it does not.
async fn seed_for_type_change(store: &portolan_store::Store, org: portolan_store::OrgId) {
    create_blueprints(store, org, &[component_bp()]).await;
    let t = tenant(store, org).await;
    let mut bodies: Vec<Value> = (0..150)
        .map(|i| {
            json!({"identifier": format!("bad-{i:03}"),
                   "properties": {"lang": "go", "size": format!("{i} MB")}})
        })
        .collect();
    bodies.extend(
        (0..20).map(|i| json!({"identifier": format!("ok-{i:02}"), "properties": {"lang": "go"}})),
    );
    let (ok, failed) = write(&t, "component", bodies, &opts(WriteMode::Create)).await;
    assert_eq!((ok.len(), failed.len()), (170, 0));
    t.commit().await.expect("commit");
}

fn size_becomes_a_number() -> Value {
    json!({"schema": {"properties": {"size": {"type": "number"}}}})
}

#[tokio::test]
async fn a_change_that_invalidates_entities_is_refused_with_the_offenders() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_for_type_change(&store, org).await;
        let events_before = crate::support::events(&store, org).await.len();
        let t = tenant(&store, org).await;
        let refused =
            blueprints::patch(&t, "component", &size_becomes_a_number(), false, &actor()).await;
        let Err(StoreError::WouldInvalidate { impact, message }) = refused else {
            panic!("an invalidating change was applied: {refused:?}");
        };
        assert_eq!(impact.entities_checked, 170);
        assert_eq!(impact.invalid_count, 150);
        assert_eq!(
            impact.invalid_entities.len(),
            100,
            "only the first 100 listed"
        );
        let listed: Vec<&str> = impact
            .invalid_entities
            .iter()
            .map(|e| e["identifier"].as_str().expect("identifier"))
            .collect();
        let expected: Vec<String> = (0..100).map(|i| format!("bad-{i:03}")).collect();
        assert_eq!(listed, expected, "the first 100 by identifier");
        let first_errors = impact.invalid_entities[0]["errors"]
            .as_array()
            .expect("errors");
        assert!(!first_errors.is_empty());
        assert_eq!(first_errors[0]["pointer"], "/properties/size");
        assert!(message.contains("150"), "{message}");
        t.commit().await.expect("commit");

        // Nothing changed.
        let t = tenant(&store, org).await;
        let stored = blueprints::load(&t, "component").await.expect("load");
        assert_eq!(stored.model.version, 1);
        assert_eq!(
            stored.model.definition_json().expect("json")["schema"]["properties"]["size"]["type"],
            "string"
        );
        drop(t);
        assert_eq!(
            crate::support::events(&store, org).await.len(),
            events_before
        );
        let e = get_entity(&store, org, "component", "bad-000")
            .await
            .expect("entity");
        assert_eq!(e["properties"]["size"], "0 MB");
    })
    .await;
}

#[tokio::test]
async fn dry_run_reports_the_impact_without_writing() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_for_type_change(&store, org).await;
        let t = tenant(&store, org).await;
        let out = blueprints::patch(&t, "component", &size_becomes_a_number(), true, &actor())
            .await
            .expect("a dry run reports instead of refusing");
        assert!(out.dry_run);
        assert_eq!(out.impact.entities_checked, 170);
        assert_eq!(out.impact.invalid_count, 150);
        assert_eq!(out.impact.invalid_entities.len(), 100);
        assert_eq!(
            out.blueprint["schema"]["properties"]["size"]["type"],
            "number"
        );

        // A valid change, dry run: removing `note` would drop its values; nothing written.
        let out = blueprints::patch(
            &t,
            "component",
            &json!({"schema": {"properties": {"size": null}}}),
            true,
            &actor(),
        )
        .await
        .expect("dry run");
        assert_eq!(out.impact.invalid_count, 0);
        assert_eq!(out.impact.removed_properties, ["size"]);
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let stored = blueprints::load(&t, "component").await.expect("load");
        assert_eq!(stored.model.version, 1);
        assert_eq!(
            stored.model.definition_json().expect("json")["schema"]["properties"]["size"]["type"],
            "string"
        );
        drop(t);
        let rows = entity_rows(&store, org, "component").await;
        assert!(rows.iter().all(|r| r.blueprint_version == 1));
        assert_eq!(rows[0].properties["size"], "0 MB");

        // Applied for real, the removal drops the values from every entity.
        let t = tenant(&store, org).await;
        let out = blueprints::patch(
            &t,
            "component",
            &json!({"schema": {"properties": {"size": null}}}),
            false,
            &actor(),
        )
        .await
        .expect("apply");
        assert!(!out.dry_run);
        t.commit().await.expect("commit");
        let rows = entity_rows(&store, org, "component").await;
        assert_eq!(rows.len(), 170);
        assert!(rows.iter().all(|r| r.properties.get("size").is_none()));
        assert!(rows.iter().all(|r| r.blueprint_version == 2));
    })
    .await;
}

#[tokio::test]
async fn relation_changes_follow_the_edges() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"language": "go"},
                   "relations": {"team": "t1", "domain": "d1"}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");

        // `team` becomes optional: the edge is no longer required, so deleting the team only
        // clears it.
        let t = tenant(&store, org).await;
        blueprints::patch(
            &t,
            "service",
            &json!({"relations": {"team": {"target": "team", "required": false, "many": false}}}),
            false,
            &actor(),
        )
        .await
        .expect("make team optional");
        t.commit().await.expect("commit");
        assert_eq!(
            edges_from(&store, org, "service", "api").await,
            [
                edge("service", "api", "domain", "domain", "d1", false),
                edge("service", "api", "team", "team", "t1", false),
            ]
        );
        let t = tenant(&store, org).await;
        entities::delete(&t, "team", "t1", false, &actor())
            .await
            .expect("delete an optional target");
        t.commit().await.expect("commit");
        assert!(get_entity(&store, org, "service", "api").await.is_some());

        // Dropping the `domain` relation drops its values and edges.
        let t = tenant(&store, org).await;
        let out = blueprints::patch(
            &t,
            "service",
            &json!({"relations": {"domain": null}}),
            false,
            &actor(),
        )
        .await
        .expect("drop relation");
        assert_eq!(out.impact.removed_relations, ["domain"]);
        t.commit().await.expect("commit");
        assert!(edges_from(&store, org, "service", "api").await.is_empty());
        let rows = entity_rows(&store, org, "service").await;
        assert!(rows[0].relations.get("domain").is_none());

        // Making a relation required that an entity lacks is refused.
        let t = tenant(&store, org).await;
        let refused = blueprints::patch(
            &t,
            "service",
            &json!({"relations": {"team": {"target": "team", "required": true}}}),
            false,
            &actor(),
        )
        .await;
        let Err(StoreError::WouldInvalidate { impact, .. }) = refused else {
            panic!("{refused:?}");
        };
        assert_eq!(impact.invalid_count, 1);
        assert_eq!(impact.invalid_entities[0]["identifier"], "api");
    })
    .await;
}
