//! What Portolan's processes share: tracing set up from the configuration, waiting for
//! SIGINT/SIGTERM, the health server (`GET /healthz`, `GET /readyz` with named checks) and a
//! worker's whole life, from connecting to the database and the bus to a graceful stop.
//!
//! A worker is a [`WorkerSpec`]: its name, its RabbitMQ connection name, its queue and
//! bindings, which health address setting it serves on, and optionally a background task.
//! The worker crates hold little more than their spec; `portolan serve` uses
//! [`init_tracing`] and [`wait_for_signal`] from here too.
//!
//! With the `test-util` feature, `testing` holds the suite every worker runs against the
//! real PostgreSQL and RabbitMQ (`worker_suite!`).

mod health;
mod process;
mod running;
mod worker;

#[cfg(feature = "test-util")]
pub mod testing;

pub use health::{Check, serve_health};
pub use process::{init_tracing, wait_for_signal};
pub use running::Running;
pub use worker::{Background, HealthAddr, WorkerSpec};
