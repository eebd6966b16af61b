//! Users: Port's statuses (Staged, Invited, Active, Disabled), roles, team membership,
//! passwords, and the per-request principal lookup.

use std::collections::HashMap;

use chrono::Utc;
use portolan_domain::event::{Action, Actor, ResourceType};
use portolan_domain::permission::{ADMIN, MEMBER, moderated_blueprint};
use portolan_domain::{Issues, OrgId};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition, JoinType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{MAX_MEMBERSHIPS, record, ts};
use crate::models::{blueprint, credential, team, team_member, user};
use crate::{Store, StoreError, Tenant};

/// A user's status.
pub const STATUSES: &[&str] = &["Staged", "Invited", "Active", "Disabled"];

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Lower case (see [`super::normalize_email`]).
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<String>,
    pub teams: Vec<String>,
    pub status: String,
    pub password_hash: Option<String>,
    /// `password` or `sso`.
    pub provider: String,
}

/// A change to a user; `None` leaves a member as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub teams: Option<Vec<String>>,
    pub status: Option<String>,
}

/// Port's user shape.
pub fn user_json(u: &user::Model, teams: &[String]) -> Value {
    json!({
        "email": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "status": u.status,
        "roles": u.roles,
        "teams": teams.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "providers": [u.provider],
        "createdAt": ts(&u.created_at),
        "updatedAt": ts(&u.updated_at),
        "lastLoginAt": u.last_login_at.as_ref().map(ts),
    })
}

pub(crate) fn roles_of(u: &user::Model) -> Vec<String> {
    strings(&u.roles)
}

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks roles: `Admin`, `Member` or `<blueprint>-moderator` of a blueprint of the org.
pub(crate) async fn check_roles(
    t: &Tenant,
    roles: &[String],
    pointer: &str,
    issues: &mut Issues,
) -> Result<(), StoreError> {
    if roles.len() > MAX_MEMBERSHIPS {
        issues.push(pointer, format!("at most {MAX_MEMBERSHIPS} roles"));
        return Ok(());
    }
    let moderated: Vec<&str> = roles
        .iter()
        .filter_map(|r| moderated_blueprint(r))
        .collect();
    let existing: Vec<String> = if moderated.is_empty() {
        vec![]
    } else {
        blueprint::Entity::find()
            .filter(blueprint::Column::OrgId.eq(t.org().0))
            .filter(blueprint::Column::Identifier.is_in(moderated))
            .all(t.conn())
            .await?
            .into_iter()
            .map(|b| b.identifier)
            .collect()
    };
    for (i, role) in roles.iter().enumerate() {
        let ok = role == ADMIN
            || role == MEMBER
            || moderated_blueprint(role).is_some_and(|bp| existing.iter().any(|e| e == bp));
        if !ok {
            issues.push(
                format!("{pointer}/{i}"),
                format!("unknown role `{role}` (Admin, Member or <blueprint>-moderator of an existing blueprint)"),
            );
        }
    }
    Ok(())
}

/// The ids of the named teams; unknown names are reported under `pointer/<i>`.
pub(crate) async fn team_ids(
    t: &Tenant,
    names: &[String],
    pointer: &str,
    issues: &mut Issues,
) -> Result<Vec<Uuid>, StoreError> {
    if names.len() > MAX_MEMBERSHIPS {
        issues.push(pointer, format!("at most {MAX_MEMBERSHIPS} teams"));
        return Ok(vec![]);
    }
    let found: HashMap<String, Uuid> = team::Entity::find()
        .filter(team::Column::OrgId.eq(t.org().0))
        .filter(team::Column::Name.is_in(names.iter().map(String::as_str)))
        .all(t.conn())
        .await?
        .into_iter()
        .map(|m| (m.name, m.id))
        .collect();
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match found.get(name) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => issues.push(format!("{pointer}/{i}"), format!("no team `{name}`")),
        }
    }
    Ok(ids)
}

