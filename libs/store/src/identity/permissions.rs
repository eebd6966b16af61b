//! Stored permission documents: one row per blueprint (or action); a blueprint without one
//! has [`BlueprintPermissions::defaults`].

use std::collections::HashMap;

use chrono::Utc;
use portolan_domain::event::{Action, Actor, ResourceType};
use portolan_domain::permission::BlueprintPermissions;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::record;
use crate::models::permission;
use crate::{StoreError, Tenant};

const BLUEPRINT: &str = "blueprint";

/// A blueprint's permissions (its defaults when none were set).
pub async fn blueprint_permissions(
    t: &Tenant,
    blueprint: &str,
) -> Result<BlueprintPermissions, StoreError> {
    let row =
        permission::Entity::find_by_id((t.org().0, BLUEPRINT.to_owned(), blueprint.to_owned()))
            .one(t.conn())
            .await?;
    Ok(row
        .and_then(|r| BlueprintPermissions::from_stored(&r.body))
        .unwrap_or_else(|| BlueprintPermissions::defaults(blueprint)))
}

/// The permissions of every blueprint that has its own (the others have their defaults).
pub async fn all_blueprint_permissions(
    t: &Tenant,
) -> Result<HashMap<String, BlueprintPermissions>, StoreError> {
    Ok(permission::Entity::find()
        .filter(permission::Column::OrgId.eq(t.org().0))
        .filter(permission::Column::ResourceType.eq(BLUEPRINT))
        .all(t.conn())
        .await?
        .into_iter()
        .filter_map(|r| BlueprintPermissions::from_stored(&r.body).map(|p| (r.resource, p)))
        .collect())
}

/// Stores a blueprint's permissions, with an event holding before and after.
pub async fn set_blueprint_permissions(
    t: &Tenant,
    blueprint: &str,
    before: &BlueprintPermissions,
    after: &BlueprintPermissions,
    actor: &Actor,
) -> Result<(), StoreError> {
    let body = after.to_stored();
    permission::Entity::insert(permission::ActiveModel {
        org_id: Set(t.org().0),
        resource_type: Set(BLUEPRINT.to_owned()),
        resource: Set(blueprint.to_owned()),
        body: Set(body.clone()),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            permission::Column::OrgId,
            permission::Column::ResourceType,
            permission::Column::Resource,
        ])
        .update_columns([permission::Column::Body, permission::Column::UpdatedAt])
        .to_owned(),
    )
    .exec(t.conn())
    .await?;
    record(
        t,
        actor,
        ResourceType::Permissions,
        Action::Update,
        blueprint,
        Some(before.to_stored()),
        Some(body),
    )
    .await
}

/// Forgets a deleted blueprint's permissions.
pub(crate) async fn drop_blueprint_permissions(
    t: &Tenant,
    blueprint: &str,
) -> Result<(), StoreError> {
    permission::Entity::delete_many()
        .filter(permission::Column::OrgId.eq(t.org().0))
        .filter(permission::Column::ResourceType.eq(BLUEPRINT))
        .filter(permission::Column::Resource.eq(blueprint))
        .exec(t.conn())
        .await?;
    Ok(())
}
