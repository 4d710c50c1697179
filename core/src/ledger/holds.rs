//! Two-phase holds: a pending debit of one account toward another, with an expiry on the
//! engine's clock, resolved exactly once: posted (in full, or in part, which releases the
//! rest), voided, or expired. The anchors are TigerBeetle's pending transfers, Blnk's
//! inflight transactions and Stripe's manual capture (`../shared/ANCHORS.md`, item 2).
//!
//! A hold adds its amount to its debit account's `held`, and only holds do: a client's
//! (this file's records), and the saga's own, an open entry's and a request's reservation
//! (`saga_holds.rs`), are all [`Hold`]s keyed by [`HoldKey`] (clients' in the snapshotted
//! table with indexes by debit and expiry; the saga's open ones in a plain map beside
//! it), so an account's `held` is the sum of its open holds and
//! `available = balance - held` counts every kind. Every check that reads `held`
//! (postings, entries, reservations, the balance answer) sees them all. Only accounts with
//! a `held` figure can be held: a customer's account and a parent account's slice.
//!
//! Every kind is created, released and posted by the same functions here
//! ([`ShardBooks::insert_hold`], [`ShardBooks::release_hold`], [`ShardBooks::post_legs`]):
//! a client's hold by its own records, a saga hold by the saga's records that already were
//! its durable operations (see `saga_holds.rs`).
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

use rust_decimal::Decimal;

use super::{BooksError, EntryId, ShardBooks};
use crate::ids::{AccountId, CustomerId, RequestNo};
use crate::money::Amount;
use crate::record::LedgerRecord;
pub use crate::record::{HoldId, NewHold};

/// The smallest hold id, where a range over one account's holds starts.
const FIRST_HOLD_ID: HoldId = HoldId {
    owner: match CustomerId::new_const(1) {
        Some(c) => c,
        None => panic!("1 is a customer number"),
    },
    number: 0,
};

/// A hold's key in the books' table: whose hold it is. A client's is its [`HoldId`]; the
/// saga's are named by what holds, so they never meet a number a client chose: an open
/// entry (its [`EntryId`]), and a request's reservation on one account. Ordered by kind,
/// then by id, as an account's holds are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HoldKey {
    Client(HoldId),
    /// An entry that debits a held account and is not covered by a reservation, while
    /// REQUESTED or UNKNOWN.
    Entry(EntryId),
    /// What a request set aside on `account`, while it holds any.
    Reserve {
        customer: CustomerId,
        request_no: RequestNo,
        account: AccountId,
    },
}

impl HoldKey {
    /// The first key of any kind, where a range over one account's holds starts.
    const FIRST: HoldKey = HoldKey::Client(FIRST_HOLD_ID);

    /// Whether the key is a client's (which keeps its resolved state and may expire).
    pub fn is_client(&self) -> bool {
        matches!(self, HoldKey::Client(_))
    }
}

impl fmt::Display for HoldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldKey::Client(id) => id.fmt(f),
            HoldKey::Entry(entry) => write!(f, "hold[{entry}]"),
            HoldKey::Reserve {
                customer,
                request_no,
                account,
            } => write!(f, "hold[{customer}/{request_no} on {account}]"),
        }
    }
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

