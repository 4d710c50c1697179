//! Retention: once a day (checked with the sweeps) a shard forgets its settled requests
//! the engine accepted more than `actors.idempotency_retention_days` ago, as one
//! `Forgotten` record, then their numbers leave the engine-wide request-number registry.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use dashmap::DashMap;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::{CustomerId, RequestNo};

use crate::ledger::{Admission, ShardLedger};
use crate::saga::SagaRuntime;

/// A shard's daily prune.
pub struct Prune {
    /// The engine-wide request-number registry, to forget pruned requests' numbers.
    registry: Arc<DashMap<RequestNo, CustomerId>>,
    /// The acceptance time before which the last prune forgot, so it runs once a day.
    last: Cell<Option<u64>>,
}

impl Prune {
    pub fn new(registry: Arc<DashMap<RequestNo, CustomerId>>) -> Self {
        Self {
            registry,
            last: Cell::new(None),
        }
    }

    /// Forgets the settled requests the engine accepted longer ago than the idempotency
    /// window (`actors.idempotency_retention_days`, counted from the engine's own
    /// acceptance time, never from the client's `request_date`), once a day: their request
    /// numbers may be used again afterwards. Answers how many were forgotten, once durable.
    pub async fn run(&self, flow: &SagaRuntime, ledger: &RefCell<ShardLedger>) -> u64 {
        let before_ms = omnibus_core::ledger::forgotten_before_ms(
            flow.now_ms(),
            flow.config().actors.idempotency_retention_days,
        );
        if before_ms == 0 || self.last.get().is_some_and(|last| last >= before_ms) {
            return 0;
        }
        let keys = {
            let mut ledger = ledger.borrow_mut();
            let keys = ledger.books().forgettable(before_ms);
            if !keys.is_empty() {
                let record = LedgerRecord::Forgotten {
                    accepted_before_ms: before_ms,
                };
                let refused = ledger
                    .admit(1, Admission::New)
                    .and_then(|()| ledger.execute_unwaited(ActorId::Shard, &record).map(|_| ()));
                if let Err(e) = refused {
                    tracing::warn!(shard = flow.shard(), before_ms, error = %e, "prune refused; tried again at the next pass");
                    return 0;
                }
            }
            keys
        };
        self.last.set(Some(before_ms));
        if keys.is_empty() {
            return 0;
        }
        if !matches!(flow.durable().await, Ok(Ok(()))) {
            return 0;
        }
        for (customer, request_no) in &keys {
            self.registry
                .remove_if(request_no, |_, owner| owner == customer);
        }
        tracing::info!(
            shard = flow.shard(),
            before_ms,
            requests = keys.len(),
            "requests past the idempotency window forgotten"
        );
        keys.len() as u64
    }
}
