//! Organizations, credentials and signing keys.

use portolan_store::orgs::NewCredential;
use portolan_store::{Plans, StoreError, events};

use crate::support::{actor, both, new_org, tenant};

#[tokio::test]
async fn create_organization_with_its_credential_and_events() {
    both(|store| async move {
        assert!(store.has_no_organizations().await.expect("count orgs"));
        let org = store
            .create_organization(
                "acme",
                NewCredential {
                    client_id: "acme-ci".into(),
                    secret_hash: "$argon2id$secret-hash".into(),
                    name: "CI".into(),
                    role: "admin".into(),
                },
                &actor(),
            )
            .await
            .expect("create");
        assert!(!store.has_no_organizations().await.expect("count orgs"));
        assert!(store.organization_active(org).await.expect("active"));
        assert!(
            !store
                .organization_active(portolan_store::OrgId::new())
                .await
                .expect("active"),
            "an unknown org is not active"
        );
        let cred = store
            .find_credential("acme-ci")
            .await
            .expect("find")
            .expect("credential exists");
        assert_eq!(cred.org_id, org.0);
        assert_eq!(cred.role, "admin");
        assert_eq!(cred.secret_hash, "$argon2id$secret-hash");
        assert!(
            store
                .find_credential("nobody")
                .await
                .expect("find")
                .is_none()
        );

        let t = tenant(&store, org).await;
        let log = events::all_for_org(&t).await.expect("events");
        drop(t);
        let kinds: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.r#type.as_str(), e.resource_id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("organization.created", org.to_string().as_str()),
                ("credential.created", "acme-ci"),
            ]
        );
        for e in &log {
            let text = e.diff.clone();
            assert!(
                !text.contains("argon2id"),
                "an event leaks the secret hash: {text}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_client_id_is_refused_and_nothing_is_created() {
    both(|store| async move {
        let cred = |name: &str| NewCredential {
            client_id: "same".into(),
            secret_hash: "h".into(),
            name: name.into(),
            role: "admin".into(),
        };
        store
            .create_organization("one", cred("first"), &actor())
            .await
            .expect("first org");
        let err = store
            .create_organization("two", cred("second"), &actor())
            .await
            .expect_err("duplicate client id");
        assert!(
            matches!(
                err,
                StoreError::AlreadyExists { resource: "credential", ref identifier }
                    if identifier == "same"
            ),
            "{err:?}"
        );
        // The second organization was rolled back with its credential.
        use portolan_store::models::organization;
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(
            organization::Entity::find()
                .count(store.connection())
                .await
                .expect("count"),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn signing_keys_are_listed_newest_first() {
    both(|store| async move {
        assert!(store.signing_keys().await.expect("keys").is_empty());
        store
            .insert_signing_key("k1", vec![1, 2], vec![3, 4])
            .await
            .expect("insert k1");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store
            .insert_signing_key("k2", vec![5], vec![6])
            .await
            .expect("insert k2");
        let keys = store.signing_keys().await.expect("keys");
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["k2", "k1"]);
        assert_eq!(keys[1].private_key, [1, 2]);
        assert_eq!(keys[1].public_key, [3, 4]);
        // Two orgs can coexist, each with its own credential.
        let a = new_org(&store).await;
        let b = new_org(&store).await;
        assert_ne!(a, b);
    })
    .await;
}

#[tokio::test]
async fn deleting_an_organization_removes_everything_it_owns_and_nothing_else() {
    use portolan_store::entities::WriteMode;
    use portolan_store::identity::{self, TeamInput};
    crate::support::both(|store| async move {
        let a = crate::support::new_org(&store).await;
        let b = crate::support::new_org(&store).await;
        for org in [a, b] {
            crate::support::create_blueprints(
                &store,
                org,
                &[crate::support::domain_bp(), crate::support::team_bp(), crate::support::service_bp()],
            )
            .await;
            let t = crate::support::tenant(&store, org).await;
            identity::create_team(&t, "alpha", TeamInput::default(), &crate::support::actor())
                .await
                .expect("team");
            identity::create_user(&t, ann(&["alpha"]), &crate::support::actor())
                .await
                .expect("user");
            crate::support::write_ok(&t, "team", serde_json::json!({"identifier": "core", "team": ["alpha"]}), WriteMode::Create).await;
            crate::support::write_ok(
                &t,
                "service",
                serde_json::json!({"identifier": "api", "properties": {"language": "rust"}, "relations": {"team": "core"}}),
                WriteMode::Create,
            )
            .await;
            t.commit().await.expect("commit");
        }
        store.delete_organization(a).await.expect("delete org A");
        assert!(store.organization(a).await.is_err(), "A is gone");
        let t = crate::support::tenant(&store, b).await;
        assert_eq!(identity::list_users(&t).await.expect("users").len(), 1, "B keeps its users");
        assert_eq!(
            portolan_store::entities::count(&t, "service").await.expect("count"),
            1,
            "B keeps its entities"
        );
    })
    .await;
}

#[tokio::test]
async fn a_users_principal_has_its_teams_sorted_and_only_in_its_own_org() {
    use portolan_store::identity::{self, TeamInput};
    crate::support::both(|store| async move {
        let a = crate::support::new_org(&store).await;
        let b = crate::support::new_org(&store).await;
        let mut ids = vec![];
        for (org, teams) in [(a, vec!["zeta", "alpha", "mid"]), (b, vec![])] {
            let t = crate::support::tenant(&store, org).await;
            for team in ["zeta", "alpha", "mid", "unjoined"] {
                identity::create_team(&t, team, TeamInput::default(), &crate::support::actor())
                    .await
                    .expect("team");
            }
            identity::create_user(&t, ann(&teams), &crate::support::actor())
                .await
                .expect("user");
            let id = identity::find_user(&t, "ann@example.com")
                .await
                .expect("find")
                .expect("user")
                .id;
            t.commit().await.expect("commit");
            ids.push(id);
        }
        // The system lookup, and the one a tenant transaction's set-up makes for a request.
        let lookups = |org, user| {
            let store = store.clone();
            async move {
                let system = store.principal_user(org, user).await.expect("lookup");
                let (_t, in_setup) = store
                    .tenant_with_user(org, user, Plans::WithValues)
                    .await
                    .expect("open");
                assert_eq!(
                    system.as_ref().map(|p| (&p.user, &p.teams)),
                    in_setup.as_ref().map(|p| (&p.user, &p.teams)),
                    "both lookups agree"
                );
                system
            }
        };
        let in_a = lookups(a, ids[0]).await.expect("ann in A");
        assert_eq!(in_a.user.id, ids[0]);
        assert_eq!(in_a.user.email, "ann@example.com");
        assert_eq!(in_a.teams, vec!["alpha", "mid", "zeta"]);
        let in_b = lookups(b, ids[1]).await.expect("ann in B");
        assert!(in_b.teams.is_empty(), "a user in no team: {:?}", in_b.teams);
        assert!(
            lookups(b, ids[0]).await.is_none(),
            "A's user is not found under B"
        );
    })
    .await;
}

/// ann@example.com, an Active Member of `teams`.
fn ann(teams: &[&str]) -> portolan_store::identity::NewUser {
    portolan_store::identity::NewUser {
        email: "ann@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        roles: vec!["Member".into()],
        teams: teams.iter().map(|s| s.to_string()).collect(),
        status: "Active".into(),
        password_hash: None,
        provider: "password".into(),
    }
}

/// A tenant transaction opened for a credential token reads the credential set in its org
/// only, and only while it is not revoked; the transaction is an ordinary tenant one.
#[tokio::test]
async fn a_tenant_opened_with_a_credential_finds_only_its_orgs_live_one() {
    both(|store| async move {
        let org_with = |name: &'static str, client_id: String| {
            let store = store.clone();
            async move {
                store
                    .create_organization(
                        name,
                        NewCredential {
                            client_id,
                            secret_hash: "$argon2id$secret-hash".into(),
                            name: "CI".into(),
                            role: "admin".into(),
                        },
                        &actor(),
                    )
                    .await
                    .expect("create")
            }
        };
        let org_of = |name: &'static str| org_with(name, format!("{name}-ci"));
        let acme = org_of("acme").await;
        org_of("beta").await;
        let (t, found) = store
            .tenant_with_credential(acme, "acme-ci", Plans::WithValues)
            .await
            .expect("open");
        let found = found.expect("its own credential");
        assert_eq!(
            (found.org_id, found.client_id.as_str()),
            (acme.0, "acme-ci")
        );
        assert!(found.enabled);
        // Every column as the ordinary lookup reads it.
        assert_eq!(
            Some(&found),
            portolan_store::orgs::credential_in(&t, "acme-ci")
                .await
                .expect("lookup")
                .as_ref()
        );
        // The transaction is scoped to the org like any other.
        assert_eq!(events::all_for_org(&t).await.expect("events").len(), 2);
        drop(t);
        // A client id is matched as it is, whatever characters it holds.
        let odd = "o'brien\\'; SELECT 1; -- \u{e9}\u{1F600}";
        let odd_org = org_with("odd", odd.to_owned()).await;
        let (t, odd_found) = store
            .tenant_with_credential(odd_org, odd, Plans::WithValues)
            .await
            .expect("open");
        assert_eq!(odd_found.expect("found").client_id, odd);
        drop(t);
        let (t, odd_found) = store
            .tenant_with_credential(odd_org, "o'brien", Plans::WithValues)
            .await
            .expect("open");
        assert!(odd_found.is_none(), "a prefix of the client id is not it");
        drop(t);
        for other in ["beta-ci", "nobody"] {
            let (_t, found) = store
                .tenant_with_credential(acme, other, Plans::WithValues)
                .await
                .expect("open");
            assert!(found.is_none(), "{other} is not acme's");
        }
        let t = tenant(&store, acme).await;
        portolan_store::identity::delete_app(&t, &found.id.to_string(), &actor())
            .await
            .expect("revoke");
        t.commit().await.expect("commit");
        let (_t, found) = store
            .tenant_with_credential(acme, "acme-ci", Plans::WithValues)
            .await
            .expect("open");
        assert!(found.is_none(), "a revoked credential set is not found");
    })
    .await;
}
