//! Organization secrets (`/v1/organization/secrets`): values sealed with AES-256-GCM before
//! they reach the database, bound to their org and name, and never returned by the API.
//!
//! Reads return metadata only (name, description, timestamps). The plain values leave this
//! module through [`plain_secrets`] alone, for templates (`{{ .secrets.NAME }}`). Events name
//! the secret and nothing else.

use std::collections::BTreeMap;

use portolan_auth::seal::{KeyRing, SealError};
use portolan_domain::event::{Action, Actor, ResourceType};
use portolan_domain::{Issues, OrgId};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::identity::{record, ts};
use crate::models::org_secret;
use crate::{Store, StoreError, Tenant};

/// Longest secret name.
pub const MAX_NAME_LEN: usize = 100;
/// Largest secret value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 1000;

/// Rows re-sealed per transaction by [`reseal_all`].
const RESEAL_BATCH: u64 = 100;

const RESOURCE: &str = "secret";

/// Checks a secret name: `^[A-Za-z0-9_-]{1,100}$`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "must match ^[A-Za-z0-9_-]{{1,{MAX_NAME_LEN}}}$ (letters, digits, '_' and '-')"
        ));
    }
    Ok(())
}

fn check_value(value: &SecretString, issues: &mut Issues) {
    let len = value.expose_secret().len();
    if len == 0 || len > MAX_VALUE_BYTES {
        issues.push(
            "/secretValue",
            format!("must be a string of 1 to {MAX_VALUE_BYTES} bytes"),
        );
    }
}

fn check_description(description: &str, issues: &mut Issues) {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        issues.push(
            "/description",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        );
    }
}

/// What the ciphertext of a secret is bound to: its org and its name. A sealed value copied
/// to another org or another name does not open. (Names cannot hold `|`.)
pub fn binding(org: OrgId, name: &str) -> Vec<u8> {
    format!("{org}|{name}").into_bytes()
}

fn seal_error(e: SealError) -> StoreError {
    StoreError::Internal(format!("secret encryption: {e}"))
}

fn seal(
    keys: &KeyRing,
    org: OrgId,
    name: &str,
    value: &SecretString,
) -> Result<(String, Vec<u8>), StoreError> {
    keys.seal(value.expose_secret().as_bytes(), &binding(org, name))
        .map_err(seal_error)
}

/// The metadata of a secret, as the API shows it (never the value).
pub fn metadata(m: &org_secret::Model) -> Value {
    json!({
        "secretName": m.name,
        "description": m.description,
        "createdAt": ts(&m.created_at),
        "updatedAt": ts(&m.updated_at),
    })
}

fn event_body(name: &str) -> Option<Value> {
    Some(json!({ "secretName": name }))
}

async fn find(t: &Tenant, name: &str) -> Result<Option<org_secret::Model>, StoreError> {
    Ok(org_secret::Entity::find()
        .filter(org_secret::Column::OrgId.eq(t.org().0))
        .filter(org_secret::Column::Name.eq(name))
        .one(t.conn())
        .await?)
}

async fn find_or_404(t: &Tenant, name: &str) -> Result<org_secret::Model, StoreError> {
    find(t, name)
        .await?
        .ok_or_else(|| StoreError::not_found(RESOURCE, name))
}

/// Every secret of the org, by name: metadata only.
pub async fn list(t: &Tenant) -> Result<Vec<Value>, StoreError> {
    Ok(org_secret::Entity::find()
        .filter(org_secret::Column::OrgId.eq(t.org().0))
        .order_by_asc(org_secret::Column::Name)
        .all(t.conn())
        .await?
        .iter()
        .map(metadata)
        .collect())
}

/// One secret's metadata (404 when unknown).
pub async fn get(t: &Tenant, name: &str) -> Result<Value, StoreError> {
    Ok(metadata(&find_or_404(t, name).await?))
}

/// Creates a secret (409 when the name exists), sealed with the primary key.
pub async fn create(
    t: &Tenant,
    keys: &KeyRing,
    name: &str,
    value: &SecretString,
    description: Option<&str>,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let mut issues = Issues::default();
    if let Err(m) = check_name(name) {
        issues.push("/secretName", m);
    }
    check_value(value, &mut issues);
    check_description(description.unwrap_or(""), &mut issues);
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let exists = || StoreError::AlreadyExists {
        resource: RESOURCE,
        identifier: name.to_owned(),
    };
    if find(t, name).await?.is_some() {
        return Err(exists());
    }
    let (key_id, sealed) = seal(keys, t.org(), name, value)?;
    let now = crate::now_ms();
    let m = org_secret::ActiveModel {
        org_id: Set(t.org().0),
        name: Set(name.to_owned()),
        description: Set(description.unwrap_or("").to_owned()),
        key_id: Set(key_id),
        sealed: Set(sealed),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(t.conn())
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => exists(),
        other => other,
    })?;
    record(
        t,
        actor,
        ResourceType::Secret,
        Action::Create,
        name,
        None,
        event_body(name),
    )
    .await?;
    Ok(metadata(&m))
}

