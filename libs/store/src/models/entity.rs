use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub blueprint: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub identifier: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    /// JSON array of team names.
    #[sea_orm(column_type = "JsonBinary")]
    pub team: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub properties: Json,
    /// Relation key -> target identifier or array of them (the read shape); the
    /// `entity_relations` table holds the same edges, indexed both ways.
    #[sea_orm(column_type = "JsonBinary")]
    pub relations: Json,
    pub blueprint_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub created_by: String,
    pub updated_by: String,
    pub datasource: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
