//! Where the service is in its life — starting, serving, draining — and what
//! that changes for a request: `/readyz` answers 503 unless serving, and while
//! draining every response carries `Connection: close` (the [`envelope`](crate::envelope)), so that keep-alive
//! clients move to another instance before the listener closes.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Whether the service drains; shared by every request.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
    drain_began: Notify,
}

impl Lifecycle {
    /// Whether a shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Begins the drain: readiness turns 503 and connections are closed after
    /// their next response.
    pub fn begin_draining(&self) {
        if !self.draining.swap(true, Ordering::Relaxed) {
            tracing::info!(
                "draining: readiness answers 503 and keep-alive connections close after their next response"
            );
            self.drain_began.notify_waiters();
        }
    }

    /// Resolves once the drain has begun.
    pub async fn draining(&self) {
        let began = self.drain_began.notified();
        if !self.is_draining() {
            began.await;
        }
    }
}
