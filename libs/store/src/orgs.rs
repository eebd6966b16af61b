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
use crate::{Store, StoreError};

/// A credential set to create; the secret is already hashed.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub role: String,
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