/// Team names per user id, for the given users (all of the org's when `users` is `None`).
pub(crate) async fn teams_by_user(
    t: &Tenant,
    users: Option<&[Uuid]>,
) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let mut q = team_member::Entity::find().filter(team_member::Column::OrgId.eq(t.org().0));
    if let Some(ids) = users {
        q = q.filter(team_member::Column::UserId.is_in(ids.iter().copied()));
    }
    let members = q.all(t.conn()).await?;
    let names: HashMap<Uuid, String> = team::Entity::find()
        .filter(team::Column::OrgId.eq(t.org().0))
        .all(t.conn())
        .await?
        .into_iter()
        .map(|m| (m.id, m.name))
        .collect();
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    for m in members {
        if let Some(n) = names.get(&m.team_id) {
            out.entry(m.user_id).or_default().push(n.clone());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

async fn set_memberships(t: &Tenant, user: Uuid, teams: &[Uuid]) -> Result<(), StoreError> {
    team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(t.org().0))
        .filter(team_member::Column::UserId.eq(user))
        .exec(t.conn())
        .await?;
    if teams.is_empty() {
        return Ok(());
    }
    team_member::Entity::insert_many(teams.iter().map(|team| team_member::ActiveModel {
        org_id: Set(t.org().0),
        team_id: Set(*team),
        user_id: Set(user),
    }))
    .exec(t.conn())
    .await?;
    Ok(())
}

/// Every user of the org, by email.
pub async fn list_users(t: &Tenant) -> Result<Vec<Value>, StoreError> {
    let users = user::Entity::find()
        .filter(user::Column::OrgId.eq(t.org().0))
        .order_by_asc(user::Column::Email)
        .all(t.conn())
        .await?;
    let teams = teams_by_user(t, None).await?;
    Ok(users
        .iter()
        .map(|u| user_json(u, teams.get(&u.id).map_or(&[], Vec::as_slice)))
        .collect())
}

/// The user with this email, if any.
pub async fn find_user(t: &Tenant, email: &str) -> Result<Option<user::Model>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::OrgId.eq(t.org().0))
        .filter(user::Column::Email.eq(email))
        .one(t.conn())
        .await?)
}

async fn must_find(t: &Tenant, email: &str) -> Result<user::Model, StoreError> {
    find_user(t, email)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            resource: "user",
            identifier: email.to_owned(),
        })
}

/// One user in Port's shape.
pub async fn get_user(t: &Tenant, email: &str) -> Result<Value, StoreError> {
    let u = must_find(t, email).await?;
    let teams = teams_by_user(t, Some(&[u.id])).await?;
    Ok(user_json(&u, teams.get(&u.id).map_or(&[], Vec::as_slice)))
}

/// Creates a user (409 when the email exists). Roles and teams must exist.
pub async fn create_user(t: &Tenant, new: NewUser, actor: &Actor) -> Result<Value, StoreError> {
    let mut issues = Issues::default();
    check_roles(t, &new.roles, "/roles", &mut issues).await?;
    let teams = team_ids(t, &new.teams, "/teams", &mut issues).await?;
    if !STATUSES.contains(&new.status.as_str()) {
        issues.push("/status", format!("must be one of {}", STATUSES.join(", ")));
    }
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    if find_user(t, &new.email).await?.is_some() {
        return Err(StoreError::AlreadyExists {
            resource: "user",
            identifier: new.email,
        });
    }
    let now = Utc::now();
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(t.org().0),
        email: Set(new.email.clone()),
        first_name: Set(new.first_name),
        last_name: Set(new.last_name),
        status: Set(new.status),
        roles: Set(json!(new.roles)),
        password_hash: Set(new.password_hash),
        provider: Set(new.provider),
        token_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    }
    .insert(t.conn())
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::AlreadyExists {
            resource: "user",
            identifier: new.email.clone(),
        },
        other => other,
    })?;
    set_memberships(t, model.id, &teams).await?;
    let view = user_json(&model, &sorted_names(&new.teams));
    record(
        t,
        actor,
        ResourceType::User,
        Action::Create,
        &model.email,
        None,
        Some(view.clone()),
    )
    .await?;
    Ok(view)
}

