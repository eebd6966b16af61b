use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lower case.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// `Staged`, `Invited`, `Active` or `Disabled`.
    pub status: String,
    /// A JSON array of role names.
    #[sea_orm(column_type = "JsonBinary")]
    pub roles: Json,
    /// argon2id PHC string of the password, if the user has one.
    pub password_hash: Option<String>,
    /// `password` or `sso`: how the user was created.
    pub provider: String,
    /// Bumped when the user is disabled or its password changes: tokens carry it.
    pub token_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
