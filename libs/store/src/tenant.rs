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
            // `org` is a UUID: its text form cannot carry SQL. One round trip.
            //
            // Every statement of the transaction is planned with its values. The writes look
            // rows up by lists of up to 1,000 keys, which a generic plan cannot use the index
            // for (it scans the blueprint's rows instead: hundreds of ms a batch); a search's
            // best plan depends on how common its values are. Planning costs well under a ms
            // (docs/benchmarks.md).
            tx.execute_unprepared(&format!(
                "SET LOCAL ROLE {APP_ROLE}; SET LOCAL plan_cache_mode = force_custom_plan; \
                 SELECT set_config('{ORG_SETTING}', '{org}', true)"
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

#[cfg(test)]
mod tests {
    use portolan_test_support::fresh_postgres;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use crate::Store;

    async fn setting(conn: &impl ConnectionTrait, sql: &str) -> String {
        conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap()
    }

    /// A tenant transaction plans with its values and runs as the RLS role of its org; the
    /// pool's own statements keep PostgreSQL's defaults.
    #[tokio::test]
    async fn a_tenant_transaction_plans_with_its_values_as_the_tenant_role() {
        let db = fresh_postgres().await;
        let store = Store::connect(&db.url, 1).await.unwrap();
        store.migrate().await.unwrap();
        let org = portolan_domain::OrgId(uuid::Uuid::now_v7());
        let t = store.tenant(org).await.unwrap();
        assert_eq!(
            setting(t.conn(), "SHOW plan_cache_mode").await,
            "force_custom_plan"
        );
        assert_eq!(setting(t.conn(), "SHOW jit").await, "off");
        assert_eq!(
            setting(t.conn(), "SELECT current_user::text").await,
            "portolan_tenant"
        );
        assert_eq!(
            setting(t.conn(), "SELECT current_setting('portolan.org_id')").await,
            org.0.to_string()
        );
        drop(t);
        let pool = store.connection();
        assert_eq!(setting(pool, "SHOW plan_cache_mode").await, "auto");
        assert_eq!(setting(pool, "SHOW jit").await, "off");
        assert_ne!(
            setting(pool, "SELECT current_user::text").await,
            "portolan_tenant"
        );
    }
}
