//! Integration tests of the store through its public API. Every test runs twice: on a fresh
//! PostgreSQL database (dropped afterwards) and on a SQLite file in a temporary directory.

mod audit;
mod blueprints;
mod cache;
mod concurrency;
mod entities;
mod events;
mod evolution;
mod isolation;
mod jobs;
mod orgs;
mod ownership;
mod pool;
mod relations;
mod search;
mod secrets;
mod support;
