//! Money a merchant's slice owes to entries that will be tried again, and the check that
//! keeps it there.
//!
//! An entry not covered by a reservation holds its amount while REQUESTED or UNKNOWN and
//! gives it back when it fails; a merchant's refund (`MERCHANT_REFUND`) that fails with
//! FAIL_TRY_AGAIN is still owed and is tried again until done. Until then the money it
//! will take is free in the slice's `held` figure, and a new debit of the slice could take
//! it and leave the retry refused for good (review finding 4, 2026-12-02). So every debit
//! the engine makes of a merchant's slice leaves what is owed from it:
//!
//! - the payout's pass and a refund's funding count it as held when they read the slice
//!   ([`ShardBooks::owed_debits_from`]);
//! - the live path checks each record that creates a new debit of a slice before applying
//!   it ([`ShardBooks::check_leaves_owed`]), whatever asked for it: an entry not covered,
//!   a transfer of the slice to another shard, a client's hold, a posting.
//!
//! The check is the live path's, not the record's: replay applies what was written, so
//! logs written before the check are read as they were (no format change). A retry of an
//! owed entry is not checked against the others: its own money is what it takes back.

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks};
use crate::ids::{AccountId, MerchantNo};
use crate::money::Amount;
use crate::record::LedgerRecord;

impl ShardBooks {
    /// What FAIL_TRY_AGAIN entries not covered by a reservation owe from `account`: each
    /// gave its hold back when it failed, yet is tried again until done (a merchant's
    /// refund; a sale's reversal is covered by the sale's reservation and is not among
    /// them). Walks the entries to try again: short in calm times, as long as an outage
    /// made it while one lasts.
    pub fn owed_debits_from(&self, account: AccountId) -> Decimal {
        self.try_again
            .iter()
            .filter_map(|(_, id)| self.entries.get(id))
            .filter(|e| e.debit == account && !e.covered)
            .map(|e| e.amount.value())
            .sum()
    }

    /// Whether `record`, about to be written on the live path, leaves on each merchant
    /// slice it debits what entries to be tried again are owed from it; `MerchantShort`
    /// (with what is free after them) if not. Changes nothing; records that make no new
    /// debit of a merchant's slice pass at once.
    pub fn check_leaves_owed(&self, record: &LedgerRecord) -> Result<(), BooksError> {
        let Some((merchant, amount)) = self.new_debit(record) else {
            return Ok(());
        };
        let owed = self.owed_debits_from(AccountId::merchant(merchant));
        if owed.is_zero() {
            return Ok(());
        }
        let slice = self.merchant_slice(merchant)?;
        let free = slice.balance - slice.held - owed;
        if free < amount.value() {
            return Err(BooksError::MerchantShort {
                merchant,
                available: self.money(free.max(Decimal::ZERO)),
                amount,
            });
        }
        Ok(())
    }

