//! The caller's organization as `/v1/organization` shows and changes it: its name and its
//! settings (a JSON object).

use portolan_domain::Issues;
use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{Map, Value, json};

use crate::identity::{record, ts};
use crate::models::organization;
use crate::{StoreError, Tenant};

/// Longest organization name, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Largest settings object, in bytes of JSON.
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// Settings members with a known type: (name, JSON type).
const KNOWN_SETTINGS: &[(&str, &str)] = &[
    ("allowSsoProvisioning", "boolean"),
    ("rateLimits", "rateLimits"),
];

/// Largest per-window budget an org may set for itself.
pub const MAX_BUDGET: u64 = 100_000_000;

/// `rateLimits`: `{entities?, other?}`, each a budget per window from 1 to [`MAX_BUDGET`].
fn check_rate_limits(v: &Value, issues: &mut Issues) {
    let Some(o) = v.as_object() else {
        issues.push(
            "/settings/rateLimits",
            "must be an object: {entities?, other?}",
        );
        return;
    };
    for (k, n) in o {
        let pointer = format!(
            "/settings/rateLimits/{}",
            portolan_domain::error::escape_token(k)
        );
        if k != "entities" && k != "other" {
            issues.push(pointer, "unknown budget (entities, other)");
        } else if !n.as_u64().is_some_and(|n| (1..=MAX_BUDGET).contains(&n)) {
            issues.push(
                pointer,
                format!("must be an integer from 1 to {MAX_BUDGET}"),
            );
        }
    }
}

fn org_json(m: &organization::Model) -> Value {
    json!({
        "id": m.id.to_string(),
        "name": m.name,
        "status": m.status,
        "settings": m.settings,
        "createdAt": ts(&m.created_at),
    })
}

async fn find(t: &Tenant) -> Result<organization::Model, StoreError> {
    organization::Entity::find_by_id(t.org().0)
        .one(t.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("organization", t.org().to_string()))
}

/// The org: `{id, name, status, settings, createdAt}`.
pub async fn get_organization(t: &Tenant) -> Result<Value, StoreError> {
    Ok(org_json(&find(t).await?))
}

/// Checks an organization name: 1 to 200 characters, not blank, no control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME_LEN
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "must be 1 to {MAX_NAME_LEN} characters, not blank, without control characters"
        ));
    }
    Ok(())
}

fn check_settings(settings: &Map<String, Value>, issues: &mut Issues) {
    for (key, ty) in KNOWN_SETTINGS {
        let ok = match (settings.get(*key), *ty) {
            (None, _) => true,
            (Some(v), "boolean") => v.is_boolean(),
            (Some(v), "rateLimits") => {
                check_rate_limits(v, issues);
                true
            }
            _ => true,
        };
        if !ok {
            issues.push(format!("/settings/{key}"), format!("must be a {ty}"));
        }
    }
    let size = serde_json::to_vec(settings).map_or(usize::MAX, |v| v.len());
    if size > MAX_SETTINGS_BYTES {
        issues.push(
            "/settings",
            format!("must be at most {MAX_SETTINGS_BYTES} bytes of JSON, not {size}"),
        );
    }
}

/// Changes the org's name and/or settings. With `replace` (PUT), `settings` replaces the
/// stored object (absent: emptied); otherwise (PATCH) its top-level members are merged onto
/// it, a `null` member removing that member. Appends an organization event.
pub async fn update_organization(
    t: &Tenant,
    name: Option<String>,
    settings: Option<Value>,
    replace: bool,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let mut issues = Issues::default();
    if let Some(n) = &name
        && let Err(m) = check_name(n)
    {
        issues.push("/name", m);
    }
    let given = match settings {
        None => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            issues.push("/settings", "must be an object");
            None
        }
    };
    let found = find(t).await?;
    let mut next = if replace {
        Map::new()
    } else {
        found.settings.as_object().cloned().unwrap_or_default()
    };
    for (k, v) in given.unwrap_or_default() {
        if v.is_null() && !replace {
            next.remove(&k);
        } else {
            next.insert(k, v);
        }
    }
    check_settings(&next, &mut issues);
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let before = org_json(&found);
    let mut am = found.into_active_model();
    if let Some(n) = name {
        am.name = Set(n);
    }
    am.settings = Set(Value::Object(next));
    let m = am.update(t.conn()).await?;
    let after = org_json(&m);
    record(
        t,
        actor,
        ResourceType::Organization,
        Action::Update,
        &t.org().to_string(),
        Some(before),
        Some(after.clone()),
    )
    .await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("Acme").is_ok());
        assert!(check_name(&"x".repeat(200)).is_ok());
        for bad in ["", "   ", "a\nb", &"x".repeat(201)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn known_settings_are_typed_and_size_is_capped() {
        let mut issues = Issues::default();
        let ok = json!({"allowSsoProvisioning": true, "other": [1, 2]});
        check_settings(ok.as_object().expect("object"), &mut issues);
        assert!(issues.is_empty());
        let bad = json!({"allowSsoProvisioning": "yes"});
        check_settings(bad.as_object().expect("object"), &mut issues);
        assert_eq!(issues.0[0].pointer, "/settings/allowSsoProvisioning");
        let mut issues = Issues::default();
        let big = json!({"blob": "x".repeat(MAX_SETTINGS_BYTES)});
        check_settings(big.as_object().expect("object"), &mut issues);
        assert_eq!(issues.0[0].pointer, "/settings");
    }
}
