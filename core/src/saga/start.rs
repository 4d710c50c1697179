//! How a request starts: its first step, and what it sets aside before its first call.

use super::Parties;
use crate::ids::{AccountId, ParentAccount};
use crate::ledger::{Accepted, RequestKind, Reserve};
use crate::money::Amount;
use crate::request_log::Step;
use crate::routing::RemitPath;

/// The first step of a remittance's own path.
pub fn remit_step(path: RemitPath) -> Step {
    match path {
        RemitPath::First => Step::RemitDeduction,
        RemitPath::PaymentInstruction => Step::PaymentInstruction,
    }
}

/// The first step of an accepted request.
pub fn first_step(accepted: &Accepted) -> (Step, Amount) {
    match (accepted.kind, accepted.deficit) {
        (RequestKind::Settlement, _) => (Step::Settlement, accepted.amount),
        (RequestKind::Charge, _) => (Step::ChargeWithdrawal, accepted.amount),
        (RequestKind::Remit, Some(deficit)) => (Step::ChargeWithdrawal, deficit),
        (RequestKind::Remit, None) => (
            remit_step(accepted.path.expect("a remittance has a path")),
            accepted.amount,
        ),
    }
}

/// What a request sets aside before its first call (see [`Reserve`]): a charge, its
/// credit on `fin_parent`; a remittance on the first path, its payout on the deposit firm
/// account that pays it; a deficit, its credit on `fin_parent`. The house's sweeps set
/// nothing aside (they hold per entry).
pub fn reserves_for(accepted: &Accepted, parties: &Parties) -> Vec<Reserve> {
    let fin_parent = AccountId::parent(ParentAccount::FinParent);
    match accepted.kind {
        RequestKind::Charge => vec![(fin_parent, accepted.amount)],
        RequestKind::Remit => {
            let mut reserves = Vec::new();
            if let Some(deficit) = accepted.deficit {
                reserves.push((fin_parent, deficit));
            }
            if accepted.path == Some(RemitPath::First) {
                if let Some(bank) = parties.deposit_bank {
                    reserves.push((
                        AccountId::parent(ParentAccount::DepositFirm(bank)),
                        accepted.amount,
                    ));
                }
            }
            reserves
        }
        RequestKind::Settlement => Vec::new(),
    }
}
