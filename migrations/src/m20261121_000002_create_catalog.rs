//! The blueprint store: blueprints, entities and the relations between entities.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_tenancy::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Blueprints::Table)
                .col(uuid(Blueprints::OrgId))
                .col(string_len(Blueprints::Identifier, 100))
                .col(big_integer(Blueprints::Version))
                .col(text(Blueprints::Definition)) // JSON text: keeps the definition as written, key order too
                .col(timestamp_with_time_zone(Blueprints::CreatedAt))
                .col(timestamp_with_time_zone(Blueprints::UpdatedAt))
                .col(string_len(Blueprints::CreatedBy, 255))
                .col(string_len(Blueprints::UpdatedBy, 255))
                .primary_key(
                    Index::create()
                        .col(Blueprints::OrgId)
                        .col(Blueprints::Identifier),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Blueprints::Table, Blueprints::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Entities::Table)
                .col(uuid(Entities::OrgId))
                .col(string_len(Entities::Blueprint, 100))
                .col(string_len(Entities::Identifier, 1000))
                .col(string_null(Entities::Title))
                .col(string_null(Entities::Icon))
                .col(json_binary(Entities::Team))
                .col(json_binary(Entities::Properties))
                .col(json_binary(Entities::Relations))
                .col(big_integer(Entities::BlueprintVersion))
                .col(timestamp_with_time_zone(Entities::CreatedAt))
                .col(timestamp_with_time_zone(Entities::UpdatedAt))
                .col(string_len(Entities::CreatedBy, 255))
                .col(string_len(Entities::UpdatedBy, 255))
                .col(string_len_null(Entities::Datasource, 500))
                .primary_key(
                    Index::create()
                        .col(Entities::OrgId)
                        .col(Entities::Blueprint)
                        .col(Entities::Identifier),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Entities::Table, (Entities::OrgId, Entities::Blueprint))
                        .to(
                            Blueprints::Table,
                            (Blueprints::OrgId, Blueprints::Identifier),
                        )
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_entities_org_identifier")
                .table(Entities::Table)
                .col(Entities::OrgId)
                .col(Entities::Identifier)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EntityRelations::Table)
                .col(uuid(EntityRelations::OrgId))
                .col(string_len(EntityRelations::SourceBlueprint, 100))
                .col(string_len(EntityRelations::SourceIdentifier, 1000))
                .col(string_len(EntityRelations::Relation, 100))
                .col(string_len(EntityRelations::TargetBlueprint, 100))
                .col(string_len(EntityRelations::TargetIdentifier, 1000))
                .col(boolean(EntityRelations::Required))
                .primary_key(
                    Index::create()
                        .col(EntityRelations::OrgId)
                        .col(EntityRelations::SourceBlueprint)
                        .col(EntityRelations::SourceIdentifier)
                        .col(EntityRelations::Relation)
                        .col(EntityRelations::TargetIdentifier),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_relations_source")
                        .from(
                            EntityRelations::Table,
                            (
                                EntityRelations::OrgId,
                                EntityRelations::SourceBlueprint,
                                EntityRelations::SourceIdentifier,
                            ),
                        )
                        .to(
                            Entities::Table,
                            (Entities::OrgId, Entities::Blueprint, Entities::Identifier),
                        )
                        .on_delete(ForeignKeyAction::Cascade)
                        .on_update(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_relations_target")
                        .from(
                            EntityRelations::Table,
                            (
                                EntityRelations::OrgId,
                                EntityRelations::TargetBlueprint,
                                EntityRelations::TargetIdentifier,
                            ),
                        )
                        .to(
                            Entities::Table,
                            (Entities::OrgId, Entities::Blueprint, Entities::Identifier),
                        )
                        .on_delete(ForeignKeyAction::NoAction)
                        .on_update(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The reverse direction: "who points at this entity" is an index walk.
        m.create_index(
            Index::create()
                .name("idx_relations_target")
                .table(EntityRelations::Table)
                .col(EntityRelations::OrgId)
                .col(EntityRelations::TargetBlueprint)
                .col(EntityRelations::TargetIdentifier)
                .col(EntityRelations::Relation)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DataMigrations::Table)
                .col(string_len(DataMigrations::Id, 64).primary_key())
                .col(uuid(DataMigrations::OrgId))
                .col(string_len(DataMigrations::Kind, 64))
                .col(string_len(DataMigrations::Blueprint, 100))
                .col(boolean(DataMigrations::DeleteBlueprint))
                .col(string_len(DataMigrations::Status, 32))
                .col(big_integer(DataMigrations::Total))
                .col(big_integer(DataMigrations::Processed))
                .col(text_null(DataMigrations::Error))
                .col(json_binary(DataMigrations::Actor))
                .col(timestamp_with_time_zone(DataMigrations::CreatedAt))
                .col(timestamp_with_time_zone(DataMigrations::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(DataMigrations::Table, DataMigrations::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_data_migrations_org")
                .table(DataMigrations::Table)
                .col(DataMigrations::OrgId)
                .col(DataMigrations::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_data_migrations_status")
                .table(DataMigrations::Table)
                .col(DataMigrations::Status)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DataMigrations::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(EntityRelations::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Entities::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Blueprints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Blueprints {
    Table,
    OrgId,
    Identifier,
    Version,
    Definition,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    OrgId,
    Blueprint,
    Identifier,
    Title,
    Icon,
    Team,
    Properties,
    Relations,
    BlueprintVersion,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
    UpdatedBy,
    Datasource,
}

#[derive(DeriveIden)]
enum EntityRelations {
    Table,
    OrgId,
    SourceBlueprint,
    SourceIdentifier,
    Relation,
    TargetBlueprint,
    TargetIdentifier,
    Required,
}

#[derive(DeriveIden)]
enum DataMigrations {
    Table,
    Id,
    OrgId,
    Kind,
    Blueprint,
    DeleteBlueprint,
    Status,
    Total,
    Processed,
    Error,
    Actor,
    CreatedAt,
    UpdatedAt,
}
