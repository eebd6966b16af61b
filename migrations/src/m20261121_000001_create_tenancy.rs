//! Organizations, their credential sets, and the JWT signing keys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(uuid(Organizations::Id).primary_key())
                .col(string_len(Organizations::Name, 200))
                .col(string_len(Organizations::Status, 32))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Credentials::Table)
                .col(uuid(Credentials::Id).primary_key())
                .col(uuid(Credentials::OrgId))
                .col(string_len(Credentials::ClientId, 100).unique_key())
                .col(string_len(Credentials::SecretHash, 255))
                .col(string_len(Credentials::Name, 200))
                .col(string_len(Credentials::Role, 100))
                .col(timestamp_with_time_zone(Credentials::CreatedAt))
                .col(timestamp_with_time_zone_null(Credentials::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Credentials::Table, Credentials::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_credentials_org")
                .table(Credentials::Table)
                .col(Credentials::OrgId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(string_len(SigningKeys::Kid, 64).primary_key())
                .col(blob(SigningKeys::PrivateKey))
                .col(blob(SigningKeys::PublicKey))
                .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SigningKeys::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Credentials::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Organizations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Organizations {
    Table,
    Id,
    Name,
    Status,
    CreatedAt,
    /// Added by the identity migration.
    Settings,
}

#[derive(DeriveIden)]
pub enum Credentials {
    Table,
    Id,
    OrgId,
    ClientId,
    SecretHash,
    Name,
    Role,
    CreatedAt,
    RevokedAt,
    /// Added by the identity migration.
    UserId,
    Roles,
    Enabled,
    Generation,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    PrivateKey,
    PublicKey,
    CreatedAt,
    RetiredAt,
}
