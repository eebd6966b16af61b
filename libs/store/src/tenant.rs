//! The tenant transaction: every repository call runs inside one, scoped to one org.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use portolan_domain::OrgId;
use portolan_migrations::rls::{APP_ROLE, ORG_SETTING};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, FromQueryResult, QueryResult, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::identity::{USER_LOOKUP, UserPrincipal, principal_of_setup};
use crate::models::credential;
use crate::{Backend, Store, StoreError};

/// A database transaction bound to one organization. On PostgreSQL it runs as the RLS role
/// with the org setting, so even a query that forgot its `org_id` filter sees only this org.
/// Dropped without [`Tenant::commit`], it rolls back.
pub struct Tenant {
    tx: DatabaseTransaction,
    org: OrgId,
    store: Store,
    /// The org's blueprint generation when the transaction began (PostgreSQL: read in the
    /// set-up round trip; SQLite: read when first needed); `None` inside when the org has no
    /// row.
    generation: OnceLock<Option<i64>>,
    /// Has this transaction written a blueprint? Its view of the blueprints is then its own,
    /// and the shared cache is neither read nor filled by it.
    blueprints_touched: AtomicBool,
    /// Are the transaction's statements planned once per connection ([`Plans::Once`])
    /// rather than with their values? (PostgreSQL.)
    generic: AtomicBool,
}

/// How the statements of a tenant transaction are planned on PostgreSQL, from its set-up on.
/// Either can be changed later, at the cost of a round trip ([`Tenant::plan_generic`],
/// [`Tenant::plan_custom`]); the choice only ever changes speed, never an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Plans {
    /// Each statement with its values (`force_custom_plan`): what the writes and most
    /// searches need.
    #[default]
    WithValues,
    /// Each statement once per connection (`force_generic_plan`): for a transaction that is
    /// expected to run one search page whose best plan does not depend on its values (a walk
    /// from one entity, [`crate::search::plan_stable`]). A request that turns out otherwise
    /// switches back before its page.
    Once,
}

/// The set-up of a PostgreSQL tenant transaction, one prepared statement (so one round trip,
/// planned once per connection): the RLS role, plans made with each statement's values, the
/// org, the org's blueprint generation and, for a request of a credential token, the live
/// credential set it names.
///
/// Every statement of the transaction is planned with its values. The writes look rows up by
/// lists of up to 1,000 keys, which a generic plan cannot use the index for (it scans the
/// blueprint's rows instead: hundreds of ms a batch); a search's best plan depends on how
/// common its values are. Planning costs well under a ms (docs/benchmarks.md).
///
/// This statement is planned before it switches the role, so RLS does not filter its own
/// reads: each names the org itself.
fn setup_sql(lookup: Option<(&str, &str)>, plans: Plans) -> String {
    let mode = match plans {
        Plans::WithValues => "force_custom_plan",
        Plans::Once => "force_generic_plan",
    };
    let settings = format!(
        "SELECT set_config('role', '{APP_ROLE}', true), \
                set_config('plan_cache_mode', '{mode}', true), \
                set_config('{ORG_SETTING}', $1, true), \
                (SELECT blueprint_generation FROM organizations WHERE id = $2::uuid) \
                  AS blueprint_generation"
    );
    match lookup {
        Some((columns, joins)) => {
            format!("SELECT s.blueprint_generation, {columns} FROM ({settings}) s {joins}")
        }
        None => settings,
    }
}

/// What the set-up adds to read the live credential set `$3` of the org (`$2`).
const CREDENTIAL_LOOKUP: (&str, &str) = (
    "c.*",
    "LEFT JOIN credentials c \
       ON c.client_id = $3 AND c.org_id = $2::uuid AND c.revoked_at IS NULL",
);

impl Store {
    /// Opens a transaction scoped to `org`.
    pub async fn tenant(&self, org: OrgId) -> Result<Tenant, StoreError> {
        Ok(self.open_tenant(org, None, Plans::WithValues).await?.0)
    }

    /// Opens a transaction scoped to `org` and reads in it the live (not revoked) credential
    /// set `client_id` of the org: on PostgreSQL in the round trip that sets the transaction
    /// up (every request of a credential token makes this check).
    pub async fn tenant_with_credential(
        &self,
        org: OrgId,
        client_id: &str,
        plans: Plans,
    ) -> Result<(Tenant, Option<credential::Model>), StoreError> {
        let (t, rows) = self
            .open_tenant(org, Some((CREDENTIAL_LOOKUP, client_id.into())), plans)
            .await?;
        let Some(rows) = rows else {
            // SQLite: no set-up statement.
            let c = crate::orgs::credential_in(&t, client_id).await?;
            return Ok((t, c));
        };
        let found = match rows.first() {
            Some(r) if r.try_get::<Option<String>>("", "client_id")?.is_some() => {
                Some(credential::Model::from_query_result(r, "")?)
            }
            _ => None,
        };
        Ok((t, found))
    }

    /// Opens a transaction scoped to `org` and reads in it the user `user` of the org with its
    /// team names, like [`crate::identity::principal_user_in`]: on PostgreSQL in the round
    /// trip that sets the transaction up (every request of a user token makes this check).
    pub async fn tenant_with_user(
        &self,
        org: OrgId,
        user: Uuid,
        plans: Plans,
    ) -> Result<(Tenant, Option<UserPrincipal>), StoreError> {
        let (t, rows) = self
            .open_tenant(org, Some((USER_LOOKUP, user.into())), plans)
            .await?;
        let found = match rows {
            Some(rows) => principal_of_setup(&rows)?,
            None => crate::identity::principal_user_in(&t, user).await?,
        };
        Ok((t, found))
    }

