use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Global order of the log (the outbox relays in this order).
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub id: Uuid,
    pub org_id: Uuid,
    #[sea_orm(column_name = "type")]
    pub r#type: String,
    pub resource_type: String,
    pub action: String,
    pub resource_id: String,
    pub blueprint: Option<String>,
    pub origin: String,
    pub run_id: Option<String>,
    #[sea_orm(column_type = "Json")]
    pub actor: Json,
    pub occurred_at: DateTimeUtc,
    #[sea_orm(column_type = "Json")]
    pub context: Json,
    #[sea_orm(column_type = "Json")]
    pub diff: Json,
    pub status: String,
    pub message: Option<String>,
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
