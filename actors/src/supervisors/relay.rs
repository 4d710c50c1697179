//! The relay's lease expirer (INSTRUMENTS.md D-2.6): with the sweeps, each OPEN or
//! PARTIAL lease whose due date has passed is put on record EXPIRED and its VA COOLING
//! (at most `payments.va_expiries_per_pass_max` per pass; the rest wait for the next).
//! Cooling ends by the clock (`VirtualAccount::state_at`), so no pass frees a VA.
//!
//! And the credits deposits owe in modes B and C (`omnibus_core::payments::relay::credit`):
//! started right after the deposit's record ([`start_credits_of`]), and by each pass for
//! those a crash or a short `fin_parent` slice left owed ([`credit_pass`]).

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::payments::relay::{CreditDue, CreditTo, DepositId, PartnerMode};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::saga::EntryId;

use crate::instruments::start_va_credit;
use crate::ledger::{Admission, ShardLedger};
use crate::saga::{drive, Barrier, SagaRuntime};

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

/// Starts the credits the deposits of this shard owe (modes B and C, §2.7) that no
/// request carries out yet: after a crash between a deposit's record and its credit's
/// acceptance, and when this shard's `fin_parent` slice could not hold one before. At
/// most `payments.va_credits_per_pass_max` per pass; drives those it started. Answers how
/// many it started.
pub async fn credit_pass(flow: &Rc<SagaRuntime>, ledger: &Rc<RefCell<ShardLedger>>) -> u64 {
    let max = flow.config().payments.va_credits_per_pass_max as usize;
    let due: Vec<CreditDue> = flow.books().va_credits_due().take(max).copied().collect();
    let started = start_credits(flow, ledger, &due);
    let count = started.len() as u64;
    drive_all(flow, started).await;
    count
}

/// Starts the credits `deposit` owes, right after its record (the shard's relay
/// handler), and drives them in the background.
pub fn start_credits_of(
    flow: &Rc<SagaRuntime>,
    ledger: &Rc<RefCell<ShardLedger>>,
    deposit: DepositId,
) {
    let due: Vec<CreditDue> = flow
        .books()
        .va_credits_due()
        .filter(|d| d.deposit == deposit)
        .copied()
        .collect();
    if due.is_empty() {
        return;
    }
    let started = start_credits(flow, ledger, &due);
    if started.is_empty() {
        return;
    }
    let flow = flow.clone();
    actix::spawn(async move { drive_all(&flow, started).await });
}

/// Starts each credit, to the lease's side (the partner's merchant, mode B) or to
/// suspense.
fn start_credits(
    flow: &Rc<SagaRuntime>,
    ledger: &Rc<RefCell<ShardLedger>>,
    due: &[CreditDue],
) -> Vec<(EntryId, Barrier)> {
    let mut started = Vec::new();
    for credit in due {
        let merchant = match credit.to {
            CreditTo::Suspense => None,
            CreditTo::Lease => {
                let books = flow.books();
                let relay = books.relay();
                let partner = relay
                    .deposit(credit.deposit)
                    .and_then(|d| relay.partner(&d.partner));
                match partner.map(|p| (p.mode, p.merchant)) {
                    Some((PartnerMode::B, Some(m))) => Some(m),
                    other => {
                        tracing::warn!(shard = flow.shard(), deposit = %credit.deposit, partner = ?other, "a deposit's credit names no merchant of a partner in mode B; left owed");
                        continue;
                    }
                }
            }
        };
        match start_va_credit(flow, ledger, credit, merchant) {
            Ok(Some(s)) => started.push(s),
            Ok(None) => {
                tracing::debug!(shard = flow.shard(), deposit = %credit.deposit, "a deposit's credit waits: fin_parent's slice cannot hold it now")
            }
            Err(e) => {
                tracing::warn!(shard = flow.shard(), deposit = %credit.deposit, error = %e, "a deposit's credit not started");
                break;
            }
        }
    }
    started
}

async fn drive_all(flow: &Rc<SagaRuntime>, started: Vec<(EntryId, Barrier)>) {
    join_all(started.into_iter().map(|(id, durable)| {
        let flow = flow.clone();
        async move {
            if matches!(durable.await, Ok(Ok(()))) {
                drive(flow, id, None).await;
            }
        }
    }))
    .await;
}
