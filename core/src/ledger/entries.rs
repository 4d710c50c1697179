//! Request-log entries as the books hold them ([`EntryId`], [`LogEntry`]): one per outside
//! call, holding its amount while its outcome is open (a hold of `holds.rs`'s kind, see
//! `saga_holds.rs`); the indexes of open entries by state, and the two records that create
//! an entry and move it on.

use rust_decimal::Decimal;

use super::{holds, BooksError, EntryId, HoldState, LogEntry, ShardBooks};
use crate::ids::{AccountId, CustomerId, RequestNo};
use crate::instruments;
use crate::money::Amount;
use crate::request_log::{transition, EntryState, Event, Step};

impl ShardBooks {
    pub fn entry(&self, id: EntryId) -> Option<&LogEntry> {
        self.entries.get(&id)
    }

    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.values()
    }

    /// The id the next entry of this shard gets.
    pub fn next_entry_id(&self) -> EntryId {
        EntryId::new(self.shard, self.next_entry_seq)
    }

    /// Entries whose call was made and not yet answered (REQUESTED), oldest request
    /// first: `(requested_at_ms, id)`.
    pub fn requested_entries(&self) -> impl Iterator<Item = (u64, EntryId)> + '_ {
        self.requested.iter().copied()
    }

    /// The entries numbered `from_seq .. from_seq + count` that are on the books, and the
    /// number the next page starts at (`None` past the last entry made).
    pub fn entries_page(&self, from_seq: u64, count: u64) -> (Vec<LogEntry>, Option<u64>) {
        let from_seq = from_seq.max(1);
        let end = from_seq.saturating_add(count).min(self.next_entry_seq);
        let entries = (from_seq..end)
            .filter_map(|seq| self.entries.get(&EntryId::new(self.shard, seq)).copied())
            .collect();
        (entries, (end < self.next_entry_seq).then_some(end))
    }

    /// UNKNOWN entries, oldest request first: `(requested_at_ms, id)`.
    pub fn unknown_entries(&self) -> impl Iterator<Item = (u64, EntryId)> + '_ {
        self.unknown.iter().copied()
    }

    /// FAIL_TRY_AGAIN entries, least recently changed first: `(updated_at_ms, id)`.
    pub fn try_again_entries(&self) -> impl Iterator<Item = (u64, EntryId)> + '_ {
        self.try_again.iter().copied()
    }

    /// The amounts of the open entries (requested, unknown, to try again) crediting
    /// `account`: money on its way to it (D-5.6's pending inbound credits of a pocket).
    /// Walks every open entry of the shard: for the rare request that needs it (a
    /// prepaid card's charge), not for the hot path.
    pub fn open_credits_to(&self, account: crate::ids::AccountId) -> rust_decimal::Decimal {
        self.requested
            .iter()
            .chain(self.unknown.iter())
            .chain(self.try_again.iter())
            .filter_map(|(_, id)| self.entries.get(id))
            .filter(|e| e.credit == account)
            .map(|e| e.amount.value())
            .sum()
    }

    /// Counts of open entries: (REQUESTED, UNKNOWN, FAIL_TRY_AGAIN).
    pub fn open_entry_counts(&self) -> (usize, usize, usize) {
        (
            self.requested.len(),
            self.unknown.len(),
            self.try_again.len(),
        )
    }

    pub(super) fn index_entry(&mut self, entry: &LogEntry, add: bool) {
        let (set, key) = match entry.state {
            EntryState::Requested => (&mut self.requested, (entry.requested_at_ms, entry.id)),
            EntryState::Unknown => (&mut self.unknown, (entry.requested_at_ms, entry.id)),
            EntryState::FailTryAgain => (&mut self.try_again, (entry.updated_at_ms, entry.id)),
            EntryState::Success | EntryState::Fail => return,
        };
        if add {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_entry_requested(
        &mut self,
        entry: EntryId,
        customer: CustomerId,
        request_no: RequestNo,
        step: Step,
        amount: Amount,
        debit: AccountId,
        credit: AccountId,
        at_ms: u64,
    ) -> Result<(), BooksError> {
        self.check_amount(amount)?;
        if entry.shard() != self.shard || self.entries.contains_key(&entry) {
            return Err(BooksError::EntryExists(entry));
        }
        if !self.requests.contains_key(&(customer, request_no)) {
            return Err(BooksError::UnknownRequest {
                customer,
                request_no,
            });
        }
        if debit == credit {
            return Err(BooksError::SameAccount(debit));
        }
        // Both legs must be accounts of this shard, so that SUCCESS can book them.
        self.leg_after(credit, amount.value(), amount)?;
        // A request that set money aside on the debit account pays this step from it; any
        // other entry holds its own amount.
        let key = (customer, request_no);
        let covered = self.reserved_on(&key, debit) >= amount.value();
        if !covered {
            self.check_hold(debit, amount)?;
            self.hold_entry(entry, customer, debit, credit, amount, at_ms);
        }
        let log_entry = LogEntry {
            id: entry,
            customer,
            request_no,
            step,
            state: EntryState::Requested,
            attempt: 1,
            failures: 0,
            amount,
            debit,
            credit,
            requested_at_ms: at_ms,
            updated_at_ms: at_ms,
            covered,
        };
        self.index_entry(&log_entry, true);
        self.entries.insert(entry, log_entry);
        self.requests
            .get_mut(&(customer, request_no))
            .expect("checked")
            .entries
            .push(entry);
        self.next_entry_seq = self.next_entry_seq.max(entry.seq() + 1);
        Ok(())
    }

    pub(super) fn apply_entry_event(
        &mut self,
        id: EntryId,
        event: Event,
        at_ms: u64,
    ) -> Result<(), BooksError> {
        let entry = *self.entries.get(&id).ok_or(BooksError::UnknownEntry(id))?;
        let t = transition(entry.step, entry.state, event)?;
        let key = (entry.customer, entry.request_no);
        // A covered entry's amount is held by its request's reservation, for as long as the
        // entry is not final; any other entry holds while REQUESTED or UNKNOWN.
        let (held_before, held_after) = if entry.covered {
            (!entry.state.is_final(), !t.to.is_final())
        } else {
            (holds(entry.state), holds(t.to))
        };
        let amount = entry.amount;
        let request = self.requests.get(&key);
        let reserving = request.is_some_and(|r| r.reserved.is_some());
        let reserve_credit = reserving
            && t.to == EntryState::Success
            && request.is_some_and(|r| {
                instruments::of(r.accepted.kind).sets_aside_for_compensation(entry.step)
            });
        // Validate everything before changing anything.
        let mut posting = None;
        if t.to == EntryState::Success {
            // The hold (if any) is released as the posting debits the same amount.
            let release = if held_before {
                amount.value()
            } else {
                Decimal::ZERO
            };
            posting = Some(self.post_legs(entry.debit, release, entry.credit, amount)?);
        } else if !held_before && held_after {
            self.check_hold(entry.debit, amount)?;
        }
        self.index_entry(&entry, false);
        if held_before && !held_after {
            // SUCCESS posts the entry's hold in full, or its part of the reservation that
            // covers it; FAIL (or FAIL_TRY_AGAIN, for an entry not covered) releases it.
            let state = match t.to {
                EntryState::Success => HoldState::Posted { amount, at_ms },
                _ => HoldState::Voided { at_ms },
            };
            if entry.covered {
                self.release_reserve(&key, entry.debit, amount.value(), state);
            } else {
                self.release_entry_hold(id, amount, state);
            }
        }
        if !held_before && held_after {
            self.hold_entry(id, entry.customer, entry.debit, entry.credit, amount, at_ms);
        }
        if let Some(legs) = posting {
            let pocket_before = match (entry.debit, entry.credit) {
                (AccountId::Pocket { card, customer }, _)
                | (_, AccountId::Pocket { card, customer }) => {
                    self.card(customer, card).map(|c| c.pocket.balance)
                }
                _ => None,
            };
            self.book_legs(entry.debit, entry.credit, legs);
            if let Some(before) = pocket_before {
                self.note_pocket_movement(&entry, at_ms, before);
            }
            self.note_merchant_movement(&entry, at_ms);
        }
        // The money a withdrawal or a deduction brought in stays set aside for the refund
        // or recovery that may have to give it back (it is the same money: the hold can
        // always be taken).
        if reserve_credit {
            self.add_reserve(&key, entry.credit, amount);
        }
        let updated = self.entries.get_mut(&id).expect("checked");
        if entry.state == EntryState::FailTryAgain && t.to == EntryState::Requested {
            updated.attempt += 1;
            updated.requested_at_ms = at_ms;
        }
        if t.to == EntryState::FailTryAgain {
            updated.failures += 1;
        }
        updated.state = t.to;
        updated.updated_at_ms = at_ms;
        let updated = *updated;
        self.index_entry(&updated, true);
        if reserving && t.to.is_final() {
            self.release_if_settled(&key);
        }
        if t.to.is_final() {
            self.note_if_settled(&key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::fixtures::{krw, one_customer_books, FIN};
    use crate::record::LedgerRecord;

    #[test]
    fn an_open_entry_holds_its_amount_until_it_is_final() {
        use crate::ledger::{Accepted, EntryId, RequestKind};
        use crate::request::RequestDate;
        use crate::request_log::{Event, Step};
        let (mut books, c, mut next) = one_customer_books();
        next(
            &mut books,
            LedgerRecord::Posted {
                debit: FIN,
                credit: AccountId::customer(c),
                amount: krw(1_000),
            },
        )
        .unwrap();
        let request_no = RequestNo::new("R-1").unwrap();
        let accepted = Accepted {
            customer: c,
            request_no,
            request_date: RequestDate::from_ymd(2026, 11, 21).unwrap(),
            kind: RequestKind::Remit,
            amount: krw(700),
            payee: None,
            path: None,
            deficit: None,
            at_ms: 1,
        };
        next(
            &mut books,
            LedgerRecord::RequestAccepted {
                accepted,
                reserves: None,
                named: crate::saga::Named::default(),
            },
        )
        .unwrap();
        let x1 = |entry: u64, won: i64| LedgerRecord::EntryRequested {
            entry: EntryId::new(0, entry),
            customer: c,
            request_no,
            step: Step::RemitDeduction,
            amount: krw(won),
            debit: AccountId::customer(c),
            credit: FIN,
            at_ms: 2,
        };
        next(&mut books, x1(1, 700)).unwrap();
        assert_eq!(books.customer(c).unwrap().held, Decimal::from(700));
        // A second deduction beyond what is available is refused while the first is open.
        assert!(matches!(
            next(&mut books, x1(2, 301)),
            Err(BooksError::InsufficientFunds { .. })
        ));
        let event = |e: u64, event| LedgerRecord::EntryEvent {
            entry: EntryId::new(0, e),
            event,
            at_ms: 3,
        };
        // A timeout leaves the outcome open: the hold stays.
        next(&mut books, event(1, Event::TimedOut)).unwrap();
        assert_eq!(books.customer(c).unwrap().held, Decimal::from(700));
        assert_eq!(books.unknown_entries().count(), 1);
        // Confirmed done: the posting is booked and the hold released in the same record.
        next(&mut books, event(1, Event::ConfirmedDone)).unwrap();
        let entry = books.customer(c).unwrap();
        assert_eq!(
            (entry.balance, entry.held),
            (Decimal::from(300), Decimal::ZERO)
        );
        assert!(books.sum().unwrap().is_zero());
        // A final entry takes no more events.
        assert!(matches!(
            next(&mut books, event(1, Event::Failed)),
            Err(BooksError::IllegalTransition(_))
        ));
    }
}
