use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub client_id: String,
    /// argon2id PHC string; the secret itself is never stored.
    pub secret_hash: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The user whose personal credentials these are; `None` for an org credential set.
    pub user_id: Option<Uuid>,
    /// Roles the credential set acts with (personal credentials act as their user instead).
    #[sea_orm(column_type = "JsonBinary")]
    pub roles: Json,
    pub enabled: bool,
    /// Bumped when the secret rotates; tokens carry it and die with the old secret.
    pub generation: i64,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
