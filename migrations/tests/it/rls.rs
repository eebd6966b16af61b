//! Row-level security on PostgreSQL: enabled with a policy on every tenant table, reverted by
//! `down`, and actually isolating a tenant transaction. On SQLite the migration is a recorded
//! no-op.

use portolan_migrations::rls::{APP_ROLE, ORG_SETTING, TENANT_TABLES};
use portolan_migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait,
};

use crate::support::{TABLES, both, count, existing_tables, is_postgres, strings};

const ORG_A: &str = "0198f0c2-0000-7000-8000-00000000000a";
const ORG_B: &str = "0198f0c2-0000-7000-8000-00000000000b";

/// Tenant tables with row-level security enabled.
async fn rls_tables(db: &DatabaseConnection) -> Vec<String> {
    let mut v = strings(
        db,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity
          ORDER BY 1",
    )
    .await;
    v.sort();
    v
}

/// `table:policy:roles` for every policy of the public schema.
async fn policies(db: &DatabaseConnection) -> Vec<String> {
    strings(
        db,
        "SELECT tablename::text || ':' || policyname::text || ':' || array_to_string(roles, ',')
           FROM pg_policies WHERE schemaname = 'public' ORDER BY 1",
    )
    .await
}

fn expected_policies() -> Vec<String> {
    let mut v: Vec<String> = TENANT_TABLES
        .iter()
        .map(|(t, _)| format!("{t}:tenant_isolation:{APP_ROLE}"))
        .collect();
    v.sort();
    v
}

fn tenant_table_names() -> Vec<String> {
    let mut v: Vec<String> = TENANT_TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
    v.sort();
    v
}

async fn as_tenant(db: &DatabaseConnection, org: Option<&str>) -> DatabaseTransaction {
    let tx = db.begin().await.expect("begin");
    tx.execute_unprepared(&format!("SET LOCAL ROLE {APP_ROLE}"))
        .await
        .expect("set role");
    if let Some(org) = org {
        tx.execute_unprepared(&format!(
            "SELECT set_config('{ORG_SETTING}', '{org}', true)"
        ))
        .await
        .expect("set org");
    }
    tx
}

async fn two_orgs(db: &DatabaseConnection) {
    let now = "'2026-01-01T00:00:00Z'";
    for (org, name) in [(ORG_A, "a"), (ORG_B, "b")] {
        db.execute_unprepared(&format!(
            "INSERT INTO organizations (id, name, status, created_at) VALUES ('{org}', '{name}', 'active', {now});
             INSERT INTO blueprints (org_id, identifier, version, definition, created_at, updated_at, created_by, updated_by)
               VALUES ('{org}', 'service', 1, '{{}}', {now}, {now}, 'me', 'me');"
        ))
        .await
        .expect("insert org");
    }
}

#[tokio::test]
async fn every_tenant_table_has_rls_and_a_policy() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        if !is_postgres(&db) {
            // Nothing to enable on SQLite, but the migration is recorded as applied.
            assert!(
                Migrator::get_pending_migrations(&db)
                    .await
                    .expect("pending")
                    .is_empty()
            );
            return;
        }
        for (t, _) in TENANT_TABLES {
            assert!(TABLES.contains(t), "tenant table {t} is not a table");
        }
        assert_eq!(rls_tables(&db).await, tenant_table_names());
        assert_eq!(policies(&db).await, expected_policies());
        // The tenant role exists (it is cluster-wide).
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) FROM pg_roles WHERE rolname = '{APP_ROLE}'")
            )
            .await,
            1
        );
        // Running up again changes nothing.
        Migrator::up(&db, None).await.expect("second up");
        assert_eq!(rls_tables(&db).await, tenant_table_names());
        assert_eq!(policies(&db).await, expected_policies());
    })
    .await;
}

