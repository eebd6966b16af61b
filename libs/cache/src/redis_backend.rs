//! The Redis backend: one [`ConnectionManager`] (multiplexed, reconnects by itself) and the Lua
//! scripts that make each operation atomic.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

use crate::CALL_TIMEOUT;
use crate::error::CacheError;

/// INCR, and set the expiry when the counter is new.
const INCR: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// SET NX PX; answers nil when stored, else the value already there.
const SET_NX_OR_GET: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
";

/// DEL when the value starts with ARGV[1].
const DEL_IF_PREFIX: &str = r"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

pub(crate) struct RedisBackend {
    conn: ConnectionManager,
    incr: Script,
    set_nx_or_get: Script,
    del_if_prefix: Script,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisBackend {
    /// Builds the client without connecting (the first call connects). Must run inside a Tokio
    /// runtime.
    pub(crate) fn new(url: &str) -> Result<Self, CacheError> {
        // The client's messages may quote the URL: say only what kind of problem it is.
        let client = redis::Client::open(url)
            .map_err(|e| CacheError::InvalidUrl(format!("{:?}", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| CacheError::InvalidUrl(format!("{:?}", e.kind())))?;
        Ok(RedisBackend {
            conn,
            incr: Script::new(INCR),
            set_nx_or_get: Script::new(SET_NX_OR_GET),
            del_if_prefix: Script::new(DEL_IF_PREFIX),
        })
    }

    pub(crate) async fn ping(&self) -> RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<()>(&mut conn).await
    }

    pub(crate) async fn incr(&self, key: &str, ttl: Duration) -> RedisResult<u64> {
        let mut conn = self.conn.clone();
        self.incr
            .key(key)
            .arg(ms(ttl))
            .invoke_async(&mut conn)
            .await
    }

    pub(crate) async fn get_count(&self, key: &str) -> RedisResult<u64> {
        let mut conn = self.conn.clone();
        let v: Option<u64> = redis::cmd("GET").arg(key).query_async(&mut conn).await?;
        Ok(v.unwrap_or(0))
    }

    pub(crate) async fn del(&self, key: &str) -> RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL").arg(key).query_async(&mut conn).await
    }

    pub(crate) async fn set_nx_or_get(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> RedisResult<Option<Vec<u8>>> {
        let mut conn = self.conn.clone();
        self.set_nx_or_get
            .key(key)
            .arg(value)
            .arg(ms(ttl))
            .invoke_async(&mut conn)
            .await
    }

    pub(crate) async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ms(ttl))
            .query_async(&mut conn)
            .await
    }

    pub(crate) async fn del_if_prefix(&self, key: &str, prefix: &[u8]) -> RedisResult<()> {
        let mut conn = self.conn.clone();
        self.del_if_prefix
            .key(key)
            .arg(prefix)
            .invoke_async::<()>(&mut conn)
            .await
    }
}
