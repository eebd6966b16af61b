use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "data_migrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: Uuid,
    pub kind: String,
    pub blueprint: String,
    pub delete_blueprint: bool,
    pub status: String,
    pub total: i64,
    pub processed: i64,
    pub error: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub actor: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
