//! Why a simulated rail refuses a request: the kinds, for statistics and tests, and the
//! sentence the engine is answered with.

use thiserror::Error;

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
