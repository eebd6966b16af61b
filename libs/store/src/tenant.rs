//! The tenant transaction: every repository call runs inside one, scoped to one org.

use portolan_domain::OrgId;
use portolan_migrations::rls::{APP_ROLE, ORG_SETTING};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use crate::{Backend, Store, StoreError};

/// A database transaction bound to one organization. On PostgreSQL it runs as the RLS role
/// with the org setting, so even a query that forgot its `org_id` filter sees only this org.
/// Dropped without [`Tenant::commit`], it rolls back.
pub struct Tenant {
    tx: DatabaseTransaction,
    org: OrgId,
    store: Store,
}

impl Store {
    /// Opens a transaction scoped to `org`.
    pub async fn tenant(&self, org: OrgId) -> Result<Tenant, StoreError> {
        let tx = self.db.begin().await?;
        if self.backend == Backend::Postgres {
            // `org` is a UUID: its text form cannot carry SQL.
            tx.execute_unprepared(&format!(
                "SET LOCAL ROLE {APP_ROLE}; SELECT set_config('{ORG_SETTING}', '{org}', true)"
            ))
            .await?;
        }
        Ok(Tenant {
            tx,
            org,
            store: self.clone(),
        })
    }
}

impl Tenant {
    pub fn org(&self) -> OrgId {
        self.org
    }
    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
