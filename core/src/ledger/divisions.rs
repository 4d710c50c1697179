//! The division accounts of seed 001(a) as their master's shard keeps them (INSTRUMENTS.md
//! §1.7, D-1.9): each at the version the books hold. One `division_set` record per change
//! (its issue, an activation, a PIN tried, a budget reserved, committed, released or given
//! back, the master's change) carries the whole account; applying one keeps the higher
//! version, so a repeat or a late copy changes nothing. A payment that moves the
//! counters is written in the same record, so that both are durable together. All of a master's division
//! accounts live in the master's shard, so that two slaves paying at once are judged one
//! after the other on its thread.

use super::{BooksError, ShardBooks};
use crate::ids::{CardSeq, CustomerId};
use crate::payments::division::DivisionAccount;
use crate::payments::payment::PaymentEntry;

/// A division account at the version the books hold.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct DivisionEntry {
    pub version: u32,
    pub account: DivisionAccount,
}

impl ShardBooks {
    /// Every division account of this shard, by master and number.
    pub fn divisions(&self) -> impl Iterator<Item = &DivisionEntry> {
        self.divisions.values()
    }

    pub fn division(&self, master: CustomerId, seq: CardSeq) -> Option<&DivisionEntry> {
        self.divisions.get(&(master, seq))
    }

    /// The master's division accounts, in the order they were issued.
    pub fn divisions_of(&self, master: CustomerId) -> impl Iterator<Item = &DivisionEntry> {
        self.divisions
            .range((master, CardSeq(0))..=(master, CardSeq(u16::MAX)))
            .map(|(_, entry)| entry)
    }

    /// An account at `version`: kept if newer than the one the books hold, with the
    /// payment written with it, if any (kept as a `payment_set` keeps it). Its master
    /// must be a customer of this shard, and the payment a payment of this shard: both
    /// are checked before either is applied.
    pub(super) fn apply_division_set(
        &mut self,
        version: u32,
        account: &DivisionAccount,
        payment: Option<&PaymentEntry>,
    ) -> Result<(), BooksError> {
        self.customer_checked(account.master)?;
        if let Some(payment) = payment {
            self.check_payment_shard(payment)?;
            self.apply_payment_set(payment)?;
        }
        let key = (account.master, account.seq);
        match self.divisions.get_mut(&key) {
            Some(held) if held.version >= version => {}
            Some(held) => {
                held.version = version;
                held.account = account.clone();
            }
            None => {
                self.divisions.insert(
                    key,
                    DivisionEntry {
                        version,
                        account: account.clone(),
                    },
                );
            }
        }
        Ok(())
    }
}
