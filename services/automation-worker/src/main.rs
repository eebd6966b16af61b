//! `portolan-automation-worker`: the automation worker as its own process.

/// mimalloc rather than glibc's allocator: a request allocates many small JSON values on
/// several threads, and glibc's malloc and free took about a fifth of the API's CPU in a
/// search profile (docs/benchmarks.md, "Search").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    portolan_automation_worker::SPEC.main().await
}
