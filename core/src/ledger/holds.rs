//! Two-phase holds: a pending debit of one account toward another, with an expiry on the
//! engine's clock, resolved exactly once: posted (in full, or in part, which releases the
//! rest), voided, or expired. The anchors are TigerBeetle's pending transfers, Blnk's
//! inflight transactions and Stripe's manual capture (`../shared/ANCHORS.md`, item 2).
//!
//! A hold adds its amount to its debit account's `held`, the same figure the saga's
//! entries and reservations add to, so `available = balance - held` counts both kinds and
//! every check that reads `held` (postings, entries, reservations, the balance answer)
//! sees the holds of this file too. Only accounts with a `held` figure can be held: a
//! customer's account and a parent account's slice.
//!
//! Each operation is one record ([`LedgerRecord::HoldCreated`], `HoldPosted`,
//! `HoldVoided`, `HoldExpired`), checked and applied like every other, so the holds and
//! their expiries are rebuilt by replay, and are in the snapshot. Nothing here reads a
//! clock: the engine passes its time in, and it is written in the record.
//!
//! Idempotency by hold id ([`HoldId`]): the `decide_*` reads turn a request into the record
//! to write, or into the answer to give without writing anything (a create repeated with
//! the same body, a post or void of a hold already resolved). A record itself is never
//! repeated in a log: applying a second `HoldCreated` for an id, or a second resolution,
//! is refused. A hold whose expiry has come can only expire: a post or void at or after
//! `expires_at_ms` decides to write its expiry instead, and answers with it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{BooksError, ShardBooks};
use crate::ids::{AccountId, CustomerId};
use crate::money::Amount;
use crate::record::LedgerRecord;

/// A hold's id: the customer it belongs to (which places it in that customer's shard, as a
/// request's customer does) and a number the caller chooses, unique among that customer's
/// holds. Holds are idempotent by this id. The house's own holds belong to
/// [`super::HOUSE`].
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
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct HoldId {
    pub owner: CustomerId,
    pub number: u64,
}

/// The smallest hold id, where a range over one account's holds starts.
const FIRST_HOLD_ID: HoldId = HoldId {
    owner: match CustomerId::new_const(1) {
        Some(c) => c,
        None => panic!("1 is a customer number"),
    },
    number: 0,
};

impl HoldId {
    pub fn new(owner: CustomerId, number: u64) -> Self {
        HoldId { owner, number }
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hold[{}/{}]", self.owner, self.number)
    }
}

/// What a create asks for: the body two creates of one id must share to be "the same".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewHold {
    pub id: HoldId,
    /// The account held: a customer's account or a parent account's slice.
    pub debit: AccountId,
    /// Where a post sends the money: any account of the same shard.
    pub credit: AccountId,
    pub amount: Amount,
    /// Engine-clock milliseconds: from this instant on the hold can only expire.
    pub expires_at_ms: u64,
}

/// Where a hold stands. Every state but `Open` is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum HoldState {
    Open,
    /// `amount` moved from the debit to the credit account; the rest was released.
    Posted {
        amount: Amount,
        at_ms: u64,
    },
    Voided {
        at_ms: u64,
    },
    Expired {
        at_ms: u64,
    },
}

impl HoldState {
    pub fn is_open(self) -> bool {
        self == HoldState::Open
    }
}

impl fmt::Display for HoldState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldState::Open => f.write_str("open"),
            HoldState::Posted { amount, at_ms } => write!(f, "posted ({amount}) at {at_ms} ms"),
            HoldState::Voided { at_ms } => write!(f, "voided at {at_ms} ms"),
            HoldState::Expired { at_ms } => write!(f, "expired at {at_ms} ms"),
        }
    }
}

/// A hold as the books keep it (also in the snapshot, from snapshot version 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Hold {
    pub id: HoldId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Amount,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub state: HoldState,
}

impl Hold {
    /// What it was created with, to compare with a repeated create.
    pub fn body(&self) -> NewHold {
        NewHold {
            id: self.id,
            debit: self.debit,
            credit: self.credit,
            amount: self.amount,
            expires_at_ms: self.expires_at_ms,
        }
    }
}

/// What a create, post or void should do, decided from the books as they are (see the
/// module's note on idempotency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldDecision {
    /// Write this record: it does what was asked.
    Write(LedgerRecord),
    /// The hold fell due: write its expiry. What was asked is not done; the answer is
    /// the expired hold.
    Expire(LedgerRecord),
    /// Write nothing: a create repeated with the same body, or a post or void of a hold
    /// already resolved. The answer is the hold as it is.
    Answer(Hold),
}

