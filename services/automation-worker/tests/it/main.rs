//! The automation worker started in-process against a fresh PostgreSQL database and the real
//! RabbitMQ, on names of its own: `portolan-runtime`'s worker suite.

portolan_runtime::worker_suite!(
    portolan_automation_worker,
    binary = env!("CARGO_BIN_EXE_portolan-automation-worker"),
);
