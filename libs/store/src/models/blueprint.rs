use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "blueprints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub identifier: String,
    /// Bumped on every change; entities record the version they were validated against.
    pub version: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub definition: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub created_by: String,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