fn sorted_names(names: &[String]) -> Vec<String> {
    let mut v = names.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Changes a user. Disabling it, or taking roles away, revokes its tokens at once (its token
/// version moves on; every request checks it).
pub async fn update_user(
    t: &Tenant,
    email: &str,
    patch: UserPatch,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let current = must_find(t, email).await?;
    let teams_before = teams_by_user(t, Some(&[current.id]))
        .await?
        .remove(&current.id)
        .unwrap_or_default();
    let before = user_json(&current, &teams_before);
    let mut issues = Issues::default();
    if let Some(roles) = &patch.roles {
        check_roles(t, roles, "/roles", &mut issues).await?;
    }
    let team_ids = match &patch.teams {
        Some(names) => Some(team_ids(t, names, "/teams", &mut issues).await?),
        None => None,
    };
    if let Some(s) = &patch.status
        && !STATUSES.contains(&s.as_str())
    {
        issues.push("/status", format!("must be one of {}", STATUSES.join(", ")));
    }
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    let mut revoke = false;
    let mut m = current.clone().into_active_model();
    if let Some(v) = patch.first_name {
        m.first_name = Set(v);
    }
    if let Some(v) = patch.last_name {
        m.last_name = Set(v);
    }
    if let Some(roles) = &patch.roles {
        let old = roles_of(&current);
        revoke |= old.iter().any(|r| !roles.contains(r));
        m.roles = Set(json!(roles));
    }
    if let Some(s) = patch.status {
        revoke |= s == "Disabled" && current.status != "Disabled";
        m.status = Set(s);
    }
    if revoke {
        m.token_version = Set(current.token_version + 1);
    }
    m.updated_at = Set(Utc::now());
    let updated = m.update(t.conn()).await?;
    let teams_after = match (&team_ids, &patch.teams) {
        (Some(ids), Some(names)) => {
            set_memberships(t, updated.id, ids).await?;
            sorted_names(names)
        }
        _ => teams_before,
    };
    let after = user_json(&updated, &teams_after);
    record(
        t,
        actor,
        ResourceType::User,
        Action::Update,
        email,
        Some(before),
        Some(after.clone()),
    )
    .await?;
    Ok(after)
}

/// Removes a user, its memberships and its personal credentials; its tokens die at once.
pub async fn delete_user(t: &Tenant, email: &str, actor: &Actor) -> Result<(), StoreError> {
    let current = must_find(t, email).await?;
    let before = get_user(t, email).await?;
    credential::Entity::update_many()
        .col_expr(credential::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(credential::Column::OrgId.eq(t.org().0))
        .filter(credential::Column::UserId.eq(current.id))
        .filter(credential::Column::RevokedAt.is_null())
        .exec(t.conn())
        .await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(t.org().0))
        .filter(team_member::Column::UserId.eq(current.id))
        .exec(t.conn())
        .await?;
    user::Entity::delete_many()
        .filter(user::Column::OrgId.eq(t.org().0))
        .filter(user::Column::Id.eq(current.id))
        .exec(t.conn())
        .await?;
    record(
        t,
        actor,
        ResourceType::User,
        Action::Delete,
        email,
        Some(before),
        None,
    )
    .await
}

/// Sets a user's password hash (and activates an invited user); existing tokens die.
pub async fn set_password(
    t: &Tenant,
    email: &str,
    hash: String,
    actor: &Actor,
) -> Result<(), StoreError> {
    let current = must_find(t, email).await?;
    let mut m = current.clone().into_active_model();
    m.password_hash = Set(Some(hash));
    m.token_version = Set(current.token_version + 1);
    if current.status == "Invited" || current.status == "Staged" {
        m.status = Set("Active".into());
    }
    m.updated_at = Set(Utc::now());
    m.update(t.conn()).await?;
    // The event says that the password changed, never what it is.
    record(
        t,
        actor,
        ResourceType::User,
        Action::Update,
        email,
        None,
        Some(json!({"email": email, "password": "changed"})),
    )
    .await
}

/// The user a token names, if it still exists in the tenant's org, read in the tenant's
/// transaction (the request's own: no second connection).
pub async fn principal_user_in(
    t: &Tenant,
    user_id: Uuid,
) -> Result<Option<UserPrincipal>, StoreError> {
    principal_user_on(t.conn(), t.org(), user_id).await
}

async fn principal_user_on<C: ConnectionTrait>(
    conn: &C,
    org: OrgId,
    user_id: Uuid,
) -> Result<Option<UserPrincipal>, StoreError> {
    // One statement (it runs on every request of a user token): the user's row once per
    // team it is in, with the team's name (one row with no name when it is in none).
    let member = user::Entity::belongs_to(team_member::Entity)
        .from(user::Column::Id)
        .to(team_member::Column::UserId)
        .on_condition(|u, m| {
            Expr::col((m, team_member::Column::OrgId))
                .equals((u, user::Column::OrgId))
                .into_condition()
        })
        .into();
    let team_of = team_member::Entity::belongs_to(team::Entity)
        .from(team_member::Column::TeamId)
        .to(team::Column::Id)
        .on_condition(|m, t| {
            Expr::col((t, team::Column::OrgId))
                .equals((m, team_member::Column::OrgId))
                .into_condition()
        })
        .into();
    let rows = user::Entity::find()
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::OrgId.eq(org.0))
        .join(JoinType::LeftJoin, member)
        .join(JoinType::LeftJoin, team_of)
        .column_as(team::Column::Name, "team_name")
        .into_model::<UserTeamRow>()
        .all(conn)
        .await?;
    Ok(principal_of(rows))
}

/// The principal of the rows of a user-and-teams join (`None` without a row).
fn principal_of(rows: Vec<UserTeamRow>) -> Option<UserPrincipal> {
    let mut rows = rows.into_iter();
    let first = rows.next()?;
    let mut teams: Vec<String> = first.team_name.into_iter().collect();
    teams.extend(rows.filter_map(|r| r.team_name));
    teams.sort();
    teams.dedup();
    Some(UserPrincipal {
        user: first.user,
        teams,
    })
}

/// The principal of the rows the tenant set-up read with [`USER_LOOKUP`] (a user's columns
/// and `team_name`; the user's are NULL when there is no such user).
pub(crate) fn principal_of_setup(
    rows: &[sea_orm::QueryResult],
) -> Result<Option<UserPrincipal>, StoreError> {
    let mut found = Vec::with_capacity(rows.len());
    for r in rows {
        if r.try_get::<Option<Uuid>>("", "id")?.is_none() {
            continue;
        }
        found.push(UserTeamRow::from_query_result(r, "")?);
    }
    Ok(principal_of(found))
}

/// What the tenant set-up adds to read a user (`$3`) of the org (`$2`) with its team names:
/// select list and joins (rows as [`principal_user_in`]'s join).
pub(crate) const USER_LOOKUP: (&str, &str) = (
    "u.*, tm.name AS team_name",
    "LEFT JOIN users u ON u.id = $3::uuid AND u.org_id = $2::uuid \
     LEFT JOIN team_members m ON m.user_id = u.id AND m.org_id = u.org_id \
     LEFT JOIN teams tm ON tm.id = m.team_id AND tm.org_id = m.org_id",
);

/// One row of [`Store::principal_user`]'s join.
#[derive(Debug, FromQueryResult)]
struct UserTeamRow {
    #[sea_orm(nested)]
    user: user::Model,
    team_name: Option<String>,
}

/// A user as a request sees it: its record and team names.
#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub user: user::Model,
    pub teams: Vec<String>,
}

