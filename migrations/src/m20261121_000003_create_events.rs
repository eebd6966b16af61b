//! The append-only event log: the audit log and the outbox in one table. Its JSON members are
//! stored as JSON text: written once (serialized once, bound as a string: the cheapest write),
//! read as they were written (key order kept), never indexed.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_create_tenancy::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(big_integer(Events::Seq).auto_increment().primary_key())
                .col(uuid(Events::Id).unique_key())
                .col(uuid(Events::OrgId))
                .col(string_len(Events::Type, 100))
                .col(string_len(Events::ResourceType, 50))
                .col(string_len(Events::Action, 20))
                .col(string_len(Events::ResourceId, 1000))
                .col(string_len_null(Events::Blueprint, 100))
                .col(string_len(Events::Origin, 50))
                .col(string_len_null(Events::RunId, 100))
                .col(text(Events::Actor))
                .col(timestamp_with_time_zone(Events::OccurredAt))
                .col(text(Events::Context))
                .col(text(Events::Diff))
                .col(string_len(Events::Status, 20))
                .col(text_null(Events::Message))
                .col(timestamp_with_time_zone_null(Events::PublishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Events::Table, Events::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_events_org_seq", vec![Events::OrgId, Events::Seq]),
            (
                "idx_events_org_blueprint",
                vec![Events::OrgId, Events::Blueprint, Events::Seq],
            ),
            (
                "idx_events_org_resource",
                vec![Events::OrgId, Events::ResourceId, Events::Seq],
            ),
            (
                "idx_events_unpublished",
                vec![Events::PublishedAt, Events::Seq],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Events::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        // Event rows carry whole entities (before and after): past ~2 KB PostgreSQL compresses
        // them, and lz4 costs a fraction of the default pglz's CPU on this write-heavy table.
        // Servers built without lz4 keep the default.
        if m.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "DO $$ BEGIN
                       ALTER TABLE events ALTER COLUMN diff SET COMPRESSION lz4;
                       ALTER TABLE events ALTER COLUMN context SET COMPRESSION lz4;
                     EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL;
                     END $$;",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Seq,
    Id,
    OrgId,
    Type,
    ResourceType,
    Action,
    ResourceId,
    Blueprint,
    Origin,
    RunId,
    Actor,
    OccurredAt,
    Context,
    Diff,
    Status,
    Message,
    PublishedAt,
}
