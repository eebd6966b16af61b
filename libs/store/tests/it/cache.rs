//! The compiled-validator cache never serves a stale definition.

use portolan_store::entities::WriteMode;
use portolan_store::{StoreError, blueprints};
use serde_json::{Value, json};

use crate::support::{actor, both, create_blueprints, new_org, tenant, write_err, write_ok};

fn pkg(max: u32) -> Value {
    json!({
        "identifier": "pkg",
        "title": "Package",
        "schema": {"properties": {
            "size": {"type": "number", "maximum": max},
            "kind": {"type": "string", "enum": ["lib", "bin"]},
        }},
    })
}

fn ent(id: &str, properties: Value) -> Value {
    json!({"identifier": id, "properties": properties})
}

fn invalid(e: &StoreError) -> bool {
    matches!(e, StoreError::Invalid(_))
}

#[tokio::test]
async fn a_blueprint_change_is_seen_by_the_next_write() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[pkg(100)]).await;

        // Invalid before, valid after (in separate transactions).
        let t = tenant(&store, org).await;
        let e = write_err(
            &t,
            "pkg",
            ent("p1", json!({"kind": "test"})),
            WriteMode::Create,
        )
        .await;
        assert!(invalid(&e), "{e:?}");
        blueprints::patch(
            &t,
            "pkg",
            &json!({"schema": {"properties": {
                "kind": {"type": "string", "enum": ["lib", "bin", "test"]},
            }}}),
            false,
            &actor(),
        )
        .await
        .expect("widen the enum");
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "pkg",
            ent("p1", json!({"kind": "test"})),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");

        // Valid before, invalid after (within one transaction).
        let t = tenant(&store, org).await;
        write_ok(&t, "pkg", ent("p2", json!({"size": 50})), WriteMode::Create).await;
        // Lowering the maximum would invalidate p2: refused.
        let refused = blueprints::patch(
            &t,
            "pkg",
            &json!({"schema": {"properties": {"size": {"type": "number", "maximum": 10}}}}),
            false,
            &actor(),
        )
        .await;
        assert!(
            matches!(refused, Err(StoreError::WouldInvalidate { .. })),
            "{refused:?}"
        );
        write_ok(&t, "pkg", ent("p2", json!({"size": 5})), WriteMode::Replace).await;
        blueprints::patch(
            &t,
            "pkg",
            &json!({"schema": {"properties": {"size": {"type": "number", "maximum": 10}}}}),
            false,
            &actor(),
        )
        .await
        .expect("lower the maximum");
        let e = write_err(&t, "pkg", ent("p3", json!({"size": 50})), WriteMode::Create).await;
        assert!(invalid(&e), "the old maximum was used: {e:?}");
        write_ok(&t, "pkg", ent("p3", json!({"size": 7})), WriteMode::Create).await;
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        let e = write_err(&t, "pkg", ent("p4", json!({"size": 11})), WriteMode::Create).await;
        assert!(invalid(&e), "{e:?}");
        assert_eq!(
            blueprints::load(&t, "pkg")
                .await
                .expect("load")
                .model
                .version,
            3
        );
    })
    .await;
}

#[tokio::test]
async fn a_rename_is_seen_by_the_next_write() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[pkg(100)]).await;
        let t = tenant(&store, org).await;
        write_ok(&t, "pkg", ent("p1", json!({"size": 1})), WriteMode::Create).await;
        blueprints::rename_property(&t, "pkg", "size", "bytes", false, &actor())
            .await
            .expect("rename");
        let e = write_err(
            &t,
            "pkg",
            ent("p2", json!({"bytes": 500})),
            WriteMode::Create,
        )
        .await;
        assert!(invalid(&e), "maximum kept under the new name: {e:?}");
        let w = write_ok(&t, "pkg", ent("p2", json!({"bytes": 5})), WriteMode::Create).await;
        assert_eq!(w.entity["properties"], json!({"bytes": 5, "kind": null}));
        t.commit().await.expect("commit");
    })
    .await;
}

#[tokio::test]
async fn a_blueprint_deleted_and_created_again_is_validated_by_its_new_definition() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[pkg(100)]).await;
        let t = tenant(&store, org).await;
        // Compiles and caches version 1 of the first definition.
        write_ok(&t, "pkg", ent("p1", json!({"size": 50})), WriteMode::Create).await;
        portolan_store::entities::delete(&t, "pkg", "p1", false, &actor())
            .await
            .expect("delete p1");
        blueprints::delete(&t, "pkg", &actor())
            .await
            .expect("delete blueprint");
        t.commit().await.expect("commit");

        // Same identifier, version 1 again, a stricter definition.
        create_blueprints(&store, org, &[pkg(10)]).await;
        let t = tenant(&store, org).await;
        let (ok, failed) = crate::support::write(
            &t,
            "pkg",
            vec![ent("p2", json!({"size": 50}))],
            &crate::support::opts(WriteMode::Create),
        )
        .await;
        assert!(
            ok.is_empty() && failed.len() == 1,
            "size 50 accepted against maximum 10: the validator of the deleted blueprint was served"
        );
    })
    .await;
}

