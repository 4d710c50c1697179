//! The records as the first format wrote them: an rkyv archive of one enum of every
//! kind, with no version (before payload versions, see [`super::codec`]). Frozen: this
//! enum must keep exactly the variants, order and field types it had, so that a log
//! written then still decodes. The golden files `tests/golden/records/v0/` hold one of
//! each, written by that code.

use super::frozen::AnswerV1;
use super::{CustomerOpened, LedgerRecord};
use crate::ids::{AccountId, CustomerId, ParentAccount, RequestNo, TransferId};
use crate::money::Amount;
use crate::request_log::{Event, Step};
use crate::saga::{Accepted, EntryId};

/// A record of the first, unversioned format.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub(super) enum RecordV0 {
    /// The first record of a shard: how many shards there are, and the opening balance of
    /// each of this shard's parent slices, funded from the operator's funding account.
    Genesis {
        shard: u16,
        shards: u16,
        fundings: Vec<(ParentAccount, Amount)>,
    },
    CustomerOpened(CustomerOpened),
    CustomerStatus {
        customer: CustomerId,
        tradable: bool,
        subscription_valid: bool,
    },
    /// A posting inside the shard: both legs in one record, so it is atomic on replay.
    Posted {
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
    },
    /// The debit leg of a posting whose credit account lives in `dest_shard`: the amount
    /// leaves `debit` and is in transit until the destination confirms the credit.
    TransferOut {
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        dest_shard: u16,
        amount: Amount,
    },
    /// The credit leg of a transfer from another shard, applied at most once per id.
    TransferIn {
        id: TransferId,
        credit: AccountId,
        amount: Amount,
    },
    /// The destination has durably credited the transfer; the source forgets it.
    TransferSettled {
        id: TransferId,
    },
    /// The destination refused the credit (its account does not exist there): the amount
    /// goes back to the debit account and the source forgets the transfer.
    TransferReturned {
        id: TransferId,
    },
    /// A charge or remittance passed validation and will be carried out.
    RequestAccepted(Accepted),
    /// A request-log entry, written before its outside call is made. The amount is held on
    /// the debit account while the outcome is open.
    EntryRequested {
        entry: EntryId,
        customer: CustomerId,
        request_no: RequestNo,
        step: Step,
        amount: Amount,
        debit: AccountId,
        credit: AccountId,
        at_ms: u64,
    },
    /// Something happened to an entry (an answer, a timeout, a confirmation, a retry). On
    /// SUCCESS the entry's posting is booked in this same record.
    EntryEvent {
        entry: EntryId,
        event: Event,
        at_ms: u64,
    },
    /// What the customer was told about a request; told once.
    Answered {
        customer: CustomerId,
        request_no: RequestNo,
        answer: AnswerV1,
    },
    /// Forget the requests of request dates before `before` that are settled (answered,
    /// every entry final, nothing owed): the idempotency window has passed for them.
    Pruned {
        before: crate::request::RequestDate,
    },
}

impl From<RecordV0> for LedgerRecord {
    fn from(record: RecordV0) -> LedgerRecord {
        match record {
            RecordV0::Genesis {
                shard,
                shards,
                fundings,
            } => LedgerRecord::Genesis {
                shard,
                shards,
                fundings,
            },
            RecordV0::CustomerOpened(opened) => LedgerRecord::CustomerOpened(opened),
            RecordV0::CustomerStatus {
                customer,
                tradable,
                subscription_valid,
            } => LedgerRecord::CustomerStatus {
                customer,
                tradable,
                subscription_valid,
            },
            RecordV0::Posted {
                debit,
                credit,
                amount,
            } => LedgerRecord::Posted {
                debit,
                credit,
                amount,
            },
            RecordV0::TransferOut {
                id,
                debit,
                credit,
                dest_shard,
                amount,
            } => LedgerRecord::TransferOut {
                id,
                debit,
                credit,
                dest_shard,
                amount,
            },
            RecordV0::TransferIn { id, credit, amount } => LedgerRecord::TransferIn {
                id,
                credit,
                amount,
                settled_below: 0,
            },
            RecordV0::TransferSettled { id } => LedgerRecord::TransferSettled { id },
            RecordV0::TransferReturned { id } => LedgerRecord::TransferReturned { id },
            RecordV0::RequestAccepted(accepted) => LedgerRecord::RequestAccepted {
                accepted,
                reserves: None,
                named: crate::saga::Named::default(),
            },
            RecordV0::EntryRequested {
                entry,
                customer,
                request_no,
                step,
                amount,
                debit,
                credit,
                at_ms,
            } => LedgerRecord::EntryRequested {
                entry,
                customer,
                request_no,
                step,
                amount,
                debit,
                credit,
                at_ms,
            },
            RecordV0::EntryEvent {
                entry,
                event,
                at_ms,
            } => LedgerRecord::EntryEvent {
                entry,
                event,
                at_ms,
            },
            RecordV0::Answered {
                customer,
                request_no,
                answer,
            } => LedgerRecord::Answered {
                customer,
                request_no,
                answer: answer.into(),
            },
            RecordV0::Pruned { before } => LedgerRecord::Pruned { before },
        }
    }
}
