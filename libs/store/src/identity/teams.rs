//! Teams: Port's `{name, description, users}`; entity `team` values name them.

use std::collections::HashMap;

use chrono::Utc;
use portolan_domain::Issues;
use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{MAX_MEMBERSHIPS, MAX_TEAM_NAME_LEN, record, ts};
use crate::models::{team, team_member, user};
use crate::{StoreError, Tenant};

/// A team to create or the new state of one (`PUT`); for `PATCH`, `None` keeps a member.
#[derive(Debug, Clone, Default)]
pub struct TeamInput {
    pub description: Option<String>,
    /// Emails of the members.
    pub users: Option<Vec<String>>,
}

/// Checks a team name: 1 to 100 characters, no control characters.
pub fn check_team_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_TEAM_NAME_LEN
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "must be 1 to {MAX_TEAM_NAME_LEN} characters, without control characters"
        ));
    }
    Ok(())
}

fn team_json(m: &team::Model, users: &[String]) -> Value {
    json!({
        "id": m.id.to_string(),
        "name": m.name,
        "description": m.description,
        "provider": m.provider,
        "users": users.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
        "createdAt": ts(&m.created_at),
        "updatedAt": ts(&m.updated_at),
    })
}

async fn members_by_team(t: &Tenant) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let emails: HashMap<Uuid, String> = user::Entity::find()
        .filter(user::Column::OrgId.eq(t.org().0))
        .all(t.conn())
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    for m in team_member::Entity::find()
        .filter(team_member::Column::OrgId.eq(t.org().0))
        .all(t.conn())
        .await?
    {
        if let Some(e) = emails.get(&m.user_id) {
            out.entry(m.team_id).or_default().push(e.clone());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

/// Every team of the org, by name.
pub async fn list_teams(t: &Tenant) -> Result<Vec<Value>, StoreError> {
    let teams = team::Entity::find()
        .filter(team::Column::OrgId.eq(t.org().0))
        .order_by_asc(team::Column::Name)
        .all(t.conn())
        .await?;
    let members = members_by_team(t).await?;
    Ok(teams
        .iter()
        .map(|m| team_json(m, members.get(&m.id).map_or(&[], Vec::as_slice)))
        .collect())
}

async fn find(t: &Tenant, name: &str) -> Result<team::Model, StoreError> {
    team::Entity::find()
        .filter(team::Column::OrgId.eq(t.org().0))
        .filter(team::Column::Name.eq(name))
        .one(t.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            resource: "team",
            identifier: name.to_owned(),
        })
}

/// One team in Port's shape.
pub async fn get_team(t: &Tenant, name: &str) -> Result<Value, StoreError> {
    let m = find(t, name).await?;
    let members = members_by_team(t).await?;
    Ok(team_json(&m, members.get(&m.id).map_or(&[], Vec::as_slice)))
}

/// The names among `names` that are not teams of the org.
pub async fn unknown_teams(t: &Tenant, names: &[String]) -> Result<Vec<String>, StoreError> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    let found: Vec<String> = team::Entity::find()
        .filter(team::Column::OrgId.eq(t.org().0))
        .filter(team::Column::Name.is_in(names.iter().map(String::as_str)))
        .all(t.conn())
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    let mut missing: Vec<String> = names
        .iter()
        .filter(|n| !found.contains(n))
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    Ok(missing)
}

async fn user_ids(
    t: &Tenant,
    emails: &[String],
    issues: &mut Issues,
) -> Result<Vec<Uuid>, StoreError> {
    if emails.len() > MAX_MEMBERSHIPS {
        issues.push("/users", format!("at most {MAX_MEMBERSHIPS} users"));
        return Ok(vec![]);
    }
    let lower: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    let found: HashMap<String, Uuid> = user::Entity::find()
        .filter(user::Column::OrgId.eq(t.org().0))
        .filter(user::Column::Email.is_in(lower.iter().map(String::as_str)))
        .all(t.conn())
        .await?
        .into_iter()
        .map(|u| (u.email, u.id))
        .collect();
    let mut ids = Vec::new();
    for (i, e) in lower.iter().enumerate() {
        match found.get(e) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => issues.push(format!("/users/{i}"), format!("no user `{e}`")),
        }
    }
    Ok(ids)
}

async fn set_members(t: &Tenant, team: Uuid, users: &[Uuid]) -> Result<(), StoreError> {
    team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(t.org().0))
        .filter(team_member::Column::TeamId.eq(team))
        .exec(t.conn())
        .await?;
    if users.is_empty() {
        return Ok(());
    }
    team_member::Entity::insert_many(users.iter().map(|u| team_member::ActiveModel {
        org_id: Set(t.org().0),
        team_id: Set(team),
        user_id: Set(*u),
    }))
    .exec(t.conn())
    .await?;
    Ok(())
}