    /// The merchant whose slice a record newly debits and by how much, if it does: an
    /// entry not covered by its request's reservation, a transfer out, a client's hold, a
    /// posting. Every record of the live path passes here, so the reservation is looked
    /// up only for an entry that debits a slice.
    fn new_debit(&self, record: &LedgerRecord) -> Option<(MerchantNo, Amount)> {
        let (debit, amount) = match record {
            LedgerRecord::EntryRequested { debit, amount, .. }
            | LedgerRecord::TransferOut { debit, amount, .. }
            | LedgerRecord::Posted { debit, amount, .. } => (*debit, *amount),
            LedgerRecord::HoldCreated { hold, .. } => (hold.debit, hold.amount),
            _ => return None,
        };
        let AccountId::Merchant { merchant } = debit else {
            return None;
        };
        if let LedgerRecord::EntryRequested {
            customer,
            request_no,
            ..
        } = record
        {
            if self.reserved_on(&(*customer, *request_no), debit) >= amount.value() {
                return None;
            }
        }
        Some((merchant, amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountNo, BankCode, MerchantId, RequestNo, Tag};
    use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, FIN};
    use crate::payments::merchant::{
        InstrumentType, InstrumentTypes, Merchant, MerchantStatus, PayoutSchedule,
    };
    use crate::request::RequestDate;
    use crate::request_log::{Event, Step};
    use crate::saga::{Accepted, Named, RequestKind};

    #[test]
    fn a_new_debit_of_a_merchant_slice_leaves_what_a_refund_to_try_again_is_owed() {
        let (mut books, mut lsn) = books_with_genesis(0, 1);
        let mut apply = |books: &mut ShardBooks, r: &LedgerRecord| {
            lsn += 1;
            books.apply(lsn, r)
        };
        let merchant = Merchant {
            id: MerchantId::new("m1").unwrap(),
            status: MerchantStatus::Active,
            category: Tag::new("books").unwrap(),
            accepts: InstrumentTypes::of(&[InstrumentType::PrepaidCard]),
            payout_bank: BankCode::new("004").unwrap(),
            payout_account: AccountNo::new("1").unwrap(),
            payout_schedule: PayoutSchedule::Realtime,
            payout_reserve_krw: 0,
            terminals: Vec::new(),
        };
        let set = LedgerRecord::MerchantSet {
            no: MerchantNo(1),
            version: 1,
            merchant,
        };
        apply(&mut books, &set).unwrap();
        let slice = AccountId::merchant(MerchantNo(1));
        let c = customer_in(0, 1, 0);
        apply(&mut books, &opened(c)).unwrap();
        let post = |debit, credit, won| LedgerRecord::Posted {
            debit,
            credit,
            amount: krw(won),
        };
        apply(&mut books, &post(FIN, AccountId::customer(c), 50_000)).unwrap();
        apply(&mut books, &post(AccountId::customer(c), slice, 20_000)).unwrap();
        // A refund of 5,000 from the slice fails, to be tried again: it gives its hold
        // back and is owed.
        let refund = Accepted {
            customer: c,
            request_no: RequestNo::new("RF-1").unwrap(),
            request_date: RequestDate::from_ymd(2026, 12, 2).unwrap(),
            kind: RequestKind::MerchantRefund,
            amount: krw(5_000),
            payee: None,
            path: None,
            deficit: None,
            at_ms: 1,
        };
        let accepted = LedgerRecord::RequestAccepted {
            accepted: refund,
            reserves: Some(Vec::new()),
            named: Named::default(),
        };
        apply(&mut books, &accepted).unwrap();
        let entry = books.next_entry_id();
        let requested = LedgerRecord::EntryRequested {
            entry,
            customer: c,
            request_no: refund.request_no,
            step: Step::MerchantRefund,
            amount: krw(5_000),
            debit: slice,
            credit: AccountId::customer(c),
            at_ms: 1,
        };
        assert_eq!(books.check_leaves_owed(&requested), Ok(()));
        apply(&mut books, &requested).unwrap();
        let failed = LedgerRecord::EntryEvent {
            entry,
            event: Event::Failed,
            at_ms: 2,
        };
        apply(&mut books, &failed).unwrap();
        assert_eq!(books.owed_debits_from(slice), Decimal::from(5_000));
        // The slice holds 20,000 with nothing held: 15,000 of it is free.
        let whole = post(slice, AccountId::customer(c), 20_000);
        assert!(matches!(
            books.check_leaves_owed(&whole),
            Err(BooksError::MerchantShort { available, .. }) if available.value() == Decimal::from(15_000)
        ));
        assert_eq!(
            books.check_leaves_owed(&post(slice, AccountId::customer(c), 15_000)),
            Ok(())
        );
        // The retry of the owed entry itself takes its own money back.
        let retry = LedgerRecord::EntryEvent {
            entry,
            event: Event::Retry,
            at_ms: 3,
        };
        assert_eq!(books.check_leaves_owed(&retry), Ok(()));
        apply(&mut books, &retry).unwrap();
        assert!(books.owed_debits_from(slice).is_zero());
        // Debits of other accounts are not this check's.
        assert_eq!(
            books.check_leaves_owed(&post(AccountId::customer(c), FIN, 30_000)),
            Ok(())
        );
    }
}
