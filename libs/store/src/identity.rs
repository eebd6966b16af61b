//! Identity: users, teams, credential sets (apps and personal credentials), permissions, and
//! the principal lookups that every authenticated request makes.
//!
//! Tenant-scoped functions take a [`Tenant`]; the principal lookups run before the org is
//! trusted (the token names it) and filter by org explicitly.

mod apps;
mod permissions;
mod teams;
mod users;

pub use apps::*;
pub use permissions::*;
pub use teams::*;
pub use users::*;

use chrono::{DateTime, SecondsFormat, Utc};
use portolan_domain::OrgId;
use portolan_domain::event::{Action, Actor, ResourceType};
use serde_json::{Value, json};

use crate::events::{self, NewEvent};
use crate::{StoreError, Tenant};

/// Longest email accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest team name.
pub const MAX_TEAM_NAME_LEN: usize = 100;
/// Most teams or roles on one user.
pub const MAX_MEMBERSHIPS: usize = 500;

pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A lower-cased email, checked for shape.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= MAX_EMAIL_LEN
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        Err(format!(
            "must be an email address of at most {MAX_EMAIL_LEN} characters"
        ))
    }
}

/// Appends one identity event (never carrying a secret) in `t`'s transaction.
pub(crate) async fn record(
    t: &Tenant,
    actor: &Actor,
    resource_type: ResourceType,
    action: Action,
    id: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), StoreError> {
    events::append(
        t.conn(),
        t.org(),
        actor,
        vec![NewEvent {
            resource_type,
            action,
            resource_id: id.to_owned(),
            blueprint: None,
            context: json!({ resource_type.as_str(): id }),
            before,
            after,
            run_id: None,
        }],
    )
    .await
}

/// Records a sign-in (or a refused one) in the org's event log, in its own transaction.
pub async fn record_sign_in(
    store: &crate::Store,
    org: OrgId,
    actor: &Actor,
    resource_type: ResourceType,
    id: &str,
    method: &str,
    failure: Option<&str>,
) -> Result<(), StoreError> {
    let t = store.tenant(org).await?;
    events::append_with_status(
        t.conn(),
        org,
        actor,
        vec![NewEvent {
            resource_type,
            action: Action::Login,
            resource_id: id.to_owned(),
            blueprint: None,
            context: json!({ resource_type.as_str(): id, "method": method }),
            before: None,
            after: None,
            run_id: None,
        }],
        if failure.is_some() {
            "FAILURE"
        } else {
            "SUCCESS"
        },
        failure,
    )
    .await?;
    t.commit().await
}
