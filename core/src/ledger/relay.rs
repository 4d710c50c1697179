//! The virtual-account relay as a shard's books keep it (INSTRUMENTS.md §2.7): the
//! partners whose shard this is, their pools, leases and deposits, changed only by
//! `relay_set` records (`payments/relay` holds the rules); and, for partners in modes B
//! and C, the money a deposit moves (`payments/relay/credit.rs`): the observed posting,
//! booked with the record, and the credits it owes until a house request carries each
//! out.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks};
use crate::ids::{AccountId, ParentAccount, RequestNo};
use crate::money::MoneyError;
use crate::payments::relay::credit::{credit_of_request_no, credits_owed, Observed};
use crate::payments::relay::{CreditDue, CreditTo, DepositId, PartnerMode, RelayBook, RelayChange};

/// The credits deposits owe and no request carries out yet, by deposit and destination.
pub(super) type CreditsDue = BTreeMap<(DepositId, CreditTo), CreditDue>;

impl ShardBooks {
    /// The relay's book of this shard, to decide on (its decisions return the change to
    /// write) and to read.
    pub fn relay(&self) -> &RelayBook {
        &self.relay
    }

    /// The credits deposits owe that no request carries out yet (modes B and C), oldest
    /// deposit first.
    pub fn va_credits_due(&self) -> impl Iterator<Item = &CreditDue> {
        self.va_credits_due.values()
    }

    /// `va_parent[bank]`: booked as `withdrawal_firm[bank]` (`payments/relay/credit.rs`).
    pub fn va_parent(bank: crate::ids::BankCode) -> AccountId {
        AccountId::parent(ParentAccount::WithdrawalFirm(bank))
    }

    /// Applies a `relay_set` record: the relay's entities, and for a deposit of a partner
    /// in mode B or C the observed posting and the credits it owes. Checked before
    /// anything changes: `va_parent[bank]` must be booked in this shard.
    pub(super) fn apply_relay_set(&mut self, change: &RelayChange) -> Result<(), BooksError> {
        let effects = change.deposit.as_ref().map(|after| {
            let mode = change
                .partner
                .as_ref()
                .filter(|p| p.id == after.partner)
                .or_else(|| self.relay.partner(&after.partner))
                .map_or(PartnerMode::A, |p| p.mode);
            let before = self.relay.deposit(after.id);
            (after, credits_owed(mode, before, after))
        });
        let mut posting = None;
        if let Some((deposit, (Some(observed), _))) = &effects {
            let (payer, parent) = (
                AccountId::VaPayer { bank: deposit.bank },
                Self::va_parent(deposit.bank),
            );
            let (debit, credit, amount) = match *observed {
                Observed::In(a) => (payer, parent, a),
                Observed::Out(a) => (parent, payer, a),
            };
            // A fact the bank reports: booked whatever the parent slice's floor.
            let delta = Decimal::from(amount);
            let debit_after = self
                .balance(debit)?
                .value()
                .checked_sub(delta)
                .ok_or(MoneyError::Overflow)?;
            let credit_after = self
                .balance(credit)?
                .value()
                .checked_add(delta)
                .ok_or(MoneyError::Overflow)?;
            crate::money::Money::new(self.plan.currency, debit_after)?;
            crate::money::Money::new(self.plan.currency, credit_after)?;
            posting = Some((debit, credit, debit_after, credit_after));
        }
        let credits = effects.map(|(_, (_, credits))| credits).unwrap_or_default();
        self.relay.apply(change);
        if let Some((debit, credit, debit_after, credit_after)) = posting {
            self.book_legs(debit, credit, (debit_after, credit_after));
        }
        for due in credits {
            self.va_credits_due.insert((due.deposit, due.to), due);
        }
        Ok(())
    }

    /// A house request that carries out an owed credit was accepted: the credit is owed
    /// no more.
    pub(super) fn note_credit_started(&mut self, request_no: RequestNo) {
        if let Some(key) = credit_of_request_no(request_no.as_str()) {
            self.va_credits_due.remove(&key);
        }
    }
}