#[tokio::test]
async fn a_rolled_back_change_does_not_poison_the_cache() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[pkg(100)]).await;

        // A change to version 2 that is used, then rolled back.
        let t = tenant(&store, org).await;
        blueprints::patch(
            &t,
            "pkg",
            &json!({"schema": {"properties": {"size": {"type": "number", "maximum": 1000}}}}),
            false,
            &actor(),
        )
        .await
        .expect("raise the maximum");
        write_ok(
            &t,
            "pkg",
            ent("big", json!({"size": 500})),
            WriteMode::Create,
        )
        .await;
        drop(t);

        // Another change to version 2 that is committed.
        let t = tenant(&store, org).await;
        blueprints::patch(
            &t,
            "pkg",
            &json!({"schema": {"properties": {"size": {"type": "number", "maximum": 10}}}}),
            false,
            &actor(),
        )
        .await
        .expect("lower the maximum");
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        assert_eq!(
            blueprints::load(&t, "pkg")
                .await
                .expect("load")
                .model
                .version,
            2
        );
        let (ok, failed) = crate::support::write(
            &t,
            "pkg",
            vec![ent("p", json!({"size": 500}))],
            &crate::support::opts(WriteMode::Create),
        )
        .await;
        assert!(
            ok.is_empty() && failed.len() == 1,
            "size 500 accepted against maximum 10: \
             the validator of a rolled-back version was served"
        );
    })
    .await;
}

/// The org's blueprints come from memory while nothing changed them, and from the database as
/// soon as anything did: the store, SQL that bypasses it, or another org's change (which
/// must not). A transaction that writes a blueprint sees its own change, and a rolled-back
/// change is seen by no one.
#[tokio::test]
async fn the_orgs_blueprints_are_cached_until_any_blueprint_changes() {
    use portolan_store::search;
    use sea_orm::{ConnectionTrait, Statement};
    use std::sync::Arc;

    both(|store| async move {
        let org = new_org(&store).await;
        let other = new_org(&store).await;
        create_blueprints(&store, org, &[pkg(100)]).await;
        let read = |org| {
            let store = store.clone();
            async move {
                let t = tenant(&store, org).await;
                search::blueprints(&t).await.expect("blueprints")
            }
        };
        let first = read(org).await;
        assert!(first.contains_key("pkg"));
        let again = read(org).await;
        assert!(Arc::ptr_eq(&first, &again), "served from memory");

        // Another org's blueprint change leaves this org's entry alone.
        create_blueprints(&store, other, &[pkg(5)]).await;
        assert!(Arc::ptr_eq(&first, &read(org).await));

        // A change through the store, rolled back: seen inside, not after.
        let t = tenant(&store, org).await;
        blueprints::patch(&t, "pkg", &json!({"title": "Rolled back"}), false, &actor())
            .await
            .expect("patch");
        let inside = search::blueprints(&t).await.expect("blueprints");
        assert_eq!(inside["pkg"].title, "Rolled back");
        drop(t);
        let after = read(org).await;
        assert_eq!(after["pkg"].title, "Package");
        assert!(Arc::ptr_eq(&first, &after), "the rollback changed nothing");

        // A committed change through the store.
        let t = tenant(&store, org).await;
        blueprints::patch(&t, "pkg", &json!({"title": "Packages"}), false, &actor())
            .await
            .expect("patch");
        t.commit().await.expect("commit");
        let patched = read(org).await;
        assert_eq!(patched["pkg"].title, "Packages");

        // SQL that bypasses the store: the trigger still moves the generation.
        let backend = store.connection().get_database_backend();
        store
            .connection()
            .execute_raw(Statement::from_string(
                backend,
                "UPDATE blueprints SET definition = replace(definition, 'Packages', 'By SQL') \
                 WHERE identifier = 'pkg'",
            ))
            .await
            .expect("update by SQL");
        let by_sql = read(org).await;
        assert_eq!(by_sql["pkg"].title, "By SQL");
        let other_org = read(other).await;
        assert_eq!(other_org["pkg"].title, "Package");

        // A deleted blueprint goes too.
        let t = tenant(&store, org).await;
        blueprints::delete(&t, "pkg", &actor())
            .await
            .expect("delete");
        t.commit().await.expect("commit");
        assert!(!read(org).await.contains_key("pkg"));
    })
    .await;
}
