//! Every migration up, down and up again, on both backends.

use portolan_migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::support::{TABLES, both, count, existing_tables, strings};

async fn applied(db: &DatabaseConnection) -> Vec<String> {
    Migrator::get_applied_migrations(db)
        .await
        .expect("applied migrations")
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

fn all_names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// One row in every table the catalog needs, inserted as the owner (no tenant role).
async fn insert_sample(db: &DatabaseConnection) {
    let now = "'2026-01-01T00:00:00Z'";
    let org = "'0198f0c2-0000-7000-8000-000000000001'";
    db.execute_unprepared(&format!(
        "INSERT INTO organizations (id, name, status, created_at) VALUES ({org}, 'acme', 'active', {now});
         INSERT INTO blueprints (org_id, identifier, version, definition, created_at, updated_at, created_by, updated_by)
           VALUES ({org}, 'service', 1, '{{}}', {now}, {now}, 'me', 'me');
         INSERT INTO entities (org_id, blueprint, identifier, team, properties, relations, blueprint_version,
                               created_at, updated_at, created_by, updated_by)
           VALUES ({org}, 'service', 'api', '[]', '{{}}', '{{}}', 1, {now}, {now}, 'me', 'me');"
    ))
    .await
    .expect("insert sample rows");
}

#[tokio::test]
async fn up_down_up_on_an_empty_database() {
    both(|db| async move {
        assert!(existing_tables(&db).await.is_empty(), "starts empty");
        assert!(applied(&db).await.is_empty());

        Migrator::up(&db, None).await.expect("up");
        assert_eq!(existing_tables(&db).await, TABLES);
        assert_eq!(applied(&db).await, all_names());
        assert!(
            Migrator::get_pending_migrations(&db)
                .await
                .expect("pending")
                .is_empty()
        );
        insert_sample(&db).await;

        Migrator::down(&db, None).await.expect("down all");
        assert_eq!(
            existing_tables(&db).await,
            Vec::<&str>::new(),
            "down removes every table"
        );
        assert!(
            applied(&db).await.is_empty(),
            "down unrecords every migration"
        );

        Migrator::up(&db, None).await.expect("up again");
        assert_eq!(existing_tables(&db).await, TABLES);
        assert_eq!(applied(&db).await, all_names());
        // The tables came back empty, and usable.
        assert_eq!(count(&db, "SELECT COUNT(*) FROM entities").await, 0);
        insert_sample(&db).await;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM entities").await, 1);
    })
    .await;
}

#[tokio::test]
async fn up_twice_is_a_no_op() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        insert_sample(&db).await;
        Migrator::up(&db, None).await.expect("second up");
        assert_eq!(applied(&db).await, all_names());
        assert_eq!(existing_tables(&db).await, TABLES);
        // Nothing was re-created: the rows are still there.
        assert_eq!(count(&db, "SELECT COUNT(*) FROM organizations").await, 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM entities").await, 1);
    })
    .await;
}

#[tokio::test]
async fn down_one_step_at_a_time_and_back() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        let names = all_names();
        for n in (0..names.len()).rev() {
            Migrator::down(&db, Some(1)).await.expect("down one step");
            assert_eq!(applied(&db).await, names[..n].to_vec());
        }
        assert!(existing_tables(&db).await.is_empty());
        for n in 1..=names.len() {
            Migrator::up(&db, Some(1)).await.expect("up one step");
            assert_eq!(applied(&db).await, names[..n].to_vec());
        }
        assert_eq!(existing_tables(&db).await, TABLES);
    })
    .await;
}

