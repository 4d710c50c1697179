//! The collection statement of S32 (INSTRUMENTS.md D-2.14): one partner's deposits over
//! all banks in a period, matched ones per bank, and those in suspense apart.

use std::collections::BTreeMap;

use serde::Serialize;

use super::book::RelayBook;
use super::deposit::{Deposit, DepositState};
use super::partner::PartnerId;
use crate::ids::BankCode;

/// One bank's part of a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BankCollection {
    pub bank: BankCode,
    pub count: u32,
    pub total_krw: u64,
}

/// A partner's collection statement over [`from_ms`, `to_ms`) of the engine's clock (the
/// time each deposit was received).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CollectionStatement {
    pub partner: PartnerId,
    pub from_ms: u64,
    pub to_ms: u64,
    /// Per bank, in bank-code order: the matched (or assigned) deposits and what they
    /// credited.
    pub banks: Vec<BankCollection>,
    pub total_krw: u64,
    pub matched: Vec<Deposit>,
    /// Mismatched and unleased deposits (and refunded ones, settled from suspense), with
    /// their amounts; an accumulate lease's excess counts here too.
    pub suspense: Vec<Deposit>,
    pub suspense_total_krw: u64,
}

impl CollectionStatement {
    pub fn of(book: &RelayBook, partner: &PartnerId, from_ms: u64, to_ms: u64) -> Self {
        let mut banks: BTreeMap<BankCode, BankCollection> = BTreeMap::new();
        let mut statement = CollectionStatement {
            partner: partner.clone(),
            from_ms,
            to_ms,
            banks: Vec::new(),
            total_krw: 0,
            matched: Vec::new(),
            suspense: Vec::new(),
            suspense_total_krw: 0,
        };
        let within = |d: &&Deposit| {
            &d.partner == partner && d.received_at_ms >= from_ms && d.received_at_ms < to_ms
        };
        for deposit in book.deposits().filter(within) {
            match deposit.state {
                DepositState::Matched | DepositState::Assigned => {
                    let bank = banks.entry(deposit.bank).or_insert(BankCollection {
                        bank: deposit.bank,
                        count: 0,
                        total_krw: 0,
                    });
                    bank.count += 1;
                    bank.total_krw = bank.total_krw.saturating_add(deposit.credited_krw);
                    statement.total_krw = statement.total_krw.saturating_add(deposit.credited_krw);
                    statement.suspense_total_krw = statement
                        .suspense_total_krw
                        .saturating_add(deposit.excess_krw);
                    statement.matched.push(deposit.clone());
                }
                DepositState::Mismatch | DepositState::Unleased | DepositState::Refunded => {
                    statement.suspense_total_krw = statement
                        .suspense_total_krw
                        .saturating_add(deposit.amount_krw);
                    statement.suspense.push(deposit.clone());
                }
                DepositState::Reversed => {}
            }
        }
        statement.banks = banks.into_values().collect();
        statement
    }
}
