//! The shard's on-demand refill trigger. The runtime raises it when a step's hold is
//! refused below a parent slice's floor, the shard when a slice leaves its band after a
//! group commit; the supervisors' sweep pass and the engine's balancer wait on it. It is
//! owned here, at the lowest layer that raises it, so that raising it names nobody above.

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

/// A shard's on-demand refill trigger (`supervisor.refill_on_demand`): wakes the shard's
/// supervisor for a sweep pass, and the engine's `Balancer` for moves between shards.
/// Raising it only stores a permit (`tokio::sync::Notify`): it never blocks, and raises
/// that arrive before the pass starts make one pass.
pub struct Refill {
    enabled: bool,
    sweep: Notify,
    balancer: OnceLock<Arc<Notify>>,
}

impl Refill {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            sweep: Notify::new(),
            balancer: OnceLock::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Asks this shard's supervisor for a sweep pass now.
    pub fn raise(&self) {
        if self.enabled {
            self.sweep.notify_one();
        }
    }

    /// Asks the engine's `Balancer` to move money between shards' slices now.
    pub fn raise_balancer(&self) {
        if let Some(balancer) = self.balancer.get().filter(|_| self.enabled) {
            balancer.notify_one();
        }
    }

    /// A request found a parent slice short: a sweep pass, and moves between shards.
    pub fn short(&self) {
        self.raise();
        self.raise_balancer();
    }

    /// The engine's `Balancer` wake-up, set once when the engine starts.
    pub fn connect_balancer(&self, balancer: Arc<Notify>) {
        let _ = self.balancer.set(balancer);
    }

    /// Waits until a sweep pass is asked for.
    pub async fn wanted(&self) {
        self.sweep.notified().await;
    }
}