#[tokio::test]
async fn the_catalog_enforces_its_keys() {
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        if db.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Sqlite {
            db.execute_unprepared("PRAGMA foreign_keys = ON")
                .await
                .expect("foreign keys on");
        }
        insert_sample(&db).await;
        let now = "'2026-01-01T00:00:00Z'";
        let org = "'0198f0c2-0000-7000-8000-000000000001'";
        // The same entity twice: primary key.
        let dup = db
            .execute_unprepared(&format!(
                "INSERT INTO entities (org_id, blueprint, identifier, team, properties, relations, blueprint_version,
                                       created_at, updated_at, created_by, updated_by)
                   VALUES ({org}, 'service', 'api', '[]', '{{}}', '{{}}', 1, {now}, {now}, 'me', 'me')"
            ))
            .await;
        assert!(dup.is_err(), "duplicate entity accepted");
        // An entity of a blueprint that does not exist: foreign key.
        let orphan = db
            .execute_unprepared(&format!(
                "INSERT INTO entities (org_id, blueprint, identifier, team, properties, relations, blueprint_version,
                                       created_at, updated_at, created_by, updated_by)
                   VALUES ({org}, 'nope', 'x', '[]', '{{}}', '{{}}', 1, {now}, {now}, 'me', 'me')"
            ))
            .await;
        assert!(orphan.is_err(), "entity without blueprint accepted");
        // An edge to an entity that does not exist: foreign key.
        let dangling = db
            .execute_unprepared(&format!(
                "INSERT INTO entity_relations (org_id, source_blueprint, source_identifier, relation,
                                               target_blueprint, target_identifier, required)
                   VALUES ({org}, 'service', 'api', 'dep', 'service', 'ghost', false)"
            ))
            .await;
        assert!(dangling.is_err(), "dangling relation edge accepted");
        // A blueprint holding entities cannot be deleted (RESTRICT).
        let restricted = db
            .execute_unprepared("DELETE FROM blueprints WHERE identifier = 'service'")
            .await;
        assert!(restricted.is_err(), "blueprint with entities deleted");
        // A credential's client id is unique.
        let cred = |id: &'static str| {
            format!(
                "INSERT INTO credentials (id, org_id, client_id, secret_hash, name, role, created_at)
                   VALUES ('{id}', {org}, 'client', 'h', 'n', 'admin', {now})"
            )
        };
        db.execute_unprepared(&cred("0198f0c2-0000-7000-8000-0000000000c1"))
            .await
            .expect("first credential");
        assert!(
            db.execute_unprepared(&cred("0198f0c2-0000-7000-8000-0000000000c2"))
                .await
                .is_err(),
            "duplicate client id accepted"
        );
    })
    .await;
}

/// The typed search index (migration 8) moves the numbers and dates of `entity_values` to
/// their own tables, and its `down` moves them back: no index row is lost either way.
#[tokio::test]
async fn the_typed_index_migration_moves_rows_both_ways() {
    both(|db| async move {
        let names = all_names();
        let typed = names
            .iter()
            .position(|n| n.ends_with("typed_search_index"))
            .expect("the typed index migration");
        Migrator::up(&db, Some(u32::try_from(typed).expect("few migrations")))
            .await
            .expect("up to the step before");
        insert_sample(&db).await;
        let org = "'0198f0c2-0000-7000-8000-000000000001'";
        db.execute_unprepared(&format!(
            "INSERT INTO entity_values (org_id, blueprint, identifier, key, s, n, t, long) VALUES
               ({org}, 'service', 'api', 'language', 'go', NULL, NULL, false),
               ({org}, 'service', 'api', 'replicas', NULL, 3.5, NULL, false),
               ({org}, 'service', 'api', 'ports[]', NULL, 80, NULL, false),
               ({org}, 'service', 'api', 'ports[]', NULL, 443, NULL, false),
               ({org}, 'service', 'api', 'deployedAt', NULL, NULL, 1767225600000000, false)"
        ))
        .await
        .expect("index rows before the step");

        Migrator::up(&db, Some(1)).await.expect("the typed step");
        assert_eq!(
            strings(&db, "SELECT key || '=' || s FROM entity_values ORDER BY 1").await,
            ["language=go"]
        );
        assert_eq!(
            strings(&db, "SELECT key || '=' || CAST(CAST(n * 10 AS integer) AS text) FROM entity_numbers ORDER BY n").await,
            ["replicas=35", "ports[]=800", "ports[]=4430"]
        );
        assert_eq!(
            strings(&db, "SELECT key || '=' || CAST(t AS text) FROM entity_dates").await,
            ["deployedAt=1767225600000000"]
        );
        // The value columns are required in the typed tables.
        let null_number = db
            .execute_unprepared(&format!(
                "INSERT INTO entity_numbers (org_id, blueprint, identifier, key, n)
                 VALUES ({org}, 'service', 'api', 'replicas', NULL)"
            ))
            .await;
        assert!(null_number.is_err(), "a number row without a number");

        Migrator::down(&db, Some(1)).await.expect("down the typed step");
        assert_eq!(
            strings(
                &db,
                "SELECT key || '=' || COALESCE(s, CAST(CAST(n * 10 AS integer) AS text), CAST(t AS text)) \
                 FROM entity_values ORDER BY COALESCE(n, 0), 1"
            )
            .await,
            [
                "deployedAt=1767225600000000",
                "language=go",
                "replicas=35",
                "ports[]=800",
                "ports[]=4430"
            ]
        );
        assert_eq!(
            existing_tables(&db)
                .await
                .iter()
                .filter(|t| t.starts_with("entity_numbers") || t.starts_with("entity_dates"))
                .count(),
            0
        );
    })
    .await;
}