impl Store {
    /// The user a token names, if it still exists in `org` (system lookup: the token is
    /// verified, the org is the token's).
    pub async fn principal_user(
        &self,
        org: OrgId,
        user_id: Uuid,
    ) -> Result<Option<UserPrincipal>, StoreError> {
        principal_user_on(&self.db, org, user_id).await
    }

    /// Every org in which a user with this email exists, with the user (password login).
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<user::Model>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .all(&self.db)
            .await?)
    }

    /// Notes a successful sign-in.
    pub async fn touch_login(&self, user_id: Uuid) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::LastLoginAt, Expr::value(Utc::now()))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// A single sign-on for `email` in `t`'s org: the user, provisioned as an Active `Member`
/// when it is unknown and the org's settings say `allowSsoProvisioning: true`. With
/// `groups` (the IdP's groups claim is configured), the user's team memberships become the
/// org's teams named by the groups. `None` when the user is unknown (and not provisioned) or
/// not Active.
pub async fn sso_sign_in(
    t: &Tenant,
    email: &str,
    groups: Option<&[String]>,
    actor: &Actor,
) -> Result<Option<user::Model>, StoreError> {
    let user = match find_user(t, email).await? {
        Some(u) => u,
        None => {
            let org = crate::models::organization::Entity::find_by_id(t.org().0)
                .one(t.conn())
                .await?;
            let allowed = org.is_some_and(|o| {
                o.settings
                    .get("allowSsoProvisioning")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            });
            if !allowed {
                return Ok(None);
            }
            create_user(
                t,
                NewUser {
                    email: email.to_owned(),
                    first_name: String::new(),
                    last_name: String::new(),
                    roles: vec![MEMBER.to_owned()],
                    teams: vec![],
                    status: "Active".into(),
                    password_hash: None,
                    provider: "sso".into(),
                },
                actor,
            )
            .await?;
            must_find(t, email).await?
        }
    };
    if user.status != "Active" {
        return Ok(None);
    }
    if let Some(groups) = groups {
        let known: Vec<Uuid> = team::Entity::find()
            .filter(team::Column::OrgId.eq(t.org().0))
            .filter(team::Column::Name.is_in(groups.iter().map(String::as_str)))
            .all(t.conn())
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        set_memberships(t, user.id, &known).await?;
    }
    Ok(Some(user))
}