    /// The transaction, and on PostgreSQL the rows its set-up read (with `lookup`: the select
    /// list and joins that read something more, and the value of their `$3`).
    async fn open_tenant(
        &self,
        org: OrgId,
        lookup: Option<((&str, &str), sea_orm::Value)>,
        plans: Plans,
    ) -> Result<(Tenant, Option<Vec<QueryResult>>), StoreError> {
        let tx = self.db.begin().await?;
        let generation = OnceLock::new();
        let mut read = None;
        let pg = self.backend == Backend::Postgres;
        if pg {
            let mut values: Vec<sea_orm::Value> = vec![org.0.to_string().into(), org.0.into()];
            let sql = setup_sql(lookup.as_ref().map(|(sql, _)| *sql), plans);
            if let Some((_, v)) = lookup {
                values.push(v);
            }
            let rows = tx
                .query_all_raw(Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    sql,
                    values,
                ))
                .await?;
            let g = rows
                .first()
                .map(|r| r.try_get::<Option<i64>>("", "blueprint_generation"))
                .transpose()?
                .flatten();
            let _ = generation.set(g);
            read = Some(rows);
        }
        let t = Tenant {
            tx,
            org,
            store: self.clone(),
            generation,
            blueprints_touched: AtomicBool::new(false),
            generic: AtomicBool::new(pg && plans == Plans::Once),
        };
        Ok((t, read))
    }
}

impl Tenant {
    pub fn org(&self) -> OrgId {
        self.org
    }
    /// Marks the transaction as one that writes blueprints (before it does).
    pub(crate) fn touch_blueprints(&self) {
        self.blueprints_touched.store(true, Ordering::SeqCst);
    }
    pub(crate) fn blueprints_touched(&self) -> bool {
        self.blueprints_touched.load(Ordering::SeqCst)
    }
    /// The org's blueprint generation as of the transaction's start (read now on SQLite).
    /// `None` when the org has no row.
    pub(crate) async fn blueprint_generation(&self) -> Result<Option<i64>, StoreError> {
        if let Some(g) = self.generation.get() {
            return Ok(*g);
        }
        let row = self
            .tx
            .query_one_raw(Statement::from_sql_and_values(
                self.tx.get_database_backend(),
                match self.tx.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        "SELECT blueprint_generation FROM organizations WHERE id = $1"
                    }
                    _ => "SELECT blueprint_generation FROM organizations WHERE id = ?",
                },
                [self.org.0.into()],
            ))
            .await?;
        let g = row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?;
        Ok(*self.generation.get_or_init(|| g))
    }
    /// Plans every later statement of the transaction once per connection (a generic plan)
    /// instead of with its values: for statements whose best plan does not depend on them
    /// ([`crate::search::plan_stable`]). One round trip, unless the transaction already
    /// does; nothing on SQLite, which plans every statement anyway.
    pub(crate) async fn plan_generic(&self) -> Result<(), StoreError> {
        self.set_plans(true).await
    }
    /// Plans every later statement of the transaction with its values again (after
    /// [`Plans::Once`] or [`Tenant::plan_generic`]; otherwise nothing to do).
    pub(crate) async fn plan_custom(&self) -> Result<(), StoreError> {
        self.set_plans(false).await
    }
    async fn set_plans(&self, generic: bool) -> Result<(), StoreError> {
        if self.tx.get_database_backend() != sea_orm::DbBackend::Postgres
            || self.generic.load(Ordering::SeqCst) == generic
        {
            return Ok(());
        }
        let mode = if generic {
            "force_generic_plan"
        } else {
            "force_custom_plan"
        };
        self.tx
            .execute_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT set_config('plan_cache_mode', '{mode}', true)"),
            ))
            .await?;
        self.generic.store(generic, Ordering::SeqCst);
        self.store
            .cache
            .plan_switches
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }
    /// The transaction itself, for statements no repository function makes (tests and
    /// diagnostics). It runs as the org's RLS role like every other statement of the
    /// transaction.
    pub fn connection(&self) -> &DatabaseTransaction {
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

    /// A transaction begun with `Plans::Once` plans once per connection from its set-up on,
    /// and switches either way when asked.
    #[tokio::test]
    async fn a_transaction_begins_with_the_plans_asked_for_and_switches() {
        let db = fresh_postgres().await;
        let store = Store::connect(&db.url, 1).await.unwrap();
        store.migrate().await.unwrap();
        let org = portolan_domain::OrgId(uuid::Uuid::now_v7());
        let user = uuid::Uuid::now_v7();
        let (t, found) = store
            .tenant_with_user(org, user, super::Plans::Once)
            .await
            .unwrap();
        assert!(found.is_none());
        assert_eq!(
            setting(t.conn(), "SHOW plan_cache_mode").await,
            "force_generic_plan"
        );
        assert_eq!(
            setting(t.conn(), "SELECT current_user::text").await,
            "portolan_tenant"
        );
        t.plan_generic().await.unwrap();
        t.plan_custom().await.unwrap();
        assert_eq!(
            setting(t.conn(), "SHOW plan_cache_mode").await,
            "force_custom_plan"
        );
        t.plan_custom().await.unwrap();
        t.plan_generic().await.unwrap();
        assert_eq!(
            setting(t.conn(), "SHOW plan_cache_mode").await,
            "force_generic_plan"
        );
        drop(t);
        let (t, _) = store
            .tenant_with_credential(org, "nobody", super::Plans::WithValues)
            .await
            .unwrap();
        assert_eq!(
            setting(t.conn(), "SHOW plan_cache_mode").await,
            "force_custom_plan"
        );
    }
}
