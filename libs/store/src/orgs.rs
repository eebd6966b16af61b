//! Organizations, credential sets and signing keys: the system-level records that exist
//! before a request knows its org (the token exchange looks a credential up by client id).

use chrono::Utc;
use portolan_domain::OrgId;
use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::events::{self, NewEvent};
use crate::models::{credential, organization, signing_key};
use crate::{Store, StoreError, Tenant};

/// A credential set to create; the secret is already hashed.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub role: String,
}

/// The active credential with this client id in the tenant's org, if any, read in the
/// tenant's transaction (the request's own: no second connection).
pub async fn credential_in(
    t: &Tenant,
    client_id: &str,
) -> Result<Option<credential::Model>, StoreError> {
    Ok(credential::Entity::find()
        .filter(credential::Column::ClientId.eq(client_id))
        .filter(credential::Column::OrgId.eq(t.org().0))
        .filter(credential::Column::RevokedAt.is_null())
        .one(t.conn())
        .await?)
}

impl Store {
    /// True when no organization exists yet (first start).
    pub async fn has_no_organizations(&self) -> Result<bool, StoreError> {
        Ok(organization::Entity::find().count(&self.db).await? == 0)
    }

    /// Creates an organization and its first credential set in one transaction, with their
    /// events.
    pub async fn create_organization(
        &self,
        name: &str,
        cred: NewCredential,
        actor: &Actor,
    ) -> Result<OrgId, StoreError> {
        let org = OrgId::new();
        let now = Utc::now();
        let tx = self.db.begin().await?;
        organization::ActiveModel {
            id: Set(org.0),
            name: Set(name.to_owned()),
            status: Set("active".to_owned()),
            created_at: Set(now),
            settings: Set(json!({})),
        }
        .insert(&tx)
        .await?;
        let client_id = cred.client_id.clone();
        credential::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.0),
            client_id: Set(cred.client_id),
            secret_hash: Set(cred.secret_hash),
            name: Set(cred.name.clone()),
            role: Set(cred.role.clone()),
            created_at: Set(now),
            revoked_at: Set(None),
            user_id: Set(None),
            roles: Set(json!([cred.role.clone()])),
            enabled: Set(true),
            generation: Set(1),
            updated_at: Set(None),
        }
        .insert(&tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::AlreadyExists {
                resource: "credential",
                identifier: client_id.clone(),
            },
            other => other,
        })?;
        events::append(
            &tx,
            org,
            actor,
            vec![
                NewEvent {
                    resource_type: ResourceType::Organization,
                    action: Action::Create,
                    resource_id: org.to_string(),
                    blueprint: None,
                    context: json!({"organizationId": org.to_string()}),
                    before: None,
                    after: Some(json!({"id": org.to_string(), "name": name})),
                    run_id: None,
                },
                NewEvent {
                    resource_type: ResourceType::Credential,
                    action: Action::Create,
                    resource_id: client_id.clone(),
                    blueprint: None,
                    context: json!({"clientId": client_id}),
                    before: None,
                    // Never the secret or its hash.
                    after: Some(
                        json!({"clientId": client_id, "name": cred.name, "role": cred.role}),
                    ),
                    run_id: None,
                },
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// The active credential with this client id, if any (system lookup, before the org is
    /// known).
    pub async fn find_credential(
        &self,
        client_id: &str,
    ) -> Result<Option<credential::Model>, StoreError> {
        Ok(credential::Entity::find()
            .filter(credential::Column::ClientId.eq(client_id))
            .filter(credential::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// Is the organization active?
    pub async fn organization_active(&self, org: OrgId) -> Result<bool, StoreError> {
        Ok(organization::Entity::find_by_id(org.0)
            .one(&self.db)
            .await?
            .is_some_and(|o| o.status == "active"))
    }

    /// Signing keys not retired, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<signing_key::Model>, StoreError> {
        Ok(signing_key::Entity::find()
            .filter(signing_key::Column::RetiredAt.is_null())
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    pub async fn insert_signing_key(
        &self,
        kid: &str,
        private_key: Vec<u8>,
        public_key: Vec<u8>,
    ) -> Result<(), StoreError> {
        signing_key::ActiveModel {
            kid: Set(kid.to_owned()),
            private_key: Set(private_key),
            public_key: Set(public_key),
            created_at: Set(Utc::now()),
            retired_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }
}

/// Tables holding an org's rows, children before parents: deleting in this order never
/// trips a foreign key.
const ORG_TABLES_CHILDREN_FIRST: &[&str] = &[
    "entity_values",
    "entity_numbers",
    "entity_dates",
    "entity_relations",
    "entities",
    "data_migrations",
    "blueprints",
    "team_members",
    "teams",
    "credentials",
    "users",
    "permissions",
    "org_secrets",
    "events",
];

/// An organization as the operator API shows it.
pub fn organization_json(o: &organization::Model) -> serde_json::Value {
    json!({
        "id": o.id.to_string(),
        "name": o.name,
        "status": o.status,
        "settings": o.settings,
        "createdAt": o.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

impl Store {
    /// Every organization, oldest first (operator API).
    pub async fn list_organizations(&self) -> Result<Vec<organization::Model>, StoreError> {
        Ok(organization::Entity::find()
            .order_by_asc(organization::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    /// One organization (operator API).
    pub async fn organization(&self, org: OrgId) -> Result<organization::Model, StoreError> {
        organization::Entity::find_by_id(org.0)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::not_found("organization", org.to_string()))
    }

    /// Suspends (`suspended`) or reactivates (`active`) an organization: a suspended org's
    /// tokens are refused and it cannot sign in. Recorded in its event log.
    pub async fn set_organization_status(
        &self,
        org: OrgId,
        status: &str,
        actor: &Actor,
    ) -> Result<organization::Model, StoreError> {
        let current = self.organization(org).await?;
        let tx = self.db.begin().await?;
        let mut m: organization::ActiveModel = current.clone().into();
        m.status = Set(status.to_owned());
        let updated = m.update(&tx).await?;
        events::append(
            &tx,
            org,
            actor,
            vec![NewEvent {
                resource_type: ResourceType::Organization,
                action: Action::Update,
                resource_id: org.to_string(),
                blueprint: None,
                context: json!({"organizationId": org.to_string()}),
                before: Some(json!({"status": current.status})),
                after: Some(json!({"status": status})),
                run_id: None,
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes an organization and everything it owns, in one transaction. A writer of the
    /// org committing between two of its statements (a running job, a request in flight)
    /// makes the transaction fail on a foreign key; it is then retried, a few times.
    pub async fn delete_organization(&self, org: OrgId) -> Result<(), StoreError> {
        self.organization(org).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.delete_organization_once(org).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 => {
                    tracing::warn!(error = %e, %org, attempt, "deleting an organization raced a writer; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn delete_organization_once(&self, org: OrgId) -> Result<(), StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let tx = self.db.begin().await?;
        let backend = tx.get_database_backend();
        let ph = if self.backend == crate::Backend::Postgres {
            "$1"
        } else {
            "?"
        };
        if self.backend == crate::Backend::Postgres {
            // New writers of the org wait for this transaction (they insert events, whose
            // foreign key takes a share lock on the org row), then fail on the missing org.
            tx.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT id FROM organizations WHERE id = {ph} FOR UPDATE"),
                [org.0.into()],
            ))
            .await?;
        }
        for table in ORG_TABLES_CHILDREN_FIRST {
            tx.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("DELETE FROM {table} WHERE org_id = {ph}"),
                [org.0.into()],
            ))
            .await?;
        }
        organization::Entity::delete_by_id(org.0).exec(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires signing keys superseded longer ago than `token_lifetime` (no live token can
    /// carry them any more). The newest key is never retired.
    pub async fn retire_signing_keys(
        &self,
        token_lifetime: chrono::Duration,
    ) -> Result<u64, StoreError> {
        let keys = self.signing_keys().await?; // newest first
        let now = Utc::now();
        let mut retired = 0;
        for pair in keys.windows(2) {
            let (newer, older) = (&pair[0], &pair[1]);
            if newer.created_at + token_lifetime < now {
                let mut m: signing_key::ActiveModel = older.clone().into();
                m.retired_at = Set(Some(now));
                m.update(&self.db).await?;
                retired += 1;
            }
        }
        Ok(retired)
    }
}
