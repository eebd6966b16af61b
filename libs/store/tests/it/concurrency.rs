//! Changes that race on PostgreSQL (two transactions at once): a blueprint change must not
//! be lost, and an entity write must not slip past a blueprint change. On SQLite (one writer)
//! the same bodies run one after the other.

use std::time::Duration;

use portolan_store::{StoreError, blueprints};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::support::{actor, both, create_blueprints, domain_bp, is_postgres, new_org, tenant};

#[tokio::test]
async fn concurrent_blueprint_changes_are_not_lost() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[domain_bp()]).await;
        let add = |key: &str| json!({"schema": {"properties": {key: {"type": "string"}}}});

        let first = tenant(&store, org).await;
        blueprints::patch(&first, "domain", &add("a"), false, &actor())
            .await
            .expect("first change");
        let second = if is_postgres(&store) {
            // The second change reads the blueprint while the first is not committed yet.
            let s = store.clone();
            let second = tokio::spawn(async move {
                let t = tenant(&s, org).await;
                match blueprints::patch(&t, "domain", &add("b"), false, &actor()).await {
                    Ok(_) => t.commit().await,
                    Err(e) => Err(e),
                }
            });
            let (first, second) = race(&store, first, second).await;
            first.expect("commit first");
            second
        } else {
            // SQLite has one writer: the second change starts after the first.
            first.commit().await.expect("commit first");
            let t = tenant(&store, org).await;
            match blueprints::patch(&t, "domain", &add("b"), false, &actor()).await {
                Ok(_) => t.commit().await,
                Err(e) => Err(e),
            }
        };

        let t = tenant(&store, org).await;
        let stored = blueprints::load(&t, "domain").await.expect("load");
        let props = stored.model.definition_json().expect("json")["schema"]["properties"]
            .as_object()
            .expect("properties")
            .clone();
        match second {
            Ok(()) => {
                assert!(
                    props.contains_key("a") && props.contains_key("b"),
                    "a committed change was lost: properties are {:?}",
                    props.keys().collect::<Vec<_>>()
                );
                assert_eq!(stored.model.version, 3, "two changes, two versions");
            }
            Err(e) => {
                assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
                assert!(props.contains_key("a"));
                assert_eq!(stored.model.version, 2);
            }
        }
    })
    .await;
}

/// Finishes `task`, committing `first` as soon as the task waits on a lock or has ended (or
/// after 30 seconds).
async fn race<T: Send + 'static>(
    store: &portolan_store::Store,
    first: portolan_store::Tenant,
    task: tokio::task::JoinHandle<T>,
) -> (Result<(), StoreError>, T) {
    let conn = store.connection();
    let mut task = task;
    for _ in 0..600 {
        tokio::select! {
            out = &mut task => {
                let first = first.commit().await;
                return (first, out.expect("task"));
            }
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT COUNT(*)::bigint FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ))
            .await
            .expect("pg_stat_activity")
            .expect("a row");
        if row.try_get_by_index::<i64>(0).expect("count") > 0 {
            break;
        }
    }
    let first = first.commit().await;
    (first, task.await.expect("task"))
}

#[tokio::test]
async fn an_entity_write_racing_a_blueprint_change_never_leaves_an_invalid_entity() {
    both(|store| async move {
        use portolan_store::entities::{WriteMode, model_to_data};
        let org = new_org(&store).await;
        create_blueprints(
            &store,
            org,
            &[json!({"identifier": "pkg", "title": "Package",
                     "schema": {"properties": {"size": {"type": "number", "maximum": 100}}}})],
        )
        .await;
        let lower = json!({"schema": {"properties": {"size": {"type": "number", "maximum": 10}}}});

        // The write is valid against the definition it read; the change would refuse it.
        let first = tenant(&store, org).await;
        let (ok, _) = crate::support::write(
            &first,
            "pkg",
            vec![json!({"identifier": "p", "properties": {"size": 50}})],
            &crate::support::opts(WriteMode::Create),
        )
        .await;
        assert_eq!(ok.len(), 1);
        if is_postgres(&store) {
            let s = store.clone();
            let change = tokio::spawn(async move {
                let t = tenant(&s, org).await;
                match blueprints::patch(&t, "pkg", &lower, false, &actor()).await {
                    Ok(_) => t.commit().await,
                    Err(e) => Err(e),
                }
            });
            let _ = race(&store, first, change).await;
        } else {
            first.commit().await.expect("commit");
            let t = tenant(&store, org).await;
            let refused = blueprints::patch(&t, "pkg", &lower, false, &actor()).await;
            assert!(
                matches!(refused, Err(StoreError::WouldInvalidate { .. })),
                "{refused:?}"
            );
        }

        // Whatever won, every stored entity is valid against the stored definition.
        let t = tenant(&store, org).await;
        let bp = blueprints::load(&t, "pkg").await.expect("load");
        drop(t);
        for row in crate::support::entity_rows(&store, org, "pkg").await {
            let issues = portolan_domain::entity::validate(&bp.compiled, &model_to_data(&row));
            assert!(
                issues.is_empty(),
                "entity {} is invalid against blueprint version {}: {issues:?}",
                row.identifier,
                bp.model.version
            );
        }
    })
    .await;
}
