//! Password sign-in throttling: failed attempts counted per account and per source address
//! over 15 minutes (in Redis when configured, so every instance sees them; locally else).
//! Beyond the configured budget further attempts are refused with 429 before the password
//! is even checked, so guessing costs the attacker the window, not us an argon2 hash.

use std::time::Duration;

use crate::error::ApiError;
use crate::state::AppState;

/// The window failures are counted over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

pub struct LoginThrottle<'a> {
    state: &'a AppState,
    account: String,
    address: String,
}

impl<'a> LoginThrottle<'a> {
    pub fn new(state: &'a AppState, email: &str, address: &str) -> Self {
        LoginThrottle {
            state,
            account: format!("login:account:{email}"),
            address: format!("login:address:{address}"),
        }
    }

    /// 429 when the account or the address has used up its failures.
    pub async fn check(&self) -> Result<(), ApiError> {
        let counters = self.state.cache.counters();
        let account = counters.failures(&self.account).await;
        let address = counters.failures(&self.address).await;
        let per_account = self.state.config.login_max_failures_per_account;
        let per_address = self.state.config.login_max_failures_per_address;
        if account >= per_account || address >= per_address {
            return Err(ApiError::RateLimited {
                limit: if account >= per_account {
                    per_account
                } else {
                    per_address
                },
                period: WINDOW.as_secs(),
                retry_after: WINDOW.as_secs(),
            });
        }
        Ok(())
    }

    pub async fn failed(&self) {
        let counters = self.state.cache.counters();
        counters.count_failure(&self.account, WINDOW).await;
        counters.count_failure(&self.address, WINDOW).await;
    }

    /// A success clears the account's failures (not the address's).
    pub async fn succeeded(&self) {
        self.state.cache.counters().clear(&self.account).await;
    }
}