#[tokio::test]
async fn down_of_the_rls_migration_disables_it_and_up_restores_it() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        // The seven last steps: the target index's order, the blueprint generation, the typed
        // search index, the search index's order, identity and the search index (their tables
        // go) and RLS (tables stay).
        Migrator::down(&db, Some(7))
            .await
            .expect("down the last steps");
        let later = [
            "entity_values",
            "entity_numbers",
            "entity_dates",
            "users",
            "teams",
            "team_members",
            "permissions",
            "org_secrets",
        ];
        let without_index: Vec<&str> = TABLES
            .iter()
            .copied()
            .filter(|t| !later.contains(t))
            .collect();
        assert_eq!(existing_tables(&db).await, without_index, "tables stay");
        if is_postgres(&db) {
            assert!(rls_tables(&db).await.is_empty());
            assert!(policies(&db).await.is_empty());
        }
        Migrator::up(&db, None).await.expect("up again");
        if is_postgres(&db) {
            assert_eq!(rls_tables(&db).await, tenant_table_names());
            assert_eq!(policies(&db).await, expected_policies());
        }
        // Down everything and up again: RLS comes back with the tables.
        Migrator::down(&db, None).await.expect("down all");
        Migrator::up(&db, None).await.expect("up again");
        if is_postgres(&db) {
            assert_eq!(rls_tables(&db).await, tenant_table_names());
            assert_eq!(policies(&db).await, expected_policies());
        }
    })
    .await;
}

#[tokio::test]
async fn a_tenant_transaction_only_sees_its_org() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        if !is_postgres(&db) {
            return;
        }
        two_orgs(&db).await;

        let tx = as_tenant(&db, Some(ORG_A)).await;
        assert_eq!(count(&tx, "SELECT COUNT(*) FROM organizations").await, 1);
        assert_eq!(count(&tx, "SELECT COUNT(*) FROM blueprints").await, 1);
        assert_eq!(
            count(
                &tx,
                &format!("SELECT COUNT(*) FROM blueprints WHERE org_id = '{ORG_B}'")
            )
            .await,
            0,
            "another org's rows are invisible even when asked for"
        );
        // Updates and deletes of another org's rows touch nothing.
        let r = tx
            .execute_unprepared(&format!(
                "UPDATE blueprints SET version = 9 WHERE org_id = '{ORG_B}'"
            ))
            .await
            .expect("update");
        assert_eq!(r.rows_affected(), 0);
        let r = tx
            .execute_unprepared(&format!("DELETE FROM blueprints WHERE org_id = '{ORG_B}'"))
            .await
            .expect("delete");
        assert_eq!(r.rows_affected(), 0);
        tx.commit().await.expect("commit");

        // Writing a row of another org is refused (WITH CHECK).
        let tx = as_tenant(&db, Some(ORG_A)).await;
        let foreign = tx
            .execute_unprepared(&format!(
                "INSERT INTO blueprints (org_id, identifier, version, definition, created_at, updated_at, created_by, updated_by)
                   VALUES ('{ORG_B}', 'other', 1, '{{}}', now(), now(), 'me', 'me')"
            ))
            .await;
        assert!(foreign.is_err(), "a row of another org was inserted");
        drop(tx);

        // Without the org setting, a tenant transaction sees nothing.
        let tx = as_tenant(&db, None).await;
        assert_eq!(count(&tx, "SELECT COUNT(*) FROM organizations").await, 0);
        assert_eq!(count(&tx, "SELECT COUNT(*) FROM blueprints").await, 0);
        drop(tx);

        // The owner still sees everything, and B's rows are untouched.
        assert_eq!(count(&db, "SELECT COUNT(*) FROM blueprints").await, 2);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM blueprints WHERE version = 9").await,
            0
        );
    })
    .await;
}

#[tokio::test]
async fn a_tenant_can_read_only_the_public_half_of_signing_keys() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        if !is_postgres(&db) {
            return;
        }
        db.execute_unprepared(
            "INSERT INTO signing_keys (kid, private_key, public_key, created_at)
               VALUES ('k1', '\\x01'::bytea, '\\x02'::bytea, now())",
        )
        .await
        .expect("insert key");
        let tx = as_tenant(&db, Some(ORG_A)).await;
        assert_eq!(
            strings(&db, "SELECT kid::text FROM signing_keys").await,
            ["k1"]
        );
        assert_eq!(
            count(&tx, "SELECT COUNT(public_key) FROM signing_keys").await,
            1
        );
        drop(tx);
        let tx = as_tenant(&db, Some(ORG_A)).await;
        assert!(
            tx.execute_unprepared("SELECT private_key FROM signing_keys")
                .await
                .is_err(),
            "a tenant read the private key"
        );
        drop(tx);
        let tx = as_tenant(&db, Some(ORG_A)).await;
        assert!(
            tx.execute_unprepared("DELETE FROM signing_keys")
                .await
                .is_err(),
            "a tenant deleted a signing key"
        );
    })
    .await;
}