/// Creates a team (409 when the name exists); its users must exist.
pub async fn create_team(
    t: &Tenant,
    name: &str,
    input: TeamInput,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let mut issues = Issues::default();
    if let Err(m) = check_team_name(name) {
        issues.push("/name", m);
    }
    let users = user_ids(t, input.users.as_deref().unwrap_or(&[]), &mut issues).await?;
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    if find(t, name).await.is_ok() {
        return Err(StoreError::AlreadyExists {
            resource: "team",
            identifier: name.to_owned(),
        });
    }
    let now = Utc::now();
    let m = team::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(t.org().0),
        name: Set(name.to_owned()),
        description: Set(input.description.unwrap_or_default()),
        provider: Set("Port".into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(t.conn())
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::AlreadyExists {
            resource: "team",
            identifier: name.to_owned(),
        },
        other => other,
    })?;
    set_members(t, m.id, &users).await?;
    let view = get_team(t, name).await?;
    record(
        t,
        actor,
        ResourceType::Team,
        Action::Create,
        name,
        None,
        Some(view.clone()),
    )
    .await?;
    Ok(view)
}

/// Changes a team: members given are set (`PUT` gives all, `PATCH` some). A new name is
/// refused while entities name the team.
pub async fn update_team(
    t: &Tenant,
    name: &str,
    new_name: Option<&str>,
    input: TeamInput,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let current = find(t, name).await?;
    let before = get_team(t, name).await?;
    let mut issues = Issues::default();
    let users = match &input.users {
        Some(u) => Some(user_ids(t, u, &mut issues).await?),
        None => None,
    };
    let rename = new_name.filter(|n| *n != name);
    if let Some(n) = rename {
        if let Err(m) = check_team_name(n) {
            issues.push("/name", m);
        } else if owned_entities(t, name).await? > 0 {
            issues.push(
                "/name",
                format!(
                    "entities are owned by team `{name}`: it cannot be renamed while they name it"
                ),
            );
        } else if find(t, n).await.is_ok() {
            return Err(StoreError::AlreadyExists {
                resource: "team",
                identifier: n.to_owned(),
            });
        }
    }
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let mut m = current.clone().into_active_model();
    if let Some(d) = input.description {
        m.description = Set(d);
    }
    if let Some(n) = rename {
        m.name = Set(n.to_owned());
    }
    m.updated_at = Set(Utc::now());
    let updated = m.update(t.conn()).await?;
    if let Some(u) = users {
        set_members(t, updated.id, &u).await?;
    }
    let after = get_team(t, &updated.name).await?;
    record(
        t,
        actor,
        ResourceType::Team,
        Action::Update,
        name,
        Some(before),
        Some(after.clone()),
    )
    .await?;
    Ok(after)
}

/// How many entities name `team` as an owner (through the search index).
pub async fn owned_entities(t: &Tenant, team: &str) -> Result<u64, StoreError> {
    use sea_orm::sea_query::{Alias, Expr, Func, Query};
    use sea_orm::{ConnectionTrait, ExprTrait};
    let q = Query::select()
        .expr(Func::count(Expr::col(Alias::new("identifier"))))
        .from(Alias::new("entity_values"))
        .and_where(Expr::col(Alias::new("org_id")).eq(t.org().0))
        .and_where(Expr::col(Alias::new("key")).eq("$team[]"))
        .and_where(Expr::col(Alias::new("s")).eq(team))
        .to_owned();
    let row = t.conn().query_one(&q).await?;
    let n: i64 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes a team; refused while entities name it (they would lose their owner silently).
pub async fn delete_team(t: &Tenant, name: &str, actor: &Actor) -> Result<(), StoreError> {
    let current = find(t, name).await?;
    let n = owned_entities(t, name).await?;
    if n > 0 {
        return Err(StoreError::HasDependents {
            message: format!(
                "{n} entities are owned by team '{name}': give them another team first"
            ),
            dependents: vec![json!({"entities": n})],
        });
    }
    let before = get_team(t, name).await?;
    team::Entity::delete_many()
        .filter(team::Column::OrgId.eq(t.org().0))
        .filter(team::Column::Id.eq(current.id))
        .exec(t.conn())
        .await?;
    record(
        t,
        actor,
        ResourceType::Team,
        Action::Delete,
        name,
        Some(before),
        None,
    )
    .await
}
