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
    /// JSON text.
    #[sea_orm(column_type = "Text")]
    pub actor: String,
    pub occurred_at: DateTimeUtc,
    /// JSON text.
    #[sea_orm(column_type = "Text")]
    pub context: String,
    /// JSON text: `{"before": ..., "after": ...}`.
    #[sea_orm(column_type = "Text")]
    pub diff: String,
    pub status: String,
    pub message: Option<String>,
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or(Json::Null)
}

impl Model {
    pub fn actor_json(&self) -> Json {
        parse(&self.actor)
    }
    pub fn context_json(&self) -> Json {
        parse(&self.context)
    }
    pub fn diff_json(&self) -> Json {
        parse(&self.diff)
    }
}
