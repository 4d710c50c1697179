//! The relay's lease expirer (INSTRUMENTS.md D-2.6): with the sweeps, each OPEN or
//! PARTIAL lease whose due date has passed is put on record EXPIRED and its VA COOLING
//! (at most `payments.va_expiries_per_pass_max` per pass; the rest wait for the next).
//! Cooling ends by the clock (`VirtualAccount::state_at`), so no pass frees a VA.

use std::cell::RefCell;
use std::rc::Rc;

use omnibus_core::record::{ActorId, LedgerRecord};

use crate::ledger::{Admission, ShardLedger};
use crate::saga::SagaRuntime;

/// One pass; answers how many leases it expired.
pub fn expire_leases(flow: &Rc<SagaRuntime>, ledger: &RefCell<ShardLedger>) -> u64 {
    let max = flow.config().payments.va_expiries_per_pass_max as usize;
    let now = flow.now_ms();
    let changes = flow.books().relay().expire_due(now, max);
    let mut expired = 0;
    let mut ledger = ledger.borrow_mut();
    for change in changes {
        if let Err(e) = ledger.admit(1, Admission::New) {
            tracing::debug!(shard = flow.shard(), error = %e, "lease expiry waits for room");
            break;
        }
        let lease = change.lease.as_ref().map(|l| (l.id, l.partner.clone()));
        let record = LedgerRecord::RelaySet {
            change: Box::new(change),
        };
        if let Err(e) = ledger.execute_unwaited(ActorId::Shard, &record) {
            tracing::warn!(shard = flow.shard(), error = %e, "a lease's expiry was not written");
            break;
        }
        if let Some((id, partner)) = lease {
            tracing::info!(shard = flow.shard(), lease = %id, %partner, "virtual-account lease expired");
        }
        expired += 1;
    }
    expired
}
