//! Why a record cannot be applied to the books.

use thiserror::Error;

use super::{EntryId, HoldId, HoldState};
use crate::ids::{AccountId, BankCode, CustomerId, ParentAccount, RequestNo, TransferId};
use crate::money::{Amount, Currency, Money, MoneyError};
use crate::request_log::IllegalTransition;

/// Why a record cannot be applied. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BooksError {
    #[error("customer {0} does not exist")]
    UnknownCustomer(CustomerId),
    #[error("merchant {0} is not known")]
    UnknownMerchant(crate::ids::MerchantNo),
    #[error("merchant {merchant}'s slice has {available} available, short of {amount}; a merchant account never goes below zero")]
    MerchantShort {
        merchant: crate::ids::MerchantNo,
        available: crate::money::Money,
        amount: crate::money::Amount,
    },
    #[error(
        "suspense has {available} available, short of {amount}; suspense never goes below zero"
    )]
    SuspenseShort {
        available: crate::money::Money,
        amount: crate::money::Amount,
    },
    #[error("payment {id} belongs to shard {}, not shard {here}", id.shard())]
    PaymentWrongShard {
        id: crate::payments::payment::PaymentId,
        here: u16,
    },
    #[error("customer {customer} has no prepaid card {card}")]
    UnknownCard {
        customer: CustomerId,
        card: crate::ids::CardSeq,
    },
    #[error("pocket[{customer},{card}] has {available} available, short of {amount}; a pocket never goes below zero")]
    PocketShort {
        customer: CustomerId,
        card: crate::ids::CardSeq,
        available: crate::money::Money,
        amount: crate::money::Amount,
    },
    #[error("merchant number {no} is {held}'s, not {given}'s")]
    MerchantNoTaken {
        no: crate::ids::MerchantNo,
        held: crate::ids::MerchantId,
        given: crate::ids::MerchantId,
    },
    #[error("customer {0} already exists")]
    CustomerExists(CustomerId),
    #[error("customer {customer} lives in shard {home}, not in shard {here}")]
    WrongShard {
        customer: CustomerId,
        home: u16,
        here: u16,
    },
    #[error("parent account {0} is not configured")]
    UnknownParent(ParentAccount),
    #[error("bank {0} holds no withdrawal firm parent account, so it cannot be a linked bank")]
    LinkedBankNotServed(BankCode),
    #[error("customer {customer} has {available} available, less than {amount}")]
    InsufficientFunds {
        customer: CustomerId,
        available: Money,
        amount: Amount,
    },
    #[error("{parent} slice would go to {would_be}, below its floor of {floor}")]
    BelowFloor {
        parent: ParentAccount,
        would_be: Money,
        floor: Money,
    },
    #[error("a posting must name two different accounts, both legs name {0}")]
    SameAccount(AccountId),
    #[error("{amount} is in {got}, the books are in {want}")]
    WrongCurrency {
        amount: Amount,
        got: Currency,
        want: Currency,
    },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("the shard has no genesis record yet")]
    NoGenesis,
    #[error("genesis for shard {shard} of {shards} cannot be applied to shard {here} of {here_shards}: {what}")]
    Genesis {
        shard: u16,
        shards: u16,
        here: u16,
        here_shards: u16,
        what: &'static str,
    },
    #[error("transfer {0} was already credited")]
    DuplicateTransfer(TransferId),
    #[error("transfer {0} is not outstanding")]
    UnknownTransfer(TransferId),
    #[error("{0} cannot be a leg of a transfer between shards")]
    NotTransferable(AccountId),
    #[error("request {request_no} of customer {customer} already exists")]
    RequestExists {
        customer: CustomerId,
        request_no: RequestNo,
    },
    #[error("request {request_no} of customer {customer} does not exist")]
    UnknownRequest {
        customer: CustomerId,
        request_no: RequestNo,
    },
    #[error("{0} cannot be reserved: only parent accounts are")]
    NotReservable(AccountId),
    #[error("request-log entry {0} does not exist")]
    UnknownEntry(EntryId),
    #[error("request-log entry {0} already exists")]
    EntryExists(EntryId),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error("request {request_no} of customer {customer} was already answered")]
    AlreadyAnswered {
        customer: CustomerId,
        request_no: RequestNo,
    },
    #[error(
        "{0} cannot be held: only a customer's account and a parent account's slice hold money"
    )]
    NotHoldable(AccountId),
    #[error("{0} does not exist")]
    UnknownHold(HoldId),
    #[error("{0} already exists")]
    HoldExists(HoldId),
    #[error(
        "{0} already exists with another debit, credit, amount or expiry; use a new hold number"
    )]
    HoldConflict(HoldId),
    #[error("{id} is already {state}")]
    HoldResolved { id: HoldId, state: HoldState },
    #[error("{id} expires at {expires_at_ms} ms, not after its creation at {at_ms} ms")]
    HoldExpiryNotAfterCreation {
        id: HoldId,
        expires_at_ms: u64,
        at_ms: u64,
    },
    #[error("{id} fell due at {expires_at_ms} ms: at {at_ms} ms it can only expire")]
    HoldDue {
        id: HoldId,
        expires_at_ms: u64,
        at_ms: u64,
    },
    #[error("{id} falls due at {expires_at_ms} ms: at {at_ms} ms it cannot expire yet")]
    HoldNotDue {
        id: HoldId,
        expires_at_ms: u64,
        at_ms: u64,
    },
    #[error("{id} holds {held}, less than the {amount} posted")]
    PostExceedsHold {
        id: HoldId,
        held: Amount,
        amount: Amount,
    },
}
