//! Settlement sweeps (SPEC §2: B1, B2, Y2, Y3): the house's own transfers between two of
//! the company's parent accounts, executed by the bank firm system like any outside call.
//! Each is a request of the house (`omnibus_core::saga::HOUSE`, no customer) with one
//! `Settlement` entry, written before the call, holding its amount on the debited slice.
//! When and how much to sweep is the supervisors' (`supervisors/sweep.rs`).

use std::cell::RefCell;

use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::request_log::Step;
use omnibus_core::saga::{Accepted, EntryId, LogEntry, RequestKind, HOUSE};
use omnibus_core::{AccountId, Amount, ParentAccount, RequestDate, RequestNo};

use crate::error::EngineError;
use crate::ledger::{Admission, ShardLedger};
use crate::rails::{Answer as RailResult, RailFuture, RailRequestId, Rails, Settlement};
use crate::saga::{Barrier, SagaRuntime};

/// Starts a settlement sweep from one parent slice to another: the house's own request
/// and its one entry (holding the amount on `from`), to be driven once durable.
pub fn start(
    saga: &SagaRuntime,
    ledger: &RefCell<ShardLedger>,
    from: ParentAccount,
    to: ParentAccount,
    amount: Amount,
) -> Result<(EntryId, Barrier), EngineError> {
    let now = saga.now_ms();
    let request_date = RequestDate::from_unix_ms(now).ok_or_else(|| {
        EngineError::Internal(format!(
            "the clock reads {now} ms, outside the engine's dates"
        ))
    })?;
    let mut ledger = ledger.borrow_mut();
    ledger.admit(2, Admission::New)?;
    let id = ledger.books().next_entry_id();
    let request_no = RequestNo::new(&format!("SWEEP-{:016x}", id.0))
        .expect("a sweep's request number is well formed");
    let accepted = Accepted {
        customer: HOUSE,
        request_no,
        request_date,
        kind: RequestKind::Settlement,
        amount,
        payee: None,
        path: None,
        deficit: None,
        at_ms: now,
    };
    let actor = ActorId::Parent(from);
    ledger.execute_unwaited(
        actor,
        &LedgerRecord::RequestAccepted {
            accepted,
            reserves: None,
            named: omnibus_core::saga::Named::default(),
        },
    )?;
    let entry = LedgerRecord::EntryRequested {
        entry: id,
        customer: HOUSE,
        request_no,
        step: Step::Settlement,
        amount,
        debit: AccountId::parent(from),
        credit: AccountId::parent(to),
        at_ms: now,
    };
    ledger.execute_unwaited(actor, &entry)?;
    drop(ledger);
    Ok((id, saga.durable()))
}

/// The bank firm system's transfer between the two parent accounts of a sweep's entry.
pub(super) fn settle(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
) -> Option<RailFuture<RailResult>> {
    let (AccountId::Parent { parent: from }, AccountId::Parent { parent: to }) =
        (entry.debit, entry.credit)
    else {
        return None;
    };
    let settlement = Settlement {
        id,
        from,
        to,
        amount: entry.amount,
    };
    Some(rails.bank_firm.settle(settlement))
}
