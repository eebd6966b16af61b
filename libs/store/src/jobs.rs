//! Async data migrations (`DELETE /v1/blueprints/{bp}/all-entities`): a job row per request,
//! run by the automation worker (or the all-in-one process) in batches, each batch its own
//! transaction with its events, resumable after a crash and cancellable between batches.

use std::time::Duration;

use chrono::Utc;
use portolan_domain::OrgId;
use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::events::{self, NewEvent};
use crate::models::{data_migration, entity, relation};
use crate::{Store, StoreError, Tenant, blueprints, entities};

pub const PENDING: &str = "PENDING";
pub const INITIALIZING: &str = "INITIALIZING";
pub const RUNNING: &str = "RUNNING";
pub const PENDING_CANCELLATION: &str = "PENDING_CANCELLATION";
pub const COMPLETED: &str = "COMPLETED";
pub const FAILURE: &str = "FAILURE";
pub const CANCELLED: &str = "CANCELLED";

const KIND_DELETE_ALL: &str = "delete_all_entities";
/// Entities deleted per transaction.
const BATCH: u64 = 500;
/// A running job whose heartbeat is older than this is taken over (its worker died).
const STALE_AFTER: Duration = Duration::from_secs(60);

fn ts(t: &chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Port's migration shape.
pub fn migration_json(m: &data_migration::Model) -> Value {
    let progress = if m.total > 0 {
        std::cmp::min(m.processed * 100 / m.total, 100)
    } else if m.status == COMPLETED {
        100
    } else {
        0
    };
    json!({
        "id": m.id,
        "status": m.status,
        "kind": m.kind,
        "sourceBlueprint": m.blueprint,
        "deleteBlueprint": m.delete_blueprint,
        "total": m.total,
        "processed": m.processed,
        "progress": progress,
        "failureReason": m.error,
        "actor": m.actor,
        "createdAt": ts(&m.created_at),
        "updatedAt": ts(&m.updated_at),
    })
}

/// Queues the deletion of every entity of `blueprint` (and then of the blueprint itself).
pub async fn create_delete_all(
    t: &Tenant,
    blueprint: &str,
    delete_blueprint: bool,
    actor: &Actor,
) -> Result<Value, StoreError> {
    blueprints::load(t, blueprint).await?;
    let active = data_migration::Entity::find()
        .filter(data_migration::Column::OrgId.eq(t.org().0))
        .filter(data_migration::Column::Blueprint.eq(blueprint))
        .filter(data_migration::Column::Status.is_in([
            PENDING,
            INITIALIZING,
            RUNNING,
            PENDING_CANCELLATION,
        ]))
        .one(t.conn())
        .await?;
    if let Some(m) = active {
        return Err(StoreError::Conflict(format!(
            "migration {} is already deleting the entities of '{blueprint}'",
            m.id
        )));
    }
    let total = entities::count(t, blueprint).await?;
    let now = Utc::now();
    let actor_json =
        serde_json::to_value(actor).map_err(|e| StoreError::Internal(e.to_string()))?;
    let model = data_migration::Model {
        id: format!("migration_{}", uuid::Uuid::now_v7().simple()),
        org_id: t.org().0,
        kind: KIND_DELETE_ALL.to_owned(),
        blueprint: blueprint.to_owned(),
        delete_blueprint,
        status: PENDING.to_owned(),
        total: i64::try_from(total).unwrap_or(i64::MAX),
        processed: 0,
        error: None,
        actor: actor_json,
        created_at: now,
        updated_at: now,
    };
    data_migration::ActiveModel::from(model.clone())
        .insert(t.conn())
        .await?;
    let out = migration_json(&model);
    events::append(
        t.conn(),
        t.org(),
        actor,
        vec![migration_event(
            Action::Create,
            &model,
            None,
            Some(out.clone()),
        )],
    )
    .await?;
    Ok(out)
}

fn migration_event(
    action: Action,
    m: &data_migration::Model,
    before: Option<Value>,
    after: Option<Value>,
) -> NewEvent {
    NewEvent {
        resource_type: ResourceType::Migration,
        action,
        resource_id: m.id.clone(),
        blueprint: Some(m.blueprint.clone()),
        context: json!({"migrationId": m.id, "blueprintIdentifier": m.blueprint}),
        before,
        after,
        run_id: None,
    }
}

pub async fn list(t: &Tenant) -> Result<Vec<Value>, StoreError> {
    let rows = data_migration::Entity::find()
        .filter(data_migration::Column::OrgId.eq(t.org().0))
        .order_by_desc(data_migration::Column::CreatedAt)
        .limit(1000)
        .all(t.conn())
        .await?;
    Ok(rows.iter().map(migration_json).collect())
}

async fn find(t: &Tenant, id: &str) -> Result<data_migration::Model, StoreError> {
    data_migration::Entity::find()
        .filter(data_migration::Column::OrgId.eq(t.org().0))
        .filter(data_migration::Column::Id.eq(id))
        .one(t.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("migration", id))
}

pub async fn get(t: &Tenant, id: &str) -> Result<Value, StoreError> {
    Ok(migration_json(&find(t, id).await?))
}

/// Cancels a migration: a pending one at once, a running one between two batches.
pub async fn cancel(t: &Tenant, id: &str, actor: &Actor) -> Result<Value, StoreError> {
    let m = find(t, id).await?;
    let next = match m.status.as_str() {
        PENDING => CANCELLED,
        INITIALIZING | RUNNING => PENDING_CANCELLATION,
        PENDING_CANCELLATION | CANCELLED => return Ok(migration_json(&m)),
        other => {
            return Err(StoreError::Conflict(format!(
                "migration {id} has already ended ({other})"
            )));
        }
    };
    set_status(t.conn(), &m, next, None).await?;
    let after = data_migration::Model {
        status: next.to_owned(),
        updated_at: Utc::now(),
        ..m.clone()
    };
    let out = migration_json(&after);
    events::append(
        t.conn(),
        t.org(),
        actor,
        vec![migration_event(
            Action::Update,
            &m,
            Some(migration_json(&m)),
            Some(out.clone()),
        )],
    )
    .await?;
    Ok(out)
}

async fn set_status<C: sea_orm::ConnectionTrait>(
    conn: &C,
    m: &data_migration::Model,
    status: &str,
    error: Option<String>,
) -> Result<(), StoreError> {
    let mut q = data_migration::Entity::update_many()
        .col_expr(data_migration::Column::Status, Expr::value(status))
        .col_expr(data_migration::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(e) = error {
        q = q.col_expr(data_migration::Column::Error, Expr::value(e));
    }
    q.filter(data_migration::Column::Id.eq(m.id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Wakes the job runner of this process (call after committing a new job).
    pub fn notify_jobs(&self) {
        self.jobs.notify_one();
    }
}

/// Runs queued migrations until `shutdown` fires. Several runners (processes) may share the
/// table: PostgreSQL hands each job to one of them (`FOR UPDATE SKIP LOCKED`).
pub async fn run_worker(store: Store, shutdown: CancellationToken) {
    let notify = store.jobs.clone();
    loop {
        match run_next(&store, &shutdown).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "data migration runner failed; retrying"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = notify.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Claims one runnable job and runs it to its end. Returns whether there was one.
pub async fn run_next(store: &Store, shutdown: &CancellationToken) -> Result<bool, StoreError> {
    let Some(job) = claim(store).await? else {
        return Ok(false);
    };
    let org = OrgId(job.org_id);
    let outcome = run_delete_all(store, &job, shutdown).await;
    let (status, error) = match outcome {
        Ok(Finish::Done) => (COMPLETED, None),
        Ok(Finish::Cancelled) => (CANCELLED, None),
        Ok(Finish::Interrupted) => return Ok(true), // shutdown: another runner resumes it
        Err(e) => {
            tracing::warn!(migration = %job.id, error = %e, "data migration failed");
            (FAILURE, Some(e.to_string()))
        }
    };
    if status != COMPLETED {
        repair_dangling(store, org, &job).await?;
    }
    let t = store.tenant(org).await?;
    let current = find(&t, &job.id).await?;
    set_status(t.conn(), &current, status, error.clone()).await?;
    let after = data_migration::Model {
        status: status.to_owned(),
        error,
        updated_at: Utc::now(),
        ..current.clone()
    };
    let actor: portolan_domain::event::Actor = serde_json::from_value(job.actor.clone())
        .unwrap_or_else(|_| portolan_domain::event::Actor::system());
    events::append(
        t.conn(),
        org,
        &actor,
        vec![migration_event(
            Action::Update,
            &current,
            Some(migration_json(&current)),
            Some(migration_json(&after)),
        )],
    )
    .await?;
    t.commit().await?;
    Ok(true)
}

async fn claim(store: &Store) -> Result<Option<data_migration::Model>, StoreError> {
    let tx = store.connection().begin().await?;
    let stale = Utc::now() - chrono::Duration::from_std(STALE_AFTER).unwrap_or_default();
    let mut q = data_migration::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(data_migration::Column::Status.eq(PENDING))
                .add(
                    sea_orm::Condition::all()
                        .add(data_migration::Column::Status.is_in([
                            INITIALIZING,
                            RUNNING,
                            PENDING_CANCELLATION,
                        ]))
                        .add(data_migration::Column::UpdatedAt.lt(stale)),
                ),
        )
        .order_by_asc(data_migration::Column::CreatedAt);
    if store.backend() == crate::Backend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let Some(job) = q.one(&tx).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let status = if job.status == PENDING {
        RUNNING
    } else {
        job.status.as_str()
    };
    set_status(&tx, &job, status, None).await?;
    tx.commit().await?;
    Ok(Some(data_migration::Model {
        status: status.to_owned(),
        ..job
    }))
}

enum Finish {
    Done,
    Cancelled,
    Interrupted,
}

async fn run_delete_all(
    store: &Store,
    job: &data_migration::Model,
    shutdown: &CancellationToken,
) -> Result<Finish, StoreError> {
    let org = OrgId(job.org_id);
    let actor: portolan_domain::event::Actor = serde_json::from_value(job.actor.clone())
        .unwrap_or_else(|_| portolan_domain::event::Actor::system());
    // Refuse up front, before deleting anything, when entities of other blueprints hold a
    // required relation to this one (the batches would stop half-way on them).
    {
        let t = store.tenant(org).await?;
        let held = relation::Entity::find()
            .filter(relation::Column::OrgId.eq(org.0))
            .filter(relation::Column::TargetBlueprint.eq(job.blueprint.as_str()))
            .filter(relation::Column::SourceBlueprint.ne(job.blueprint.as_str()))
            .filter(relation::Column::Required.eq(true))
            .count(t.conn())
            .await?;
        if held > 0 {
            return Err(StoreError::HasDependents {
                message: format!(
                    "{held} entities of other blueprints hold a required relation to entities of '{}': delete or change them first",
                    job.blueprint
                ),
                dependents: Vec::new(),
            });
        }
    }
    loop {
        if shutdown.is_cancelled() {
            return Ok(Finish::Interrupted);
        }
        let t = store.tenant(org).await?;
        let current = find(&t, &job.id).await?;
        if current.status == PENDING_CANCELLATION {
            return Ok(Finish::Cancelled);
        }
        let ids: Vec<String> = entity::Entity::find()
            .select_only()
            .column(entity::Column::Identifier)
            .filter(entity::Column::OrgId.eq(org.0))
            .filter(entity::Column::Blueprint.eq(job.blueprint.as_str()))
            .order_by_asc(entity::Column::Identifier)
            .limit(BATCH)
            .into_tuple()
            .all(t.conn())
            .await?;
        if ids.is_empty() {
            if job.delete_blueprint {
                match blueprints::load(&t, &job.blueprint).await {
                    Ok(_) => blueprints::delete(&t, &job.blueprint, &actor).await?,
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            t.commit().await?;
            return Ok(Finish::Done);
        }
        // Optional edges from this blueprint into the batch simply go: the job deletes their
        // holders too (if it is cancelled half-way, `repair_dangling` clears what is left).
        // Required ones take their holders along; other blueprints follow the usual rules.
        for chunk in ids.chunks(entities::IN_CHUNK) {
            relation::Entity::delete_many()
                .filter(relation::Column::OrgId.eq(org.0))
                .filter(relation::Column::SourceBlueprint.eq(job.blueprint.as_str()))
                .filter(relation::Column::TargetBlueprint.eq(job.blueprint.as_str()))
                .filter(relation::Column::Required.eq(false))
                .filter(relation::Column::TargetIdentifier.is_in(chunk.iter().map(String::as_str)))
                .exec(t.conn())
                .await?;
        }
        let n = entities::delete::delete_set(
            &t,
            &job.blueprint,
            &ids,
            entities::delete::Cascade::RequiredWithin(&job.blueprint),
            &actor,
        )
        .await?
        .len();
        data_migration::Entity::update_many()
            .col_expr(
                data_migration::Column::Processed,
                Expr::col(data_migration::Column::Processed).add(i64::try_from(n).unwrap_or(0)),
            )
            .col_expr(data_migration::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(data_migration::Column::Id.eq(job.id.as_str()))
            .exec(t.conn())
            .await?;
        t.commit().await?;
    }
}

/// Queued or running migrations of an org (tests).
pub async fn active_count(t: &Tenant) -> Result<u64, StoreError> {
    Ok(data_migration::Entity::find()
        .filter(data_migration::Column::OrgId.eq(t.org().0))
        .filter(data_migration::Column::Status.is_in([
            PENDING,
            INITIALIZING,
            RUNNING,
            PENDING_CANCELLATION,
        ]))
        .count(t.conn())
        .await?)
}

/// After a delete-all job stopped half-way (cancelled or failed), removes from the entities
/// that remain every relation value pointing at an entity of the same blueprint that the job
/// deleted (their edges are already gone), each change with its update event.
async fn repair_dangling(
    store: &Store,
    org: OrgId,
    job: &data_migration::Model,
) -> Result<(), StoreError> {
    let actor: portolan_domain::event::Actor = serde_json::from_value(job.actor.clone())
        .unwrap_or_else(|_| portolan_domain::event::Actor::system());
    let mut last: Option<String> = None;
    loop {
        let t = store.tenant(org).await?;
        let bp = match blueprints::load(&t, &job.blueprint).await {
            Ok(bp) => bp,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let own: Vec<&String> = bp
            .compiled
            .blueprint
            .relations
            .iter()
            .filter(|(_, d)| d.target == job.blueprint)
            .map(|(k, _)| k)
            .collect();
        if own.is_empty() {
            return Ok(());
        }
        let mut q = entity::Entity::find()
            .filter(entity::Column::OrgId.eq(org.0))
            .filter(entity::Column::Blueprint.eq(job.blueprint.as_str()));
        if let Some(l) = &last {
            q = q.filter(entity::Column::Identifier.gt(l.as_str()));
        }
        let rows = q
            .order_by_asc(entity::Column::Identifier)
            .limit(1_000)
            .all(t.conn())
            .await?;
        let Some(tail) = rows.last() else {
            return Ok(());
        };
        last = Some(tail.identifier.clone());
        entities::delete::drop_missing_targets(&t, &bp, &own, rows, &actor).await?;
        t.commit().await?;
    }
}
