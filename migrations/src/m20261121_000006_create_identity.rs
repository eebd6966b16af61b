//! Identity and the security perimeter: users, teams and their members, per-resource
//! permissions, encrypted organization secrets, and what credential sets and organizations
//! need beyond the foundation (owner user, roles, enabled, secret generation; org settings).
//!
//! Every new table is tenant-owned and, on PostgreSQL, under row-level security.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261121_000001_create_tenancy::{Credentials, Organizations};
use crate::rls::{disable_sql, enable_sql};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration creates, with their org column, in creation order.
pub const TABLES: &[(&str, &str)] = &[
    ("users", "org_id"),
    ("teams", "org_id"),
    ("team_members", "org_id"),
    ("permissions", "org_id"),
    ("org_secrets", "org_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid(Users::Id).primary_key())
                .col(uuid(Users::OrgId))
                .col(string_len(Users::Email, 254))
                .col(string_len(Users::FirstName, 200).default(""))
                .col(string_len(Users::LastName, 200).default(""))
                .col(string_len(Users::Status, 16))
                .col(json_binary(Users::Roles))
                .col(string_len_null(Users::PasswordHash, 255))
                .col(string_len(Users::Provider, 32).default("password"))
                .col(big_integer(Users::TokenVersion).default(1))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_users_org_email")
                .table(Users::Table)
                .col(Users::OrgId)
                .col(Users::Email)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Teams::Table)
                .col(uuid(Teams::Id).primary_key())
                .col(uuid(Teams::OrgId))
                .col(string_len(Teams::Name, 100))
                .col(string_len(Teams::Description, 1000).default(""))
                .col(string_len(Teams::Provider, 32).default("Port"))
                .col(timestamp_with_time_zone(Teams::CreatedAt))
                .col(timestamp_with_time_zone(Teams::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Teams::Table, Teams::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_teams_org_name")
                .table(Teams::Table)
                .col(Teams::OrgId)
                .col(Teams::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TeamMembers::Table)
                .col(uuid(TeamMembers::OrgId))
                .col(uuid(TeamMembers::TeamId))
                .col(uuid(TeamMembers::UserId))
                .primary_key(
                    Index::create()
                        .col(TeamMembers::TeamId)
                        .col(TeamMembers::UserId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(TeamMembers::Table, TeamMembers::TeamId)
                        .to(Teams::Table, Teams::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(TeamMembers::Table, TeamMembers::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_team_members_user")
                .table(TeamMembers::Table)
                .col(TeamMembers::OrgId)
                .col(TeamMembers::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Permissions::Table)
                .col(uuid(Permissions::OrgId))
                .col(string_len(Permissions::ResourceType, 32))
                .col(string_len(Permissions::Resource, 200))
                .col(json_binary(Permissions::Body))
                .col(timestamp_with_time_zone(Permissions::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(Permissions::OrgId)
                        .col(Permissions::ResourceType)
                        .col(Permissions::Resource),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Permissions::Table, Permissions::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OrgSecrets::Table)
                .col(uuid(OrgSecrets::OrgId))
                .col(string_len(OrgSecrets::Name, 100))
                .col(string_len(OrgSecrets::Description, 1000).default(""))
                .col(string_len(OrgSecrets::KeyId, 64))
                .col(blob(OrgSecrets::Sealed))
                .col(timestamp_with_time_zone(OrgSecrets::CreatedAt))
                .col(timestamp_with_time_zone(OrgSecrets::UpdatedAt))
                .primary_key(Index::create().col(OrgSecrets::OrgId).col(OrgSecrets::Name))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrgSecrets::Table, OrgSecrets::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(Credentials::UserId).uuid().null().to_owned(),
            ColumnDef::new(Credentials::Roles)
                .json_binary()
                .not_null()
                .default("[\"Admin\"]")
                .to_owned(),
            ColumnDef::new(Credentials::Enabled)
                .boolean()
                .not_null()
                .default(true)
                .to_owned(),
            ColumnDef::new(Credentials::Generation)
                .big_integer()
                .not_null()
                .default(1)
                .to_owned(),
            ColumnDef::new(Credentials::UpdatedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Credentials::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_credentials_user")
                .table(Credentials::Table)
                .col(Credentials::OrgId)
                .col(Credentials::UserId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Organizations::Table)
                .add_column(
                    ColumnDef::new(Organizations::Settings)
                        .json_binary()
                        .not_null()
                        .default("{}"),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            for (table, col) in TABLES {
                db.execute_unprepared(&enable_sql(table, col)).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            for (table, _) in TABLES {
                db.execute_unprepared(&disable_sql(table)).await?;
            }
        }
        m.alter_table(
            Table::alter()
                .table(Organizations::Table)
                .drop_column(Organizations::Settings)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_credentials_user")
                .table(Credentials::Table)
                .to_owned(),
        )
        .await?;
        for col in [
            Credentials::UpdatedAt,
            Credentials::Generation,
            Credentials::Enabled,
            Credentials::Roles,
            Credentials::UserId,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Credentials::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        for table in [
            "org_secrets",
            "permissions",
            "team_members",
            "teams",
            "users",
        ] {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrgId,
    Email,
    FirstName,
    LastName,
    Status,
    Roles,
    PasswordHash,
    Provider,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    Provider,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    OrgId,
    TeamId,
    UserId,
}

#[derive(DeriveIden)]
enum Permissions {
    Table,
    OrgId,
    ResourceType,
    Resource,
    Body,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgSecrets {
    Table,
    OrgId,
    Name,
    Description,
    KeyId,
    Sealed,
    CreatedAt,
    UpdatedAt,
}
