//! Every migration up, down and up again, on both backends.

use portolan_migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::support::{TABLES, both, count, existing_tables};

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
