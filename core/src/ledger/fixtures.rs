//! Books to test with, shared by the ledger's unit tests.

use super::{shard_of, Accepted, Answer, Applied, BooksError, Lsn, ParentPlan, Reason};
use super::{RequestKind, ShardBooks};
use crate::config::Config;
use crate::ids::{AccountId, AccountNo, BankCode, CustomerId, ParentAccount, RequestNo};
use crate::money::Amount;
use crate::record::{CustomerOpened, LedgerRecord};
use crate::request::RequestDate;
use crate::request_log::{Step, Told};

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

/// A charge of 100 won of `customer`, accepted by the engine at `at_ms`.
pub(super) fn charge_accepted(
    customer: CustomerId,
    request_no: &str,
    request_date: RequestDate,
    at_ms: u64,
) -> LedgerRecord {
    LedgerRecord::RequestAccepted {
        accepted: Accepted {
            customer,
            request_no: RequestNo::new(request_no).unwrap(),
            request_date,
            kind: RequestKind::Charge,
            amount: krw(100),
            payee: None,
            path: None,
            deficit: None,
            at_ms,
        },
        reserves: None,
        named: crate::saga::Named::default(),
    }
}

/// The answer "failed: the bank refused the withdrawal", given at `at_ms`.
pub(super) fn answered_failed(customer: CustomerId, request_no: &str, at_ms: u64) -> LedgerRecord {
    LedgerRecord::Answered {
        customer,
        request_no: RequestNo::new(request_no).unwrap(),
        answer: Answer {
            told: Told::Failed,
            decided_by: Step::ChargeWithdrawal,
            timed_out: false,
            at_ms,
            reason: Reason::RailRefused,
        },
    }
}
