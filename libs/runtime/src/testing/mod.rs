//! The suite every worker runs against a fresh PostgreSQL database and the real RabbitMQ, on
//! names of its own (feature `test-util`, for the workers' dev-dependencies).
//!
//! A worker's test crate is one line: [`worker_suite!`](crate::worker_suite) expands to the
//! `lifecycle`, `binary` and `definitions` tests, each a `#[tokio::test]` calling the
//! function of the same name here on that worker's public `start`/`start_with`, its
//! [`WorkerSpec`] and its binary.
#![allow(clippy::unwrap_used)]

pub mod binary;
pub mod definitions;
pub mod lifecycle;
mod setup;

use std::sync::Arc;

use futures::future::BoxFuture;
use portolan_bus::Bus;
use portolan_config::Config;
use portolan_store::Store;
use tokio_util::sync::CancellationToken;

use crate::{Running, WorkerSpec};

pub use setup::{Setup, get, get_with, is_listening};

/// The worker crate's `start`.
pub type Start = fn(Config, CancellationToken) -> BoxFuture<'static, anyhow::Result<Running>>;

/// The worker crate's `start_with`.
pub type StartWith = for<'a> fn(
    &'a Config,
    Store,
    Arc<dyn Bus>,
    CancellationToken,
) -> BoxFuture<'a, anyhow::Result<Running>>;

/// One worker under test.
#[derive(Debug)]
pub struct Worker {
    pub spec: &'static WorkerSpec,
    pub start: Start,
    pub start_with: StartWith,
    /// Its binary: `env!("CARGO_BIN_EXE_<name>")`, known only inside the worker's own test
    /// crate.
    pub binary: &'static str,
}

/// Expands, in a worker's test crate, to the whole worker suite for that worker:
///
/// ```ignore
/// portolan_runtime::worker_suite!(
///     portolan_ingestion_worker,
///     binary = env!("CARGO_BIN_EXE_portolan-ingestion-worker"),
/// );
/// ```
///
/// The worker crate must export `SPEC`, `start` and `start_with`; the test crate needs
/// `tokio` (for `#[tokio::test]`).
#[macro_export]
macro_rules! worker_suite {
    (@tests $module:ident { $($test:ident),* $(,)? }) => {
        mod $module {
            $(
                #[::tokio::test]
                async fn $test() {
                    $crate::testing::$module::$test(&super::WORKER).await;
                }
            )*
        }
    };
    ($worker:ident, binary = $binary:expr $(,)?) => {
        static WORKER: $crate::testing::Worker = $crate::testing::Worker {
            spec: &$worker::SPEC,
            start: |config, shutdown| ::std::boxed::Box::pin($worker::start(config, shutdown)),
            start_with: |config, store, bus, shutdown| {
                ::std::boxed::Box::pin($worker::start_with(config, store, bus, shutdown))
            },
            binary: $binary,
        };

        $crate::worker_suite!(@tests lifecycle {
            serves_health_declares_its_queue_and_stops_on_shutdown,
            readyz_answers_503_naming_the_bus_when_the_bus_is_down,
            start_fails_with_an_error_when_the_broker_is_unreachable,
        });
        $crate::worker_suite!(@tests binary {
            the_binary_runs_from_environment_variables_and_exits_cleanly_on_sigterm,
        });
        $crate::worker_suite!(@tests definitions {
            the_broker_definitions_declare_the_queue_exactly_as_the_worker_does,
        });
    };
}
