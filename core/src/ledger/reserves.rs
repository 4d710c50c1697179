//! Money a request sets aside on parent slices before its first outside call
//! ([`Reserve`]), held until the steps that use it are final or the request needs it no
//! more. Each account a request sets aside on is one hold of `holds.rs`'s kind (see
//! `saga_holds.rs`), grown and taken from as the reservation is.

use rust_decimal::Decimal;

use super::{owed_step, BooksError, HoldState, Reserve, ShardBooks};
use crate::ids::{AccountId, CustomerId, RequestNo};
use crate::money::Amount;

impl ShardBooks {
    /// What a request would set aside, summed by account, if every account can hold it in
    /// full; else why not (a slice below its floor, typically). Changes nothing.
    pub fn check_reserves(&self, reserves: &[Reserve]) -> Result<Vec<Reserve>, BooksError> {
        let mut reserved: Vec<Reserve> = Vec::new();
        for (account, amount) in reserves {
            self.check_amount(*amount)?;
            match reserved.iter_mut().find(|(a, _)| a == account) {
                Some((_, sum)) => *sum = sum.checked_add(*amount)?,
                None => reserved.push((*account, *amount)),
            }
        }
        for (account, amount) in &reserved {
            if !matches!(account, AccountId::Parent { .. }) {
                return Err(BooksError::NotReservable(*account));
            }
            self.check_hold(*account, *amount)?;
        }
        Ok(reserved)
    }

    /// How much a request has set aside on `account`.
    pub(super) fn reserved_on(&self, key: &(CustomerId, RequestNo), account: AccountId) -> Decimal {
        self.requests
            .get(key)
            .and_then(|r| r.reserved.as_ref())
            .and_then(|reserved| reserved.iter().find(|(a, _)| *a == account))
            .map_or(Decimal::ZERO, |(_, amount)| amount.value())
    }

    /// Sets `amount` more aside on `account` for a request (the account's hold grows too).
    /// The caller has checked the account can hold it.
    pub(super) fn add_reserve(
        &mut self,
        key: &(CustomerId, RequestNo),
        account: AccountId,
        amount: Amount,
    ) {
        let Some(request) = self.requests.get_mut(key) else {
            return;
        };
        let accepted_at_ms = request.accepted.at_ms;
        let Some(reserved) = request.reserved.as_mut() else {
            return;
        };
        match reserved.iter_mut().find(|(a, _)| *a == account) {
            Some((_, sum)) => *sum = sum.checked_add(amount).expect("within the books' range"),
            None => reserved.push((account, amount)),
        }
        self.hold_reserve(key, account, amount, accepted_at_ms);
    }

    /// Gives back `amount` of what a request set aside on `account` (its hold shrinks):
    /// posted by the entry it covers, or released, as `state` says.
    pub(super) fn release_reserve(
        &mut self,
        key: &(CustomerId, RequestNo),
        account: AccountId,
        amount: Decimal,
        state: HoldState,
    ) {
        let Some(reserved) = self.requests.get_mut(key).and_then(|r| r.reserved.as_mut()) else {
            return;
        };
        let Some(at) = reserved.iter().position(|(a, _)| *a == account) else {
            return;
        };
        let left = reserved[at].1.value() - amount;
        debug_assert!(left >= Decimal::ZERO, "a reservation never goes below zero");
        match Amount::new(reserved[at].1.currency(), left) {
            Ok(rest) => reserved[at].1 = rest,
            Err(_) => {
                reserved.swap_remove(at);
            }
        }
        self.release_reserve_hold(key, account, amount, state);
    }

    /// A request that holds a reservation and is settled (every entry final, nothing
    /// owed) needs none of it any more: all of it is given back.
    pub(super) fn release_if_settled(&mut self, key: &(CustomerId, RequestNo)) {
        let Some(request) = self.requests.get(key) else {
            return;
        };
        let Some(reserved) = request.reserved.as_ref().filter(|r| !r.is_empty()) else {
            return;
        };
        let entries = self.request_entries(request);
        let open = entries.iter().any(|e| !e.state.is_final());
        let owed = owed_step(&request.accepted, request.answer.map(|a| a.told), &entries).is_some();
        // A request nobody was told about may still go on (a continuation owed after an
        // answer is written); one with no entry at all has nothing to go on with.
        if open || owed || (request.answer.is_none() && !entries.is_empty()) {
            return;
        }
        let reserved = reserved.clone();
        let at_ms = request.answer.map_or(request.accepted.at_ms, |a| a.at_ms);
        for (account, amount) in reserved {
            self.release_reserve(key, account, amount.value(), HoldState::Voided { at_ms });
        }
    }
}
