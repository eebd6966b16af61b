//! Whether Redis answers: lost on the first failed call (one warning), probed again at most
//! once per [`PROBE_EVERY`] while lost, and back on the first call that succeeds (one info).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often calls try Redis again while it is lost (the other calls use memory at once).
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Health {
    down: AtomicBool,
    /// Milliseconds since `epoch` before which no call tries Redis while it is down.
    next_probe_ms: AtomicU64,
    epoch: Instant,
}

impl Health {
    pub(crate) fn new() -> Self {
        Health {
            down: AtomicBool::new(false),
            next_probe_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Whether this call should try Redis: always while it is up; while it is down, only the
    /// one call that claims the next probe slot.
    pub(crate) fn should_try(&self) -> bool {
        if !self.is_down() {
            return true;
        }
        let now = self.now_ms();
        let next = self.next_probe_ms.load(Ordering::Acquire);
        now >= next
            && self
                .next_probe_ms
                .compare_exchange(next, now + probe_ms(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    pub(crate) fn succeeded(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("Redis is reachable again: rate limits and idempotency keys are shared");
        }
    }

    pub(crate) fn failed(&self, reason: &dyn std::fmt::Display) {
        self.next_probe_ms
            .store(self.now_ms() + probe_ms(), Ordering::Release);
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                error = %reason,
                "Redis is unreachable: using the in-memory fallback (limits and idempotency keys \
                 are per instance) and retrying Redis every second"
            );
        }
    }
}

fn probe_ms() -> u64 {
    u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(1000)
}
