//! Process plumbing: logging set up from the configuration, and the shutdown signals.

use portolan_config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global tracing subscriber: `config.log` as the filter (`info` when it does
/// not parse), `config.log_format` as text or JSON lines, written to `writer`
/// (`std::io::stdout` for the workers, `std::io::stderr` for `portolan`, whose stdout carries
/// the banner).
///
/// # Panics
///
/// When a global subscriber is already installed.
pub fn init_tracing<W>(config: &Config, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Returns on SIGINT (Ctrl-C) or SIGTERM. When one of them cannot be listened for, it says so
/// and waits for the other.
pub async fn wait_for_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT; only SIGTERM stops the process");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the process");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
