//! The ingestion worker started in-process against a fresh PostgreSQL database and the real
//! RabbitMQ, on names of its own: `portolan-runtime`'s worker suite.

portolan_runtime::worker_suite!(
    portolan_ingestion_worker,
    binary = env!("CARGO_BIN_EXE_portolan-ingestion-worker"),
);
