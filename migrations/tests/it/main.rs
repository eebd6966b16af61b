//! Integration tests of the schema migrations, on PostgreSQL (a fresh database per test) and
//! on SQLite (a file in a temporary directory per test).

mod rls;
mod roundtrip;
mod support;
