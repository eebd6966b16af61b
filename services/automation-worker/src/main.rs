//! `portolan-automation-worker`: the automation worker as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    portolan_automation_worker::SPEC.main().await
}
