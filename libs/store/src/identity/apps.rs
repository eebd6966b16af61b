//! Credential sets: the org's apps (`/v1/apps`) and users' personal credentials. Secrets are
//! stored as argon2id hashes only; rotating one moves the set's generation on, and tokens
//! issued under an older generation are refused.

use chrono::Utc;
use portolan_domain::Issues;
use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::users::{check_roles, strings};
use super::{record, ts};
use crate::models::credential;
use crate::{StoreError, Tenant};

/// Port's app shape (never the secret or its hash).
pub fn app_json(m: &credential::Model) -> Value {
    json!({
        "id": m.id.to_string(),
        "name": m.name,
        "clientId": m.client_id,
        "roles": m.roles,
        "enabled": m.enabled,
        "createdAt": ts(&m.created_at),
        "updatedAt": ts(&m.updated_at.unwrap_or(m.created_at)),
    })
}

/// An app to create; the secret is already hashed.
#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    pub client_id: String,
    pub secret_hash: String,
    pub roles: Vec<String>,
    pub enabled: bool,
}

/// Every live app of the org (personal credentials are not apps).
pub async fn list_apps(t: &Tenant) -> Result<Vec<Value>, StoreError> {
    Ok(credential::Entity::find()
        .filter(credential::Column::OrgId.eq(t.org().0))
        .filter(credential::Column::UserId.is_null())
        .filter(credential::Column::RevokedAt.is_null())
        .order_by_asc(credential::Column::CreatedAt)
        .all(t.conn())
        .await?
        .iter()
        .map(app_json)
        .collect())
}

async fn find_app(t: &Tenant, id: &str) -> Result<credential::Model, StoreError> {
    let not_found = || StoreError::NotFound {
        resource: "app",
        identifier: id.to_owned(),
    };
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    credential::Entity::find_by_id(uuid)
        .filter(credential::Column::OrgId.eq(t.org().0))
        .filter(credential::Column::UserId.is_null())
        .filter(credential::Column::RevokedAt.is_null())
        .one(t.conn())
        .await?
        .ok_or_else(not_found)
}

/// One app.
pub async fn get_app(t: &Tenant, id: &str) -> Result<Value, StoreError> {
    Ok(app_json(&find_app(t, id).await?))
}

/// Creates an app.
pub async fn create_app(t: &Tenant, new: NewApp, actor: &Actor) -> Result<Value, StoreError> {
    let mut issues = Issues::default();
    check_roles(t, &new.roles, "/roles", &mut issues).await?;
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let now = Utc::now();
    let m = credential::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(t.org().0),
        client_id: Set(new.client_id),
        secret_hash: Set(new.secret_hash),
        name: Set(new.name),
        role: Set(new.roles.first().cloned().unwrap_or_default()),
        created_at: Set(now),
        revoked_at: Set(None),
        user_id: Set(None),
        roles: Set(json!(new.roles)),
        enabled: Set(new.enabled),
        generation: Set(1),
        updated_at: Set(Some(now)),
    }
    .insert(t.conn())
    .await?;
    let view = app_json(&m);
    record(
        t,
        actor,
        ResourceType::Credential,
        Action::Create,
        &m.client_id,
        None,
        Some(view.clone()),
    )
    .await?;
    Ok(view)
}

/// Changes an app's name, roles or enabled flag. Disabling it or taking a role away ends its
/// tokens at once.
pub async fn update_app(
    t: &Tenant,
    id: &str,
    name: Option<String>,
    roles: Option<Vec<String>>,
    enabled: Option<bool>,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let current = find_app(t, id).await?;
    let mut issues = Issues::default();
    if let Some(r) = &roles {
        check_roles(t, r, "/roles", &mut issues).await?;
    }
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let before = app_json(&current);
    let mut revoke = false;
    let mut m = current.clone().into_active_model();
    if let Some(n) = name {
        m.name = Set(n);
    }
    if let Some(r) = roles {
        revoke |= strings(&current.roles).iter().any(|old| !r.contains(old));
        m.role = Set(r.first().cloned().unwrap_or_default());
        m.roles = Set(json!(r));
    }
    if let Some(e) = enabled {
        revoke |= current.enabled && !e;
        m.enabled = Set(e);
    }
    if revoke {
        m.generation = Set(current.generation + 1);
    }
    m.updated_at = Set(Some(Utc::now()));
    let updated = m.update(t.conn()).await?;
    let after = app_json(&updated);
    record(
        t,
        actor,
        ResourceType::Credential,
        Action::Update,
        &updated.client_id,
        Some(before),
        Some(after.clone()),
    )
    .await?;
    Ok(after)
}

/// Revokes an app: its secret stops working and its tokens die at once.
pub async fn delete_app(t: &Tenant, id: &str, actor: &Actor) -> Result<(), StoreError> {
    let current = find_app(t, id).await?;
    let before = app_json(&current);
    let mut m = current.clone().into_active_model();
    m.revoked_at = Set(Some(Utc::now()));
    m.update(t.conn()).await?;
    record(
        t,
        actor,
        ResourceType::Credential,
        Action::Delete,
        &current.client_id,
        Some(before),
        None,
    )
    .await
}

/// Replaces an app's secret (already hashed); tokens issued from the old one die.
pub async fn rotate_app_secret(
    t: &Tenant,
    id: &str,
    secret_hash: String,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let current = find_app(t, id).await?;
    let mut m = current.clone().into_active_model();
    m.secret_hash = Set(secret_hash);
    m.generation = Set(current.generation + 1);
    m.updated_at = Set(Some(Utc::now()));
    let updated = m.update(t.conn()).await?;
    record(
        t,
        actor,
        ResourceType::Credential,
        Action::Update,
        &updated.client_id,
        None,
        Some(json!({"clientId": updated.client_id, "secret": "rotated"})),
    )
    .await?;
    Ok(app_json(&updated))
}

/// Gives a user new personal credentials, revoking any they had (and their tokens).
pub async fn rotate_personal_credentials(
    t: &Tenant,
    user_id: Uuid,
    email: &str,
    client_id: String,
    secret_hash: String,
    actor: &Actor,
) -> Result<(), StoreError> {
    let now = Utc::now();
    for old in credential::Entity::find()
        .filter(credential::Column::OrgId.eq(t.org().0))
        .filter(credential::Column::UserId.eq(user_id))
        .filter(credential::Column::RevokedAt.is_null())
        .all(t.conn())
        .await?
    {
        let mut m = old.into_active_model();
        m.revoked_at = Set(Some(now));
        m.update(t.conn()).await?;
    }
    credential::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(t.org().0),
        client_id: Set(client_id.clone()),
        secret_hash: Set(secret_hash),
        name: Set(format!("personal credentials of {email}")),
        role: Set(String::new()),
        created_at: Set(now),
        revoked_at: Set(None),
        user_id: Set(Some(user_id)),
        roles: Set(json!([])),
        enabled: Set(true),
        generation: Set(1),
        updated_at: Set(Some(now)),
    }
    .insert(t.conn())
    .await?;
    record(
        t,
        actor,
        ResourceType::Credential,
        Action::Create,
        &client_id,
        None,
        Some(json!({"clientId": client_id, "user": email})),
    )
    .await
}
