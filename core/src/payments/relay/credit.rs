//! The money a deposit moves when omnibus holds it (modes B and C, INSTRUMENTS.md D-2.1,
//! §2.7's postings). In mode A the money is in the partner's own account and nothing here
//! applies.
//!
//! - **Observed** (V-b1): the bank posted the payer's deposit to `va_parent[bank]`, so the
//!   books record `va_payer[bank] → va_parent[bank]` with the deposit, in the same record;
//!   a recall (D-2.21, V-x) records the reverse. `va_parent[bank]` is booked as
//!   `withdrawal_firm[bank]`, which §0.3 allows ("it may be the same bank account as
//!   `withdrawal_firm[bank]`"): the settlement sweeps (B1, B2) then carry deposits on to
//!   `fin_parent` like charges, with nothing new to sweep.
//! - **Credits** (V-b2, V-c2, V-s): the securities firm's A2 `fin_parent → dest`, owed by
//!   the deposit and carried out by a house request of kind `va_credit` (SPEC §4's
//!   `FAIL_TRY_AGAIN` and reprocessing; a credit that fails for good goes to `suspense`,
//!   §2.7). [`credits_owed`] says which credits a change of a deposit owes; the books keep
//!   them owed until the request that carries one out is accepted ([`CreditDue::request_no`]
//!   is that request's number, fixed by the deposit, so a crash in between starts it again
//!   and never twice).

use serde::{Deserialize, Serialize};

use super::deposit::{Deposit, DepositId, DepositState};
use super::partner::PartnerMode;

/// Where an owed credit goes.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum CreditTo {
    /// The lease's side: `merchant[p]` in mode B (V-b2), the customer in mode C (V-c2).
    Lease,
    /// `suspense` (V-s): a mismatch, a deposit on a VA not leased, an accumulate excess.
    Suspense,
}

/// A credit a deposit owes, not yet started.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct CreditDue {
    pub deposit: DepositId,
    pub to: CreditTo,
    pub amount_krw: u64,
}

const LEASE_PREFIX: &str = "VC-";
const SUSPENSE_PREFIX: &str = "VS-";

impl CreditDue {
    /// The number of the house request that carries it out: fixed by the deposit and
    /// where it goes.
    pub fn request_no(&self) -> String {
        credit_request_no(self.deposit, self.to)
    }
}

/// The number of the house request that credits `deposit`'s money to `to`.
pub fn credit_request_no(deposit: DepositId, to: CreditTo) -> String {
    match to {
        CreditTo::Lease => format!("{LEASE_PREFIX}{}", deposit.0),
        CreditTo::Suspense => format!("{SUSPENSE_PREFIX}{}", deposit.0),
    }
}

/// The owed credit a request number carries out, if it is a credit's number.
pub fn credit_of_request_no(no: &str) -> Option<(DepositId, CreditTo)> {
    let (to, digits) = if let Some(d) = no.strip_prefix(LEASE_PREFIX) {
        (CreditTo::Lease, d)
    } else {
        (CreditTo::Suspense, no.strip_prefix(SUSPENSE_PREFIX)?)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(|n| (DepositId(n), to))
}

/// Which way an observed posting goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The payer's deposit: `va_payer[bank] → va_parent[bank]`.
    In(u64),
    /// The bank's recall of it: `va_parent[bank] → va_payer[bank]`.
    Out(u64),
}

/// What a change of one deposit moves, in a partner of `mode`: the observed posting and
/// the credits it owes. `before`: the deposit as the books held it (`None`: new).
pub fn credits_owed(
    mode: PartnerMode,
    before: Option<&Deposit>,
    after: &Deposit,
) -> (Option<Observed>, Vec<CreditDue>) {
    if mode == PartnerMode::A {
        return (None, Vec::new());
    }
    let due = |to, amount_krw| CreditDue {
        deposit: after.id,
        to,
        amount_krw,
    };
    match before {
        None => {
            let mut credits = Vec::new();
            match after.state {
                DepositState::Matched => {
                    if after.credited_krw > 0 {
                        credits.push(due(CreditTo::Lease, after.credited_krw));
                    }
                    if after.excess_krw > 0 {
                        credits.push(due(CreditTo::Suspense, after.excess_krw));
                    }
                }
                DepositState::Mismatch | DepositState::Unleased => {
                    credits.push(due(CreditTo::Suspense, after.amount_krw));
                }
                // A deposit is recorded new only as one of the above.
                DepositState::Assigned | DepositState::Refunded | DepositState::Reversed => {}
            }
            (Some(Observed::In(after.amount_krw)), credits)
        }
        Some(b) if b.state != DepositState::Reversed && after.state == DepositState::Reversed => {
            (Some(Observed::Out(after.amount_krw)), Vec::new())
        }
        Some(_) => (None, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credit_request_number_names_its_deposit_and_destination() {
        for to in [CreditTo::Lease, CreditTo::Suspense] {
            let no = credit_request_no(DepositId(42), to);
            assert_eq!(credit_of_request_no(&no), Some((DepositId(42), to)));
        }
        assert_eq!(credit_of_request_no("VC-"), None);
        assert_eq!(credit_of_request_no("VC-4x"), None);
        assert_eq!(credit_of_request_no("PO-1-20260101-0"), None);
    }
}
