//! State changes for subscribers ([`EngineEvent`]), queued while a step is applied and
//! published only once its records are durable.

use super::SagaRuntime;
use crate::api::EngineEvent;
use crate::ledger::ShardLedger;

impl SagaRuntime {
    /// Queues an event for subscribers; it is published by `release_events` once the
    /// records of the step that raised it are durable.
    pub(super) fn publish(&self, event: EngineEvent) {
        if self.events.receiver_count() > 0 {
            self.pending_events.borrow_mut().push(event);
        }
    }

    /// Publishes the events queued during this step once everything applied so far is
    /// durable: a subscriber never sees a state a crash could take back. No subscriber is
    /// not an error; a lagging one loses the oldest events.
    pub(super) fn release_events(&self, ledger: &mut ShardLedger) {
        let events = std::mem::take(&mut *self.pending_events.borrow_mut());
        if events.is_empty() {
            return;
        }
        let sender = self.events.clone();
        ledger.after_durable(Box::new(move |durable| {
            if durable.is_ok() {
                for event in events {
                    let _ = sender.send(event);
                }
            }
        }));
    }
}