/// A hold as the books keep it (a client's also in the snapshot, from snapshot version
/// 3). A saga hold (see [`HoldKey`]) is a `Hold` too, open while it is in the table: its
/// `id` is its customer's (the house's for a sweep) with a number from 2^63 up, which no
/// client check relies on (`id` is for display there; the key tells holds apart); it never
/// expires (`expires_at_ms` is `u64::MAX`); a reservation's `credit` is the account it
/// holds, since each part taken from it goes where the entry that takes it says.
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
    /// A client's hold.
    pub fn hold(&self, id: HoldId) -> Option<&Hold> {
        self.holds.get(&HoldKey::Client(id))
    }

    /// Any hold by its key: a client's, or an open saga hold.
    pub fn hold_by_key(&self, key: &HoldKey) -> Option<&Hold> {
        if key.is_client() {
            self.holds.get(key)
        } else {
            self.saga_holds.get(key)
        }
    }

    /// Every hold on the books (clients' open and resolved, the saga's open ones), in no
    /// particular order.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values().chain(self.saga_holds.values())
    }

    /// Every hold on the books with its key, in no particular order.
    pub fn holds_keyed(&self) -> impl Iterator<Item = (&HoldKey, &Hold)> {
        self.holds.iter().chain(self.saga_holds.iter())
    }

    /// The holds that debit `account` (clients' open and resolved, then the saga's open
    /// ones), by key.
    pub fn holds_of(&self, account: AccountId) -> impl Iterator<Item = &Hold> + '_ {
        self.holds_of_keyed(account).map(|(_, hold)| hold)
    }

    /// [`ShardBooks::holds_of`] with each hold's key. The clients' come from their index
    /// by debit; the saga's are found by a scan of the open ones and sorted (they are
    /// few, and listed off the hot path).
    pub fn holds_of_keyed(
        &self,
        account: AccountId,
    ) -> impl Iterator<Item = (HoldKey, &Hold)> + '_ {
        let mut saga: Vec<(HoldKey, &Hold)> = self
            .saga_holds
            .iter()
            .filter(|(_, hold)| hold.debit == account)
            .map(|(key, hold)| (*key, hold))
            .collect();
        saga.sort_unstable_by_key(|(key, _)| *key);
        self.holds_by_debit
            .range((account, HoldKey::FIRST)..)
            .take_while(move |(a, _)| *a == account)
            .map(|(_, key)| (*key, &self.holds[key]))
            .chain(saga)
    }

    /// How many holds are open, of every kind.
    pub fn open_hold_count(&self) -> usize {
        self.holds_by_expiry.len() + self.saga_holds.len()
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
        match self.hold(new.id) {
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
        let key = HoldKey::Client(new.id);
        if self.holds.contains_key(&key) {
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
        if !holdable(new.debit) {
            return Err(BooksError::NotHoldable(new.debit));
        }
        // The credit must be an account of this shard that can take the amount; the debit
        // must have it available (a slice: above its floor).
        self.leg_after(new.credit, new.amount.value(), new.amount)?;
        self.check_hold(new.debit, new.amount)?;
        self.insert_hold(
            key,
            Hold {
                id: new.id,
                debit: new.debit,
                credit: new.credit,
                amount: new.amount,
                created_at_ms: at_ms,
                expires_at_ms: new.expires_at_ms,
                state: HoldState::Open,
            },
        );
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
        let legs = self.post_legs(hold.debit, hold.amount.value(), hold.credit, amount)?;
        self.release_hold(
            HoldKey::Client(id),
            hold.amount.value(),
            HoldState::Posted { amount, at_ms },
        );
        self.book_legs(hold.debit, hold.credit, legs);
        Ok(())
    }

    /// A `HoldVoided` record: the hold is released and nothing moves.
    pub(super) fn apply_hold_voided(&mut self, id: HoldId, at_ms: u64) -> Result<(), BooksError> {
        let hold = self.open_hold(id, at_ms)?;
        self.release_hold(
            HoldKey::Client(id),
            hold.amount.value(),
            HoldState::Voided { at_ms },
        );
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
        self.release_hold(
            HoldKey::Client(id),
            hold.amount.value(),
            HoldState::Expired { at_ms },
        );
        Ok(())
    }

    // The primitive's operations, shared by every kind of hold. The callers check first;
    // these only change the books.

    /// Puts `hold`, open, in the table under `key`: its amount joins its debit's `held`.
    pub(super) fn insert_hold(&mut self, key: HoldKey, hold: Hold) {
        debug_assert!(hold.state.is_open() && self.hold_by_key(&key).is_none());
        self.adjust_hold(hold.debit, hold.amount.value());
        if key.is_client() {
            self.index_hold(key, &hold);
            self.holds.insert(key, hold);
        } else {
            self.saga_holds.insert(key, hold);
        }
    }

    /// Holds `amount` more under the open hold `key` (a reservation that grows).
    /// `false` (nothing changed) when there is no such hold.
    pub(super) fn grow_hold(&mut self, key: &HoldKey, amount: Amount) -> bool {
        debug_assert!(!key.is_client());
        let Some(hold) = self.saga_holds.get_mut(key) else {
            return false;
        };
        debug_assert!(hold.state.is_open());
        hold.amount = hold
            .amount
            .checked_add(amount)
            .expect("within the books' range");
        let debit = hold.debit;
        self.adjust_hold(debit, amount.value());
        true
    }

    /// The values of the two legs of posting `amount` from an open hold on `debit` to
    /// `credit`, with `release` of the hold given back first: what a post checks before
    /// it changes anything (only overflow can fail the debit's leg of a held amount; a
    /// debit with nothing released must have the amount available).
    pub(super) fn post_legs(
        &self,
        debit: AccountId,
        release: Decimal,
        credit: AccountId,
        amount: Amount,
    ) -> Result<(Decimal, Decimal), BooksError> {
        let debit_after = self.leg_after_releasing(debit, release, amount)?;
        let credit_after = self.leg_after(credit, amount.value(), amount)?;
        Ok((debit_after, credit_after))
    }

    /// Books the legs [`ShardBooks::post_legs`] checked.
    pub(super) fn book_legs(
        &mut self,
        debit: AccountId,
        credit: AccountId,
        (debit_after, credit_after): (Decimal, Decimal),
    ) {
        self.set(debit, debit_after);
        self.set(credit, credit_after);
    }

    /// Gives back `amount` of the open hold `key` from its debit's `held`. A hold with
    /// nothing left resolves as `state` says: a client's keeps its state (and leaves the
    /// expiry index), a saga hold leaves the table (its history is its entry's or its
    /// request's). What is left of a saga hold taken in part stays open; a client's hold
    /// is only ever released whole (a partial post releases the rest).
    ///
    /// `false` (nothing changed) when there is no such hold. A saga hold released whole,
    /// the common case, is read and removed: two lookups, and no copy of its segment
    /// unless a snapshot's cut shares it.
    pub(super) fn release_hold(&mut self, key: HoldKey, amount: Decimal, state: HoldState) -> bool {
        if !key.is_client() {
            let Some(hold) = self.saga_holds.get_mut(&key) else {
                return false;
            };
            let debit = hold.debit;
            let left = hold.amount.value() - amount;
            debug_assert!(left >= Decimal::ZERO, "{key} released beyond its amount");
            if left.is_zero() {
                self.saga_holds.remove(&key);
            } else {
                hold.amount = Amount::new(hold.amount.currency(), left).expect("positive");
            }
            self.adjust_hold(debit, -amount);
            return true;
        }
        let Some(hold) = self.holds.get_mut(&key) else {
            return false;
        };
        debug_assert!(hold.state.is_open());
        let debit = hold.debit;
        let left = hold.amount.value() - amount;
        debug_assert!(left >= Decimal::ZERO, "{key} released beyond its amount");
        // A client's hold is only ever released whole (a partial post releases the rest).
        debug_assert!(left.is_zero());
        hold.state = state;
        let expires_at_ms = hold.expires_at_ms;
        if let HoldKey::Client(id) = key {
            self.holds_by_expiry.remove(&(expires_at_ms, id));
        }
        self.adjust_hold(debit, -amount);
        true
    }

    /// Adds a client's `hold` to the derived indexes (by debit account; by expiry while
    /// open). The saga's holds have none (see `saga_holds` in `mod.rs`).
    pub(super) fn index_hold(&mut self, key: HoldKey, hold: &Hold) {
        self.holds_by_debit.insert((hold.debit, key));
        if let HoldKey::Client(id) = key {
            if hold.state.is_open() {
                self.holds_by_expiry.insert((hold.expires_at_ms, id));
            }
        }
    }
}

/// Whether `account` has a `held` figure: a customer's account, a parent slice, a
/// merchant's slice or a pocket.
pub(super) fn holdable(account: AccountId) -> bool {
    matches!(
        account,
        AccountId::Customer { .. }
            | AccountId::Parent { .. }
            | AccountId::Merchant { .. }
            | AccountId::Pocket { .. }
            | AccountId::Suspense
    )
}

#[cfg(test)]
mod tests;