/// `organizations.blueprint_generation` (migration 9) rises with every insert, update and
/// delete of one of the org's blueprints, only the org's own, and not for a change that was
/// rolled back.
#[tokio::test]
async fn a_blueprint_change_raises_its_orgs_generation() {
    use sea_orm_migration::sea_orm::TransactionTrait;
    both(|db| async move {
        Migrator::up(&db, None).await.expect("up");
        insert_sample(&db).await;
        let other = "'0198f0c2-0000-7000-8000-000000000002'";
        db.execute_unprepared(&format!(
            "INSERT INTO organizations (id, name, status, created_at)
             VALUES ({other}, 'other', 'active', '2026-01-01T00:00:00Z')"
        ))
        .await
        .expect("another org");
        let generation = |org: &'static str| {
            let db = db.clone();
            async move {
                count(
                    &db,
                    &format!("SELECT blueprint_generation FROM organizations WHERE id = {org}"),
                )
                .await
            }
        };
        let org = "'0198f0c2-0000-7000-8000-000000000001'";
        // insert_sample wrote one blueprint.
        assert_eq!(generation(org).await, 1);
        assert_eq!(generation(other).await, 0);
        db.execute_unprepared("UPDATE blueprints SET version = 2 WHERE identifier = 'service'")
            .await
            .expect("update");
        assert_eq!(generation(org).await, 2);
        let tx = db.begin().await.expect("begin");
        tx.execute_unprepared("UPDATE blueprints SET version = 3 WHERE identifier = 'service'")
            .await
            .expect("update in a transaction");
        assert_eq!(count(&tx, "SELECT max(blueprint_generation) FROM organizations").await, 3);
        tx.rollback().await.expect("rollback");
        assert_eq!(generation(org).await, 2, "a rolled-back change counts for nothing");
        db.execute_unprepared("DELETE FROM entities; DELETE FROM blueprints")
            .await
            .expect("delete");
        assert_eq!(generation(org).await, 3);
        assert_eq!(generation(other).await, 0);
        // Down the step (and the one after it, the target index's order).
        Migrator::down(&db, Some(2)).await.expect("down the step");
        db.execute_unprepared(&format!(
            "INSERT INTO blueprints (org_id, identifier, version, definition, created_at, updated_at, created_by, updated_by)
             VALUES ({org}, 'service', 1, '{{}}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'me', 'me')"
        ))
        .await
        .expect("a blueprint without the trigger");
        Migrator::up(&db, Some(1)).await.expect("up the step again");
        assert_eq!(generation(org).await, 0, "the column starts again at 0");
    })
    .await;
}
