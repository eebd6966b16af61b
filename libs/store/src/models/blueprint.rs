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
    /// The definition's JSON text, kept as written (key order matters to clients: it is the
    /// order of properties in every entity).
    #[sea_orm(column_type = "Text")]
    pub definition: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub created_by: String,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The definition as JSON.
    pub fn definition_json(&self) -> Result<Json, crate::StoreError> {
        serde_json::from_str(&self.definition).map_err(|e| {
            crate::StoreError::Internal(format!(
                "stored blueprint '{}' is not JSON: {e}",
                self.identifier
            ))
        })
    }
}
