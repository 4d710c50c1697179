//! Graceful shutdown: on SIGINT or SIGTERM the server stops accepting connections, tells
//! long-lived responses (event streams) to end, lets in-flight requests finish within
//! `server.shutdown_timeout_ms`, and only then is the engine shut down, which makes every
//! applied record durable and syncs the log (see `serve` in `mod.rs`).

use std::sync::Arc;

use tokio::sync::watch;

/// The server-wide "we are stopping" flag, watched by event streams and `/health`.
#[derive(Clone)]
pub struct ShutdownSignal {
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownSignal {
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.tx.borrow()
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// A receiver that sees the flag turn true.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

/// Waits for SIGINT or SIGTERM, then raises the flag. Given to the HTTP server as its
/// shutdown signal, so the server's own signal handling is replaced by this one and the
/// flag is raised before the server starts its graceful stop.
pub async fn on_signal(signal: ShutdownSignal) {
    use actix_web::rt::signal::unix::{signal as unix_signal, SignalKind};
    let (mut interrupt, mut terminate) = match (
        unix_signal(SignalKind::interrupt()),
        unix_signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            // Without signal handlers the server can still be stopped, only not
            // gracefully; say so rather than fail to serve.
            tracing::error!(error = %e, "cannot install signal handlers; SIGINT/SIGTERM will not stop the server gracefully");
            std::future::pending::<()>().await;
            return;
        }
    };
    let name = tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(
        signal = name,
        "shutting down: no new connections, finishing in-flight requests"
    );
    signal.trigger();
}

/// `server.shutdown_timeout_ms` as the whole seconds the HTTP server counts in, rounded
/// up so the configured time is never cut short.
pub fn timeout_secs(timeout_ms: u64) -> u64 {
    timeout_ms.div_ceil(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_rounds_up_to_whole_seconds() {
        assert_eq!(timeout_secs(0), 0);
        assert_eq!(timeout_secs(1), 1);
        assert_eq!(timeout_secs(1_000), 1);
        assert_eq!(timeout_secs(30_001), 31);
    }

    #[test]
    fn a_subscriber_sees_the_flag_raised() {
        let signal = ShutdownSignal::new();
        let rx = signal.subscribe();
        assert!(!signal.is_shutting_down());
        signal.trigger();
        assert!(*rx.borrow());
        assert!(signal.is_shutting_down());
    }
}
