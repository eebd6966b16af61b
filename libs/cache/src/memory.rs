//! The in-memory backend: a map with expiry, pruned at most once a second. It answers the same
//! operations as the Redis backend, for one process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// At most this many bytes of stored values (idempotent responses) are kept in memory; a value
/// that does not fit is not stored.
pub const MEMORY_MAX_BYTES: usize = 64 << 20;

const PRUNE_EVERY: Duration = Duration::from_secs(1);

enum Value {
    Count(u64),
    Bytes(Vec<u8>),
}

struct Entry {
    value: Value,
    expires: Instant,
}

struct State {
    map: HashMap<String, Entry>,
    /// Bytes held by `Value::Bytes` entries.
    bytes: usize,
    last_prune: Instant,
}

impl State {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let e = self.map.remove(key)?;
        if let Value::Bytes(b) = &e.value {
            self.bytes -= b.len();
        }
        Some(e)
    }

    /// The live entry under `key` (an expired one is removed).
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.map.get(key).is_some_and(|e| e.expires <= now) {
            self.remove(key);
        }
        self.map.get_mut(key)
    }

    fn prune(&mut self, now: Instant) {
        if now.duration_since(self.last_prune) < PRUNE_EVERY {
            return;
        }
        self.last_prune = now;
        let mut freed = 0;
        self.map.retain(|_, e| {
            let keep = e.expires > now;
            if !keep && let Value::Bytes(b) = &e.value {
                freed += b.len();
            }
            keep
        });
        self.bytes -= freed;
    }

    fn insert_bytes(&mut self, key: &str, value: Vec<u8>, expires: Instant) -> bool {
        self.remove(key);
        if self.bytes + value.len() > MEMORY_MAX_BYTES {
            return false;
        }
        self.bytes += value.len();
        self.map.insert(
            key.to_owned(),
            Entry {
                value: Value::Bytes(value),
                expires,
            },
        );
        true
    }
}

pub(crate) struct Memory {
    state: Mutex<State>,
}

impl Memory {
    pub(crate) fn new() -> Self {
        Memory {
            state: Mutex::new(State {
                map: HashMap::new(),
                bytes: 0,
                last_prune: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> (MutexGuard<'_, State>, Instant) {
        // A panic while holding the lock cannot leave the map inconsistent in a way that
        // matters for counters and cached responses: keep serving.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        state.prune(now);
        (state, now)
    }

    /// Adds one to the counter under `key`; a new counter expires after `ttl`.
    pub(crate) fn incr(&self, key: &str, ttl: Duration) -> u64 {
        let (mut state, now) = self.lock();
        if let Some(e) = state.live(key, now)
            && let Value::Count(n) = &mut e.value
        {
            *n += 1;
            return *n;
        }
        state.remove(key);
        state.map.insert(
            key.to_owned(),
            Entry {
                value: Value::Count(1),
                expires: now + ttl,
            },
        );
        1
    }

    pub(crate) fn get_count(&self, key: &str) -> u64 {
        let (mut state, now) = self.lock();
        match state.live(key, now).map(|e| &e.value) {
            Some(Value::Count(n)) => *n,
            _ => 0,
        }
    }

    pub(crate) fn del(&self, key: &str) {
        let (mut state, _) = self.lock();
        state.remove(key);
    }

    /// Stores `value` unless the key holds one; answers the value it holds (`None`: stored).
    pub(crate) fn set_nx_or_get(&self, key: &str, value: &[u8], ttl: Duration) -> Option<Vec<u8>> {
        let (mut state, now) = self.lock();
        if let Some(e) = state.live(key, now)
            && let Value::Bytes(b) = &e.value
        {
            return Some(b.clone());
        }
        // A value too big for the budget is not stored; the caller then sees a fresh key
        // every time, which only costs the protection, never a wrong answer.
        state.insert_bytes(key, value.to_vec(), now + ttl);
        None
    }

    /// Stores `value`; false when it does not fit in [`MEMORY_MAX_BYTES`] (the key is then gone).
    pub(crate) fn set(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let (mut state, now) = self.lock();
        state.insert_bytes(key, value.to_vec(), now + ttl)
    }

    /// Deletes the value under `key` if it starts with `prefix`.
    pub(crate) fn del_if_prefix(&self, key: &str, prefix: &[u8]) {
        let (mut state, now) = self.lock();
        if let Some(e) = state.live(key, now)
            && let Value::Bytes(b) = &e.value
            && b.starts_with(prefix)
        {
            state.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn expired_entries_are_gone_and_pruned() {
        let m = Memory::new();
        m.incr("a", Duration::from_millis(20));
        m.set("b", b"value", Duration::from_millis(20));
        assert_eq!(m.get_count("a"), 1);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(m.get_count("a"), 0);
        assert_eq!(m.set_nx_or_get("b", b"new", Duration::from_secs(60)), None);
        {
            let mut state = m.state.lock().unwrap();
            state.last_prune -= PRUNE_EVERY;
        }
        m.incr("c", Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        {
            let mut state = m.state.lock().unwrap();
            state.last_prune -= PRUNE_EVERY;
        }
        m.get_count("d");
        let state = m.state.lock().unwrap();
        assert_eq!(state.map.len(), 1, "only b is left");
        assert_eq!(state.bytes, 3);
    }

    #[test]
    fn stored_bytes_stay_within_the_budget() {
        let m = Memory::new();
        let half = vec![0; MEMORY_MAX_BYTES / 2];
        assert!(m.set("a", &half, Duration::from_secs(60)));
        assert!(m.set("b", &half, Duration::from_secs(60)));
        assert!(!m.set("c", &[0; 1], Duration::from_secs(60)));
        m.del("a");
        assert!(m.set("c", &[0; 1], Duration::from_secs(60)));
        // Replacing a value frees the old one first.
        assert!(m.set("b", &half, Duration::from_secs(60)));
        assert_eq!(m.state.lock().unwrap().bytes, MEMORY_MAX_BYTES / 2 + 1);
    }
}
