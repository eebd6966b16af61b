//! The ingestion worker started in-process against a fresh PostgreSQL database and the real
//! RabbitMQ, on names of its own.
#![allow(clippy::unwrap_used)]

mod lifecycle;
mod support;