/// What a create, post or void of a hold answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldAnswer {
    /// Done by this call; the hold as it is after it.
    Done(Hold),
    /// Nothing done by this call, and nothing changed by it but possibly the expiry of a
    /// hold that fell due: the hold had been created with the same body already, or was
    /// already resolved (its state says how: posted, voided or expired).
    Unchanged(Hold),
}

impl HoldAnswer {
    pub fn hold(&self) -> &Hold {
        match self {
            HoldAnswer::Done(hold) | HoldAnswer::Unchanged(hold) => hold,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, HoldAnswer::Done(_))
    }
}

impl ShardBooks {
    pub fn hold(&self, id: HoldId) -> Option<&Hold> {
        self.holds.get(&id)
    }

    /// Every hold on the books, in no particular order.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values()
    }

    /// The holds (open and resolved) that debit `account`, by id.
    pub fn holds_of(&self, account: AccountId) -> impl Iterator<Item = &Hold> + '_ {
        self.holds_by_debit
            .range((account, FIRST_HOLD_ID)..)
            .take_while(move |(a, _)| *a == account)
            .map(|(_, id)| &self.holds[id])
    }

    /// How many holds are open.
    pub fn open_hold_count(&self) -> usize {
        self.holds_by_expiry.len()
    }

    /// The open holds due at `now_ms` (their expiry at or before it), soonest first, at
    /// most `max` of them: what one expiry pass writes `HoldExpired` for.
    pub fn holds_due(&self, now_ms: u64, max: usize) -> Vec<HoldId> {
        self.holds_by_expiry
            .iter()
            .take_while(|(expires, _)| *expires <= now_ms)
            .take(max)
            .map(|(_, id)| *id)
            .collect()
    }

    /// What a create of `new` at `now_ms` should do. A new id: its `HoldCreated` record
    /// (which the books may still refuse: funds, accounts, expiry). A known id with the
    /// same body: the hold as it is. A known id with another body: refused.
    pub fn decide_hold_create(
        &self,
        new: &NewHold,
        now_ms: u64,
    ) -> Result<HoldDecision, BooksError> {
        match self.holds.get(&new.id) {
            Some(hold) if hold.body() == *new => Ok(HoldDecision::Answer(*hold)),
            Some(_) => Err(BooksError::HoldConflict(new.id)),
            None => Ok(HoldDecision::Write(LedgerRecord::HoldCreated {
                hold: *new,
                at_ms: now_ms,
            })),
        }
    }

    /// What a post of `amount` (`None`: all of it) at `now_ms` should do.
    pub fn decide_hold_post(
        &self,
        id: HoldId,
        amount: Option<Amount>,
        now_ms: u64,
    ) -> Result<HoldDecision, BooksError> {
        let hold = self.hold(id).ok_or(BooksError::UnknownHold(id))?;
        Ok(match Self::resolution_due(hold, now_ms) {
            Some(decision) => decision,
            None => HoldDecision::Write(LedgerRecord::HoldPosted {
                id,
                amount: amount.unwrap_or(hold.amount),
                at_ms: now_ms,
            }),
        })
    }

    /// What a void at `now_ms` should do.
    pub fn decide_hold_void(&self, id: HoldId, now_ms: u64) -> Result<HoldDecision, BooksError> {
        let hold = self.hold(id).ok_or(BooksError::UnknownHold(id))?;
        Ok(
            Self::resolution_due(hold, now_ms).unwrap_or(HoldDecision::Write(
                LedgerRecord::HoldVoided { id, at_ms: now_ms },
            )),
        )
    }

    /// The answer for a hold already resolved, or its expiry if it fell due; `None` if it
    /// is open and may still be posted or voided.
    fn resolution_due(hold: &Hold, now_ms: u64) -> Option<HoldDecision> {
        if !hold.state.is_open() {
            return Some(HoldDecision::Answer(*hold));
        }
        (now_ms >= hold.expires_at_ms).then_some(HoldDecision::Expire(LedgerRecord::HoldExpired {
            id: hold.id,
            at_ms: now_ms,
        }))
    }

    /// A `HoldCreated` record: `amount` held on the debit account.
    pub(super) fn apply_hold_created(
        &mut self,
        new: &NewHold,
        at_ms: u64,
    ) -> Result<(), BooksError> {
        self.check_amount(new.amount)?;
        if self.holds.contains_key(&new.id) {
            return Err(BooksError::HoldExists(new.id));
        }
        if new.expires_at_ms <= at_ms {
            return Err(BooksError::HoldExpiryNotAfterCreation {
                id: new.id,
                expires_at_ms: new.expires_at_ms,
                at_ms,
            });
        }
        if new.debit == new.credit {
            return Err(BooksError::SameAccount(new.debit));
        }
        if !matches!(
            new.debit,
            AccountId::Customer { .. } | AccountId::Parent { .. }
        ) {
            return Err(BooksError::NotHoldable(new.debit));
        }
        // The credit must be an account of this shard that can take the amount; the debit
        // must have it available (a slice: above its floor).
        self.leg_after(new.credit, new.amount.value(), new.amount)?;
        self.check_hold(new.debit, new.amount)?;
        self.adjust_hold(new.debit, new.amount.value());
        let hold = Hold {
            id: new.id,
            debit: new.debit,
            credit: new.credit,
            amount: new.amount,
            created_at_ms: at_ms,
            expires_at_ms: new.expires_at_ms,
            state: HoldState::Open,
        };
        self.index_hold(&hold);
        self.holds.insert(hold.id, hold);
        Ok(())
    }

    /// The open hold `id`, if a post or void at `at_ms` may resolve it.
    fn open_hold(&self, id: HoldId, at_ms: u64) -> Result<Hold, BooksError> {
        let hold = *self.hold(id).ok_or(BooksError::UnknownHold(id))?;
        if !hold.state.is_open() {
            return Err(BooksError::HoldResolved {
                id,
                state: hold.state,
            });
        }
        if at_ms >= hold.expires_at_ms {
            return Err(BooksError::HoldDue {
                id,
                expires_at_ms: hold.expires_at_ms,
                at_ms,
            });
        }
        Ok(hold)
    }

    /// A `HoldPosted` record: `amount` moves from the debit to the credit account, and the
    /// whole hold is released.
    pub(super) fn apply_hold_posted(
        &mut self,
        id: HoldId,
        amount: Amount,
        at_ms: u64,
    ) -> Result<(), BooksError> {
        let hold = self.open_hold(id, at_ms)?;
        self.check_amount(amount)?;
        if amount > hold.amount {
            return Err(BooksError::PostExceedsHold {
                id,
                held: hold.amount,
                amount,
            });
        }
        let debit_after = self.leg_after_releasing(hold.debit, hold.amount.value(), amount)?;
        let credit_after = self.leg_after(hold.credit, amount.value(), amount)?;
        self.adjust_hold(hold.debit, -hold.amount.value());
        self.set(hold.debit, debit_after);
        self.set(hold.credit, credit_after);
        self.resolve_hold(hold, HoldState::Posted { amount, at_ms });
        Ok(())
    }

    /// A `HoldVoided` record: the hold is released and nothing moves.
    pub(super) fn apply_hold_voided(&mut self, id: HoldId, at_ms: u64) -> Result<(), BooksError> {
        let hold = self.open_hold(id, at_ms)?;
        self.adjust_hold(hold.debit, -hold.amount.value());
        self.resolve_hold(hold, HoldState::Voided { at_ms });
        Ok(())
    }

    /// A `HoldExpired` record: the hold fell due at `at_ms` (engine clock) and is released.
    pub(super) fn apply_hold_expired(&mut self, id: HoldId, at_ms: u64) -> Result<(), BooksError> {
        let hold = *self.hold(id).ok_or(BooksError::UnknownHold(id))?;
        if !hold.state.is_open() {
            return Err(BooksError::HoldResolved {
                id,
                state: hold.state,
            });
        }
        if at_ms < hold.expires_at_ms {
            return Err(BooksError::HoldNotDue {
                id,
                expires_at_ms: hold.expires_at_ms,
                at_ms,
            });
        }
        self.adjust_hold(hold.debit, -hold.amount.value());
        self.resolve_hold(hold, HoldState::Expired { at_ms });
        Ok(())
    }

    fn resolve_hold(&mut self, hold: Hold, state: HoldState) {
        self.holds_by_expiry.remove(&(hold.expires_at_ms, hold.id));
        self.holds.get_mut(&hold.id).expect("checked").state = state;
    }

    /// Adds `hold` to the derived indexes (by debit account; by expiry while open).
    pub(super) fn index_hold(&mut self, hold: &Hold) {
        self.holds_by_debit.insert((hold.debit, hold.id));
        if hold.state.is_open() {
            self.holds_by_expiry.insert((hold.expires_at_ms, hold.id));
        }
    }
}

#[cfg(test)]
mod tests;
