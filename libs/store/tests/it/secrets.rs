//! Organization secrets: sealed at rest, bound to their org and name, re-sealed after a key
//! rotation across every org.

use portolan_auth::seal::{KeyRing, generate_key_base64};
use portolan_store::models::org_secret;
use portolan_store::{StoreError, secrets};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::{ExposeSecret, SecretString};

use crate::support::{actor, both, events, new_org, tenant};

fn entry(kid: &str) -> String {
    format!("{kid}:{}", generate_key_base64().expose_secret())
}

fn secret(v: &str) -> SecretString {
    SecretString::from(v.to_owned())
}

/// Every secret row, ordered (read as the owner, across orgs).
async fn rows(store: &portolan_store::Store) -> Vec<org_secret::Model> {
    org_secret::Entity::find()
        .order_by_asc(org_secret::Column::OrgId)
        .order_by_asc(org_secret::Column::Name)
        .all(store.connection())
        .await
        .expect("read secrets")
}

#[tokio::test]
async fn crud_seals_values_and_records_names_only() {
    both(|store| async move {
        let keys = KeyRing::parse(&entry("k1")).expect("keys");
        let org = new_org(&store).await;
        let t = tenant(&store, org).await;
        let created = secrets::create(
            &t,
            &keys,
            "GITHUB_TOKEN",
            &secret("ghp-plain-value-1"),
            Some("CI token"),
            &actor(),
        )
        .await
        .expect("create");
        assert_eq!(created["secretName"], "GITHUB_TOKEN");
        assert_eq!(created["description"], "CI token");
        assert!(created.get("secretValue").is_none());
        let again = secrets::create(&t, &keys, "GITHUB_TOKEN", &secret("x"), None, &actor()).await;
        assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
        let bad = secrets::create(&t, &keys, "bad name", &secret(""), None, &actor()).await;
        let Err(StoreError::Invalid(issues)) = bad else {
            panic!("expected invalid: {bad:?}");
        };
        let pointers: Vec<&str> = issues.0.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, ["/secretName", "/secretValue"]);
        secrets::update(
            &t,
            &keys,
            "GITHUB_TOKEN",
            Some(&secret("ghp-plain-value-2")),
            None,
            &actor(),
        )
        .await
        .expect("update");
        let plain = secrets::plain_secrets(&t, &keys).await.expect("plain");
        assert_eq!(plain["GITHUB_TOKEN"].expose_secret(), "ghp-plain-value-2");
        assert_eq!(secrets::list(&t).await.expect("list").len(), 1);
        t.commit().await.expect("commit");

        for row in rows(&store).await {
            assert_eq!(row.key_id, "k1");
            assert!(!row.sealed.windows(9).any(|w| w == b"ghp-plain"));
        }
        let log = events(&store, org).await;
        let secret_events: Vec<_> = log.iter().filter(|e| e.resource_type == "secret").collect();
        assert_eq!(secret_events.len(), 2);
        for e in &log {
            assert!(
                !e.diff.contains("ghp-plain") && !e.context.contains("ghp-plain"),
                "an event carries the value: {e:?}"
            );
        }

        let t = tenant(&store, org).await;
        secrets::delete(&t, "GITHUB_TOKEN", &actor())
            .await
            .expect("delete");
        assert!(matches!(
            secrets::get(&t, "GITHUB_TOKEN").await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            secrets::delete(&t, "GITHUB_TOKEN", &actor()).await,
            Err(StoreError::NotFound { .. })
        ));
        t.commit().await.expect("commit");
    })
    .await;
}

