use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entity_relations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_blueprint: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_identifier: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub relation: String,
    pub target_blueprint: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_identifier: String,
    /// Whether the relation is required on the source's blueprint (dependents check).
    pub required: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
