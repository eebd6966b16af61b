//! Cheap profiling: CPU time of this process and of the PostgreSQL backends serving one
//! database (from `/proc`), and the time spent inside the store's `write` span (split into
//! time being polled, i.e. CPU in the store, and time waiting, i.e. mostly for PostgreSQL).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on every Linux
/// this runs on).
const CLK_TCK: f64 = 100.0;

/// The span of `portolan_store::entities::write::write`.
const WRITE_TARGET: &str = "portolan_store::entities::write";
const WRITE_SPAN: &str = "write";

/// Sums over every closed `write` span.
#[derive(Default, Debug)]
pub struct SpanTotals {
    calls: AtomicU64,
    busy_ns: AtomicU64,
    total_ns: AtomicU64,
}

/// A difference of two [`SpanTotals`] readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanDelta {
    pub calls: u64,
    /// Time the write futures were being polled (CPU in the store, sqlx encoding/decoding).
    pub busy: Duration,
    /// Time from span creation to close.
    pub total: Duration,
}

impl SpanDelta {
    /// Time the write futures were waiting (for PostgreSQL, a pool connection, a row lock).
    pub fn idle(&self) -> Duration {
        self.total.saturating_sub(self.busy)
    }
}

#[derive(Clone, Copy)]
struct Reading {
    calls: u64,
    busy_ns: u64,
    total_ns: u64,
}

impl SpanTotals {
    fn read(&self) -> Reading {
        Reading {
            calls: self.calls.load(Ordering::Relaxed),
            busy_ns: self.busy_ns.load(Ordering::Relaxed),
            total_ns: self.total_ns.load(Ordering::Relaxed),
        }
    }
}

struct Timing {
    created: Instant,
    /// The span may be entered again while entered (nested instrumentation of the same
    /// span): busy time runs from the outermost enter to the matching exit.
    depth: usize,
    entered: Option<Instant>,
    busy: Duration,
}

struct SpanTimer {
    totals: Arc<SpanTotals>,
}

impl<S> Layer<S> for SpanTimer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != WRITE_SPAN {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Timing {
                created: Instant::now(),
                depth: 0,
                entered: None,
                busy: Duration::ZERO,
            });
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(t) = span.extensions_mut().get_mut::<Timing>()
        {
            if t.depth == 0 {
                t.entered = Some(Instant::now());
            }
            t.depth += 1;
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(t) = span.extensions_mut().get_mut::<Timing>()
        {
            t.depth = t.depth.saturating_sub(1);
            if t.depth == 0
                && let Some(at) = t.entered.take()
            {
                t.busy += at.elapsed();
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(t) = span.extensions().get::<Timing>()
        {
            let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            self.totals.calls.fetch_add(1, Ordering::Relaxed);
            self.totals
                .busy_ns
                .fetch_add(nanos(t.busy), Ordering::Relaxed);
            self.totals
                .total_ns
                .fetch_add(nanos(t.created.elapsed()), Ordering::Relaxed);
        }
    }
}

/// Installs the global subscriber: log lines to stderr as `RUST_LOG` says (default `warn`;
/// spans print their busy/idle times when they close), plus the `write` span timer.
pub fn init_tracing() -> anyhow::Result<Arc<SpanTotals>> {
    let totals = Arc::new(SpanTotals::default());
    subscriber(totals.clone())
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the tracing subscriber: {e}"))?;
    Ok(totals)
}

fn subscriber(totals: Arc<SpanTotals>) -> impl Subscriber + Send + Sync {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE)
        .with_filter(filter);
    let timer =
        SpanTimer { totals }.with_filter(Targets::new().with_target(WRITE_TARGET, Level::INFO));
    tracing_subscriber::registry().with(fmt).with(timer)
}

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / CLK_TCK)
}

/// A reading of the CPU counters at one instant.
pub struct CpuSnapshot {
    this: Option<f64>,
    backends: HashMap<i32, f64>,
    span: Reading,
}

/// What happened between two snapshots.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// CPU seconds of this process (the HTTP clients, the in-process API server, the store).
    pub this_cpu: Option<f64>,
    /// CPU seconds of the PostgreSQL backends connected to the measured database.
    pub pg_cpu: Option<f64>,
    pub write_span: SpanDelta,
}

/// Samples CPU counters for the backends of one database.
pub struct Probe {
    admin: DatabaseConnection,
    database: String,
    totals: Arc<SpanTotals>,
}

impl Probe {
    pub fn new(admin: DatabaseConnection, database: String, totals: Arc<SpanTotals>) -> Self {
        Probe {
            admin,
            database,
            totals,
        }
    }

    async fn backend_pids(&self) -> Vec<i32> {
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity WHERE datname = $1",
            [self.database.clone().into()],
        );
        match self.admin.query_all_raw(stmt).await {
            Ok(rows) => rows
                .iter()
                .filter_map(|r| r.try_get::<i32>("", "pid").ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub async fn snapshot(&self) -> CpuSnapshot {
        let backends = self
            .backend_pids()
            .await
            .into_iter()
            .filter_map(|pid| cpu_secs(&pid.to_string()).map(|c| (pid, c)))
            .collect();
        CpuSnapshot {
            this: cpu_secs("self"),
            backends,
            span: self.totals.read(),
        }
    }

    /// Usage since `before`. Backends that appeared meanwhile count from zero; backends that
    /// exited meanwhile are lost (pool connections live far longer than a phase).
    pub async fn since(&self, before: &CpuSnapshot) -> Usage {
        let after = self.snapshot().await;
        let pg_cpu = if after.backends.is_empty() {
            None
        } else {
            Some(
                after
                    .backends
                    .iter()
                    .map(|(pid, now)| now - before.backends.get(pid).copied().unwrap_or(0.0))
                    .sum(),
            )
        };
        let this_cpu = match (before.this, after.this) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let span = SpanDelta {
            calls: after.span.calls.saturating_sub(before.span.calls),
            busy: Duration::from_nanos(after.span.busy_ns.saturating_sub(before.span.busy_ns)),
            total: Duration::from_nanos(after.span.total_ns.saturating_sub(before.span.total_ns)),
        };
        Usage {
            this_cpu,
            pg_cpu,
            write_span: span,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_the_write_span() {
        let totals = Arc::new(SpanTotals::default());
        tracing::subscriber::with_default(subscriber(totals.clone()), || {
            let span = tracing::info_span!(target: "portolan_store::entities::write", "write");
            for _ in 0..2 {
                let _g = span.enter();
                std::thread::sleep(Duration::from_millis(10));
                let _nested = span.enter();
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(20));
            drop(span);
        });
        let r = totals.read();
        assert_eq!(r.calls, 1);
        assert!(r.busy_ns >= 40_000_000, "busy {}", r.busy_ns);
        assert!(r.total_ns >= 60_000_000, "total {}", r.total_ns);
    }
}