#[tokio::test]
async fn a_row_copied_to_another_org_or_name_does_not_decrypt() {
    both(|store| async move {
        let keys = KeyRing::parse(&entry("k1")).expect("keys");
        let (a, b) = (new_org(&store).await, new_org(&store).await);
        let t = tenant(&store, a).await;
        secrets::create(&t, &keys, "TOKEN", &secret("value-of-a"), None, &actor())
            .await
            .expect("create");
        t.commit().await.expect("commit");
        let original = rows(&store).await.remove(0);

        for (org, name) in [(b, "TOKEN"), (a, "COPY")] {
            org_secret::ActiveModel {
                org_id: Set(org.0),
                name: Set(name.to_owned()),
                ..org_secret::ActiveModel::from(original.clone())
            }
            .insert(store.connection())
            .await
            .expect("copy row");
        }
        let t = tenant(&store, b).await;
        let copied = secrets::plain_secrets(&t, &keys).await;
        assert!(
            matches!(copied, Err(StoreError::Internal(ref m)) if m.contains("TOKEN") && !m.contains("value-of-a")),
            "{copied:?}"
        );
        drop(t);
        let t = tenant(&store, a).await;
        assert!(secrets::plain_secrets(&t, &keys).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn reseal_all_moves_every_org_to_the_primary_key() {
    both(|store| async move {
        let k1 = entry("k1");
        let old = KeyRing::parse(&k1).expect("old keys");
        let (a, b) = (new_org(&store).await, new_org(&store).await);
        for (org, names) in [(a, vec!["A1", "A2"]), (b, vec!["B1"])] {
            let t = tenant(&store, org).await;
            for n in names {
                secrets::create(&t, &old, n, &secret(&format!("plain-{n}")), None, &actor())
                    .await
                    .expect("create");
            }
            t.commit().await.expect("commit");
        }

        // Rotation: a new primary, the old key still in the ring.
        let k2 = entry("k2");
        let rotated = KeyRing::parse(&format!("{k2},{k1}")).expect("rotated keys");
        // One secret changed after the new key was deployed is sealed with it already.
        let t = tenant(&store, a).await;
        secrets::update(
            &t,
            &rotated,
            "A2",
            Some(&secret("plain-A2")),
            None,
            &actor(),
        )
        .await
        .expect("update");
        t.commit().await.expect("commit");
        let before = rows(&store).await;
        assert_eq!(
            before.iter().map(|r| r.key_id.as_str()).collect::<Vec<_>>(),
            ["k1", "k2", "k1"]
        );

        // Without the old key, the rows cannot be re-sealed, and none is touched.
        let too_early = KeyRing::parse(&entry("k3")).expect("keys");
        let err = secrets::reseal_all(&store, &too_early).await;
        assert!(
            matches!(&err, Err(StoreError::Internal(m)) if m.contains("'k1'")),
            "{err:?}"
        );
        assert_eq!(rows(&store).await, before);

        assert_eq!(
            secrets::reseal_all(&store, &rotated).await.expect("reseal"),
            2
        );
        let after = rows(&store).await;
        assert!(after.iter().all(|r| r.key_id == "k2"));
        for (x, y) in before.iter().zip(&after) {
            assert_eq!(x.updated_at, y.updated_at, "a reseal is not a change");
        }
        assert_eq!(
            secrets::reseal_all(&store, &rotated).await.expect("reseal"),
            0
        );

        // The old key can now go: the new one alone opens everything.
        let new_only = KeyRing::parse(&k2).expect("new key alone");
        for (org, expected) in [(a, vec!["A1", "A2"]), (b, vec!["B1"])] {
            let t = tenant(&store, org).await;
            let plain = secrets::plain_secrets(&t, &new_only).await.expect("plain");
            assert_eq!(plain.keys().collect::<Vec<_>>(), expected);
            for (name, value) in &plain {
                assert_eq!(value.expose_secret(), format!("plain-{name}"));
            }
            drop(t);
        }
        let t = tenant(&store, a).await;
        assert!(
            secrets::plain_secrets(&t, &old).await.is_err(),
            "the old key alone no longer opens them"
        );
        drop(t);
        assert_eq!(
            org_secret::Entity::find()
                .filter(org_secret::Column::KeyId.eq("k1"))
                .all(store.connection())
                .await
                .expect("read")
                .len(),
            0
        );
    })
    .await;
}
