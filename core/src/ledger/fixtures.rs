//! Books to test with, shared by the ledger's unit tests.

use super::{shard_of, Applied, BooksError, Lsn, ParentPlan, ShardBooks};
use crate::config::Config;
use crate::ids::{AccountId, AccountNo, BankCode, CustomerId, ParentAccount};
use crate::money::Amount;
use crate::record::{CustomerOpened, LedgerRecord};

pub(super) fn plan(shards: u16) -> ParentPlan {
    ParentPlan::from_config(&Config::embedded(), shards)
}

pub(super) fn krw(won: i64) -> Amount {
    Amount::krw(won).unwrap()
}

pub(super) fn customer_in(shard: u16, shards: u16, skip: usize) -> CustomerId {
    (1..)
        .map(|n| CustomerId::new(n).unwrap())
        .filter(|c| shard_of(*c, shards) == shard)
        .nth(skip)
        .unwrap()
}

pub(super) fn opened(customer: CustomerId) -> LedgerRecord {
    LedgerRecord::CustomerOpened(CustomerOpened {
        customer,
        linked_bank: BankCode::new("004").unwrap(),
        linked_account: AccountNo::new("110-123-456789").unwrap(),
        tradable: true,
        subscription_valid: true,
        signing_key: None,
    })
}

pub(super) fn books_with_genesis(shard: u16, shards: u16) -> (ShardBooks, Lsn) {
    let mut books = ShardBooks::new(shard, plan(shards));
    books.apply(1, &books.plan().genesis(shard)).unwrap();
    (books, 1)
}

/// Books of shard 0 of 1 with their genesis and one opened customer, and a function
/// applying the next record at the next LSN.
#[allow(clippy::type_complexity)]
pub(super) fn one_customer_books() -> (
    ShardBooks,
    CustomerId,
    impl FnMut(&mut ShardBooks, LedgerRecord) -> Result<Applied, BooksError>,
) {
    let (mut books, mut lsn) = books_with_genesis(0, 1);
    let c = customer_in(0, 1, 0);
    lsn += 1;
    books.apply(lsn, &opened(c)).unwrap();
    let next = move |books: &mut ShardBooks, record: LedgerRecord| {
        lsn += 1;
        books.apply(lsn, &record)
    };
    (books, c, next)
}

pub(super) const FIN: AccountId = AccountId::Parent {
    parent: ParentAccount::FinParent,
};
