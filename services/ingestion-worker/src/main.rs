//! `portolan-ingestion-worker`: the ingestion worker as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    portolan_ingestion_worker::SPEC.main().await
}