/// Changes a secret's value (re-sealed with the primary key), its description, or both; at
/// least one must be given.
pub async fn update(
    t: &Tenant,
    keys: &KeyRing,
    name: &str,
    value: Option<&SecretString>,
    description: Option<&str>,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let mut issues = Issues::default();
    if value.is_none() && description.is_none() {
        issues.push("", "give secretValue, description or both");
    }
    if let Some(v) = value {
        check_value(v, &mut issues);
    }
    if let Some(d) = description {
        check_description(d, &mut issues);
    }
    let found = find_or_404(t, name).await?;
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let mut am = found.into_active_model();
    if let Some(v) = value {
        let (key_id, sealed) = seal(keys, t.org(), name, v)?;
        am.key_id = Set(key_id);
        am.sealed = Set(sealed);
    }
    if let Some(d) = description {
        am.description = Set(d.to_owned());
    }
    am.updated_at = Set(crate::now_ms());
    let m = am.update(t.conn()).await?;
    record(
        t,
        actor,
        ResourceType::Secret,
        Action::Update,
        name,
        event_body(name),
        event_body(name),
    )
    .await?;
    Ok(metadata(&m))
}

/// Deletes a secret (404 when unknown).
pub async fn delete(t: &Tenant, name: &str, actor: &Actor) -> Result<(), StoreError> {
    find_or_404(t, name).await?;
    org_secret::Entity::delete_many()
        .filter(org_secret::Column::OrgId.eq(t.org().0))
        .filter(org_secret::Column::Name.eq(name))
        .exec(t.conn())
        .await?;
    record(
        t,
        actor,
        ResourceType::Secret,
        Action::Delete,
        name,
        event_body(name),
        None,
    )
    .await
}

/// Every secret of the org, decrypted: for templates (`{{ .secrets.NAME }}`) only. A value
/// that does not open (a key removed too early, a tampered row) is an internal error naming
/// the secret.
pub async fn plain_secrets(
    t: &Tenant,
    keys: &KeyRing,
) -> Result<BTreeMap<String, SecretString>, StoreError> {
    let rows = org_secret::Entity::find()
        .filter(org_secret::Column::OrgId.eq(t.org().0))
        .all(t.conn())
        .await?;
    let mut out = BTreeMap::new();
    for m in rows {
        let value = keys
            .open_string(&m.key_id, &m.sealed, &binding(t.org(), &m.name))
            .map_err(|e| {
                StoreError::Internal(format!("secret '{}' cannot be decrypted: {e}", m.name))
            })?;
        out.insert(m.name, value);
    }
    Ok(out)
}

/// Re-seals with the primary key every secret, of every org, that another key sealed (after
/// a key rotation); returns how many rows were re-sealed. Works in batches, each in its own
/// transaction; a row changed concurrently is left to that change (which sealed it anew).
/// Fails, naming the org, secret and key id, when a row does not open with the ring: nothing
/// is lost, and the old key can be put back in the ring before running it again.
pub async fn reseal_all(store: &Store, keys: &KeyRing) -> Result<u64, StoreError> {
    let primary = keys.primary_kid().to_owned();
    let mut resealed = 0;
    let mut after: Option<(uuid::Uuid, String)> = None;
    loop {
        let mut q = org_secret::Entity::find()
            .filter(org_secret::Column::KeyId.ne(primary.as_str()))
            .order_by_asc(org_secret::Column::OrgId)
            .order_by_asc(org_secret::Column::Name)
            .limit(RESEAL_BATCH);
        if let Some((org, name)) = &after {
            q = q.filter(
                Condition::any()
                    .add(org_secret::Column::OrgId.gt(*org))
                    .add(
                        Condition::all()
                            .add(org_secret::Column::OrgId.eq(*org))
                            .add(org_secret::Column::Name.gt(name.as_str())),
                    ),
            );
        }
        let rows = q.all(store.connection()).await?;
        let Some(last) = rows.last() else {
            return Ok(resealed);
        };
        after = Some((last.org_id, last.name.clone()));
        let tx = store.connection().begin().await?;
        for m in rows {
            let org = OrgId(m.org_id);
            let aad = binding(org, &m.name);
            let plain = keys.open(&m.key_id, &m.sealed, &aad).map_err(|e| {
                StoreError::Internal(format!(
                    "secret '{}' of organization {org} (key '{}') cannot be decrypted: {e}",
                    m.name, m.key_id
                ))
            })?;
            let (key_id, sealed) = keys.seal(&plain, &aad).map_err(seal_error)?;
            let done = org_secret::Entity::update_many()
                .col_expr(org_secret::Column::KeyId, key_id.into())
                .col_expr(org_secret::Column::Sealed, sealed.into())
                .filter(org_secret::Column::OrgId.eq(m.org_id))
                .filter(org_secret::Column::Name.eq(m.name.as_str()))
                .filter(org_secret::Column::KeyId.eq(m.key_id.as_str()))
                .filter(org_secret::Column::Sealed.eq(m.sealed.clone()))
                .exec(&tx)
                .await?;
            resealed += done.rows_affected;
        }
        tx.commit().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["A", "GITHUB_TOKEN", "a-b_c-9", &"x".repeat(100)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "dot.ted", "pipe|x", "é", &"x".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
