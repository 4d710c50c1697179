//! What each simulated rail did with each request id: the registry the confirm inquiry
//! and idempotent repeats answer from, and the statement a reconciliation reads.

use std::fmt;

use omnibus_core::{Amount, CustomerId};
use thiserror::Error;

use super::truth::TruthAccount;
use crate::rails::RailRequestId;

/// The operation a rail executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Bank firm system: linked account → withdrawal firm parent account (A1).
    Withdraw,
    /// Bank firm system: deposit firm parent → designated account (X2), or withdrawal
    /// firm parent → linked account (a refund).
    Deposit,
    /// Securities firm system: `fin_parent` → customer account (A2, recovery).
    Increase,
    /// Securities firm system: customer account → `fin_parent` (X1).
    Decrease,
    /// Financial company server: customer account → designated account, through the
    /// external financial network (the payment instruction).
    Instruct,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Withdraw => "withdraw",
            Operation::Deposit => "deposit",
            Operation::Increase => "increase",
            Operation::Decrease => "decrease",
            Operation::Instruct => "instruct",
        })
    }
}

/// One line of a rail's statement: a request it executed, and the money it moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    pub id: RailRequestId,
    pub operation: Operation,
    pub customer: CustomerId,
    pub amount: Amount,
    pub from: TruthAccount,
    pub to: TruthAccount,
}

impl fmt::Display for Execution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} for customer {}: {} from {} to {}",
            self.id, self.operation, self.customer, self.amount, self.from, self.to
        )
    }
}

/// Why a request id was settled as never to be executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotExecutedCause {
    /// The rail refused it for a business reason.
    Refused(Refusal),
    /// The simulator injected a failure (`failure_rate`).
    InjectedFailure,
    /// A confirm inquiry found it not executed, which settles it for good.
    Confirm,
}

/// What a rail holds about one request id, once it holds anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Executed(Execution),
    /// Not executed, and never will be: a later call with this id is refused.
    NotExecuted(NotExecutedCause),
}

/// The kinds of business refusal, for statistics and for tests to match on. The answer
/// the engine sees carries a sentence; this is its category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// A bank account (linked or designated) holds less than the amount.
    BankAccountShort,
    /// The customer's financial company account holds less than the amount.
    SecuritiesShort,
    /// The parent account would go below zero (below its configured overdraft).
    ParentShort,
    /// The parent account named is not one the configuration declares.
    UnknownParent,
    /// The amount is not in the simulator's currency.
    CurrencyMismatch,
    /// The credit would take a balance past the largest value the engine holds.
    OutOfRange,
    /// The payment instruction's original text is not a text the engine issues.
    MalformedText,
    /// The original text is for another request than the instruction's fields.
    AlteredText,
    /// The signature does not verify with the certificate's key.
    BadSignature,
    /// The certificate's public key is not a valid ed25519 key.
    BadKey,
    /// The original text was already executed under another request id.
    ReplayedText,
    /// The request id was already settled as not executed.
    SettledNotExecuted,
    /// The request id was already executed for a different request.
    IdReused,
}

impl Refusal {
    pub const COUNT: usize = 13;

    /// Every kind, in declaration order (the order of [`Refusal::index`]).
    pub const ALL: [Refusal; Refusal::COUNT] = [
        Refusal::BankAccountShort,
        Refusal::SecuritiesShort,
        Refusal::ParentShort,
        Refusal::UnknownParent,
        Refusal::CurrencyMismatch,
        Refusal::OutOfRange,
        Refusal::MalformedText,
        Refusal::AlteredText,
        Refusal::BadSignature,
        Refusal::BadKey,
        Refusal::ReplayedText,
        Refusal::SettledNotExecuted,
        Refusal::IdReused,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A refusal with the sentence the rail answers with.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct SimRefusal {
    pub refusal: Refusal,
    pub reason: String,
}

impl SimRefusal {
    pub(super) fn new(refusal: Refusal, reason: String) -> Self {
        Self { refusal, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_kind_is_listed_at_its_index() {
        for (i, refusal) in Refusal::ALL.iter().enumerate() {
            assert_eq!(refusal.index(), i);
        }
    }
}
