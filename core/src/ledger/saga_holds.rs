//! The saga's holds as two-phase holds ([`HoldKey::Entry`], [`HoldKey::Reserve`]): the
//! same [`Hold`]s as a client's (kept in a map of their own: see `saga_holds` in
//! `mod.rs`), created, posted and released by the
//! same functions (`holds.rs`), so an account's `held` is the sum of its open holds of
//! every kind and [`ShardBooks::holds_of`] lists them all.
//!
//! No record is written for them: the saga's records already are their durable
//! operations, and applying one does to the table what it did to `held` before these were
//! holds (the figures are the same for every sequence of records, so old logs replay
//! unchanged):
//!
//! - `EntryRequested` of an entry that debits a held account and is not covered by a
//!   reservation creates the entry's hold; its `EntryEvent` to SUCCESS posts it in full
//!   (the step's posting, in the same record); to FAIL or FAIL_TRY_AGAIN voids it; a retry
//!   (back to REQUESTED) creates it again, under the same key.
//! - `RequestAccepted` with reservations creates one hold per account set aside on; the
//!   SUCCESS of a withdrawal or a deduction grows the hold on its credit (or creates it);
//!   a covered entry's SUCCESS posts its amount from the hold in part and its FAIL releases
//!   that part, the rest staying held; a settled request's holds are voided whole.
//!
//! A saga hold is in the table only while open (a resolved one is removed: its history is
//! its entry's state and its request's record), never expires, and is not in the
//! snapshot: books loaded from one rebuild them from the entries and the requests there,
//! which say exactly which are open and for how much.

use rust_decimal::Decimal;

use super::holds::holdable;
use super::{EntryId, Hold, HoldId, HoldKey, HoldState, ShardBooks};
use crate::ids::{AccountId, CustomerId, RequestNo};
use crate::money::Amount;
use crate::request_log::EntryState;

/// Saga holds' ids (for display: the key tells them apart) are their customer's with a
/// number from 2^63 up: an entry's `2^63 + its sequence`, a reservation's
/// `2^63 + 2^62 + its request's acceptance time`.
const SAGA_NUMBERS: u64 = 1 << 63;
const RESERVE_NUMBERS: u64 = SAGA_NUMBERS | 1 << 62;

/// The key of what a request sets aside on `account`.
fn reserve_key(request: &(CustomerId, RequestNo), account: AccountId) -> HoldKey {
    HoldKey::Reserve {
        customer: request.0,
        request_no: request.1,
        account,
    }
}

/// An open entry's hold.
fn entry_hold(
    id: EntryId,
    customer: CustomerId,
    debit: AccountId,
    credit: AccountId,
    amount: Amount,
    at_ms: u64,
) -> Hold {
    Hold {
        id: HoldId::new(customer, SAGA_NUMBERS | id.seq()),
        debit,
        credit,
        amount,
        created_at_ms: at_ms,
        expires_at_ms: u64::MAX,
        state: HoldState::Open,
    }
}

/// A request's reservation on `account`; its credit is the account itself (each part
/// taken from it goes where the entry taking it says).
fn reserve_hold(customer: CustomerId, account: AccountId, amount: Amount, at_ms: u64) -> Hold {
    Hold {
        id: HoldId::new(customer, RESERVE_NUMBERS | at_ms),
        debit: account,
        credit: account,
        amount,
        created_at_ms: at_ms,
        expires_at_ms: u64::MAX,
        state: HoldState::Open,
    }
}

impl ShardBooks {
    /// Holds an entry's amount on its debit (the caller has checked it can be held). An
    /// external debit takes no hold.
    pub(super) fn hold_entry(
        &mut self,
        id: EntryId,
        customer: CustomerId,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        at_ms: u64,
    ) {
        if holdable(debit) {
            let hold = entry_hold(id, customer, debit, credit, amount, at_ms);
            self.insert_hold(HoldKey::Entry(id), hold);
        }
    }

    /// Releases an entry's hold whole: posted (the caller books the posting's legs) or
    /// voided, as `state` says.
    pub(super) fn release_entry_hold(&mut self, id: EntryId, amount: Amount, state: HoldState) {
        let key = HoldKey::Entry(id);
        if !self.release_hold(key, amount.value(), state) {
            debug_assert!(
                !holdable(self.entries[&id].debit),
                "{key} is not on the books"
            );
        }
    }

    /// Sets `amount` aside on `account` for a request (the caller has checked the account
    /// can hold it): its reservation's hold grows, or is created. An external account
    /// takes no hold.
    pub(super) fn hold_reserve(
        &mut self,
        request: &(CustomerId, RequestNo),
        account: AccountId,
        amount: Amount,
        accepted_at_ms: u64,
    ) {
        if !holdable(account) {
            return;
        }
        let key = reserve_key(request, account);
        if !self.grow_hold(&key, amount) {
            let hold = reserve_hold(request.0, account, amount, accepted_at_ms);
            self.insert_hold(key, hold);
        }
    }

    /// Gives back `amount` of what a request set aside on `account`: taken by an entry it
    /// covers (posted, or released when the entry fails) or no longer needed (voided).
    pub(super) fn release_reserve_hold(
        &mut self,
        request: &(CustomerId, RequestNo),
        account: AccountId,
        amount: Decimal,
        state: HoldState,
    ) {
        let key = reserve_key(request, account);
        if !self.release_hold(key, amount, state) {
            debug_assert!(!holdable(account), "{key} is not on the books");
            self.adjust_hold(account, -amount);
        }
    }

    /// Puts the saga's open holds back in the table of books loaded from a snapshot: one
    /// per account a request still sets aside on, one per entry that holds its own amount.
    /// The accounts' `held` figures in the snapshot already count them.
    pub(super) fn rebuild_saga_holds(&mut self) {
        let mut rebuilt = Vec::new();
        for (request, state) in self.requests.iter() {
            for (account, amount) in state.reserved.iter().flatten() {
                if holdable(*account) {
                    let hold = reserve_hold(request.0, *account, *amount, state.accepted.at_ms);
                    rebuilt.push((reserve_key(request, *account), hold));
                }
            }
        }
        for (_, id) in self.requested.iter().chain(self.unknown.iter()) {
            let entry = &self.entries[id];
            debug_assert!(matches!(
                entry.state,
                EntryState::Requested | EntryState::Unknown
            ));
            if !entry.covered && holdable(entry.debit) {
                let hold = entry_hold(
                    entry.id,
                    entry.customer,
                    entry.debit,
                    entry.credit,
                    entry.amount,
                    entry.requested_at_ms,
                );
                rebuilt.push((HoldKey::Entry(entry.id), hold));
            }
        }
        self.saga_holds.extend(rebuilt);
    }
}
