//! Where a request stands for good ([`Settled`]): what moved, whatever it was told.

use serde::{Deserialize, Serialize};

use crate::ledger::{owed_step, LogEntry, RequestKind, RequestState};
use crate::request_log::{EntryState, Step};

/// Where a request stands for good, for a client deciding what to do next: what moved,
/// whatever it was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// Still moving: a call open, a step owed, or no answer yet.
    Pending,
    /// A charge: the money is in the customer's account.
    Credited,
    /// A charge: drawn from the linked account, then given back to it.
    Refunded,
    /// A remittance: the payee was paid.
    PaidOut,
    /// A remittance: deducted from the customer, not paid, and credited back.
    Recovered,
    /// A remittance that did not pay out, but whose deficit charge was credited to the
    /// customer's account.
    DeficitCredited,
    /// Nothing moved.
    NothingMoved,
}

impl Settled {
    pub const fn as_str(self) -> &'static str {
        match self {
            Settled::Pending => "pending",
            Settled::Credited => "credited",
            Settled::Refunded => "refunded",
            Settled::PaidOut => "paid_out",
            Settled::Recovered => "recovered",
            Settled::DeficitCredited => "deficit_credited",
            Settled::NothingMoved => "nothing_moved",
        }
    }
}

/// Where a request stands for good ([`Settled`]), from its entries.
pub fn settled_outcome(request: &RequestState, entries: &[LogEntry]) -> Settled {
    let open = entries.iter().any(|e| !e.state.is_final());
    let owed = owed_step(&request.accepted, request.answer.is_some(), entries).is_some();
    if open || owed || request.answer.is_none() {
        return Settled::Pending;
    }
    let done = |step: Step| {
        entries
            .iter()
            .any(|e| e.step == step && e.state == EntryState::Success)
    };
    match request.accepted.kind {
        RequestKind::Charge if done(Step::Refund) => Settled::Refunded,
        RequestKind::Charge if done(Step::ChargeCredit) => Settled::Credited,
        RequestKind::Remit if done(Step::RemitDeposit) || done(Step::PaymentInstruction) => {
            Settled::PaidOut
        }
        RequestKind::Remit if done(Step::Recovery) => Settled::Recovered,
        RequestKind::Remit if done(Step::Refund) => Settled::NothingMoved,
        RequestKind::Remit if done(Step::ChargeCredit) => Settled::DeficitCredited,
        RequestKind::Settlement if done(Step::Settlement) => Settled::PaidOut,
        _ => Settled::NothingMoved,
    }
}
