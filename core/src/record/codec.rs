// Over 600 lines: encoders beside every version's decoders, so a format change stays in one file.
//! The payloads the write-ahead log stores: ledger records and books snapshots, each
//! with its kind and a format version (docs/wal-format.md, "Payload versions").
//!
//! A record payload is an 8-byte envelope followed by an rkyv archive of the kind's body:
//!
//! ```text
//! offset  size  field
//!      0     1  0xFF: an envelope (the first, unversioned format starts with an rkyv enum
//!               tag below 0x20 there, so the two never mix)
//!      1     1  b'R'
//!      2     1  envelope version (1)
//!      3     1  zero
//!      4     2  record kind code, little-endian ([`RecordKind`])
//!      6     2  the kind's body version, little-endian
//!      8     .  rkyv archive of the body (8-byte aligned, like the payload)
//! ```
//!
//! A snapshot payload is `FF 'B' 'K' 'S'`, the snapshot version (u16 LE), a zero byte and
//! `FF`, then the rkyv archive of the books. The first format's snapshots are a bare
//! archive whose first out-of-line bytes are either a customer number (below 2^63, so
//! byte 7 is below 0x80) or a parent account's enum tag (byte 0 below 5): never `FF` at
//! both byte 0 and byte 7.
//!
//! The rule that keeps old logs readable: a body's layout never changes. A change to what
//! a kind carries is a new version of that kind with a new body type; the decoder keeps
//! every old version and converts it to today's [`LedgerRecord`]. A new kind gets a new
//! code. The golden files under `tests/golden/` (decoded by `core/tests/golden.rs`) are
//! the tripwire: they were written by each version's code and must decode forever.

use rkyv::rancor;
use rkyv::util::AlignedVec;
use thiserror::Error;

use super::frozen::AnswerV1;
use super::legacy::RecordV0;
use super::{CustomerOpened, LedgerRecord};
use super::{HoldId, NewHold};
use crate::ids::{AccountId, CustomerId, MerchantNo, ParentAccount, RequestNo, TransferId};
use crate::money::Amount;
use crate::payments::merchant::Merchant;
use crate::payments::prepaid_card::PrepaidCard;
use crate::request::RequestDate;
use crate::request_log::{Event, Step};
use crate::saga::{Accepted, Answer, EntryId, Named, Reserve};

const RECORD_MAGIC: [u8; 2] = [0xFF, b'R'];
const ENVELOPE_VERSION: u8 = 1;
/// The envelope before every payload's body.
pub const HEADER_BYTES: usize = 8;

/// Every kind of record, with the stable code its envelope carries. Codes are never
/// reused or renumbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    Genesis,
    CustomerOpened,
    CustomerStatus,
    Posted,
    TransferOut,
    TransferIn,
    TransferSettled,
    TransferReturned,
    RequestAccepted,
    EntryRequested,
    EntryEvent,
    Answered,
    Pruned,
    Forgotten,
    HoldCreated,
    HoldPosted,
    HoldVoided,
    HoldExpired,
    MerchantSet,
    CardSet,
    PaymentSet,
    NoticeSet,
    MemberSet,
    ApiKeySet,
    PayoutNoticeSet,
    DivisionSet,
    RelaySet,
}

impl RecordKind {
    pub const ALL: [RecordKind; 27] = [
        RecordKind::Genesis,
        RecordKind::CustomerOpened,
        RecordKind::CustomerStatus,
        RecordKind::Posted,
        RecordKind::TransferOut,
        RecordKind::TransferIn,
        RecordKind::TransferSettled,
        RecordKind::TransferReturned,
        RecordKind::RequestAccepted,
        RecordKind::EntryRequested,
        RecordKind::EntryEvent,
        RecordKind::Answered,
        RecordKind::Pruned,
        RecordKind::Forgotten,
        RecordKind::HoldCreated,
        RecordKind::HoldPosted,
        RecordKind::HoldVoided,
        RecordKind::HoldExpired,
        RecordKind::MerchantSet,
        RecordKind::CardSet,
        RecordKind::PaymentSet,
        RecordKind::NoticeSet,
        RecordKind::MemberSet,
        RecordKind::ApiKeySet,
        RecordKind::PayoutNoticeSet,
        RecordKind::DivisionSet,
        RecordKind::RelaySet,
    ];

    /// The code in the envelope.
    pub const fn code(self) -> u16 {
        match self {
            RecordKind::Genesis => 1,
            RecordKind::CustomerOpened => 2,
            RecordKind::CustomerStatus => 3,
            RecordKind::Posted => 4,
            RecordKind::TransferOut => 5,
            RecordKind::TransferIn => 6,
            RecordKind::TransferSettled => 7,
            RecordKind::TransferReturned => 8,
            RecordKind::RequestAccepted => 9,
            RecordKind::EntryRequested => 10,
            RecordKind::EntryEvent => 11,
            RecordKind::Answered => 12,
            RecordKind::Pruned => 13,
            RecordKind::Forgotten => 14,
            RecordKind::HoldCreated => 15,
            RecordKind::HoldPosted => 16,
            RecordKind::HoldVoided => 17,
            RecordKind::HoldExpired => 18,
            RecordKind::MerchantSet => 19,
            RecordKind::CardSet => 20,
            RecordKind::PaymentSet => 21,
            RecordKind::NoticeSet => 22,
            RecordKind::MemberSet => 23,
            RecordKind::ApiKeySet => 24,
            RecordKind::PayoutNoticeSet => 25,
            RecordKind::DivisionSet => 26,
            RecordKind::RelaySet => 27,
        }
    }

    pub fn from_code(code: u16) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The body version this build writes. Version 2 of request_accepted carries the
    /// request's reservations, version 3 the accounts its legs name; version 2 of
    /// transfer_in, what its source settled below it; of answered, the reason of a
    /// failure; of payment_set, the payer's kind; of division_set, the payment written
    /// with the account.
    pub const fn version(self) -> u16 {
        match self {
            RecordKind::RequestAccepted => 3,
            RecordKind::TransferIn
            | RecordKind::Answered
            | RecordKind::PaymentSet
            | RecordKind::DivisionSet => 2,
            _ => 1,
        }
    }

    /// The kind's name in snake case, as the golden files are named.
    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::Genesis => "genesis",
            RecordKind::CustomerOpened => "customer_opened",
            RecordKind::CustomerStatus => "customer_status",
            RecordKind::Posted => "posted",
            RecordKind::TransferOut => "transfer_out",
            RecordKind::TransferIn => "transfer_in",
            RecordKind::TransferSettled => "transfer_settled",
            RecordKind::TransferReturned => "transfer_returned",
            RecordKind::RequestAccepted => "request_accepted",
            RecordKind::EntryRequested => "entry_requested",
            RecordKind::EntryEvent => "entry_event",
            RecordKind::Answered => "answered",
            RecordKind::Pruned => "pruned",
            RecordKind::Forgotten => "forgotten",
            RecordKind::HoldCreated => "hold_created",
            RecordKind::HoldPosted => "hold_posted",
            RecordKind::HoldVoided => "hold_voided",
            RecordKind::HoldExpired => "hold_expired",
            RecordKind::MerchantSet => "merchant_set",
            RecordKind::CardSet => "card_set",
            RecordKind::PaymentSet => "payment_set",
            RecordKind::NoticeSet => "notice_set",
            RecordKind::MemberSet => "member_set",
            RecordKind::ApiKeySet => "api_key_set",
            RecordKind::PayoutNoticeSet => "payout_notice_set",
            RecordKind::DivisionSet => "division_set",
            RecordKind::RelaySet => "relay_set",
        }
    }
}

impl LedgerRecord {
    pub fn kind(&self) -> RecordKind {
        match self {
            LedgerRecord::Genesis { .. } => RecordKind::Genesis,
            LedgerRecord::CustomerOpened(_) => RecordKind::CustomerOpened,
            LedgerRecord::CustomerStatus { .. } => RecordKind::CustomerStatus,
            LedgerRecord::Posted { .. } => RecordKind::Posted,
            LedgerRecord::TransferOut { .. } => RecordKind::TransferOut,
            LedgerRecord::TransferIn { .. } => RecordKind::TransferIn,
            LedgerRecord::TransferSettled { .. } => RecordKind::TransferSettled,
            LedgerRecord::TransferReturned { .. } => RecordKind::TransferReturned,
            LedgerRecord::RequestAccepted { .. } => RecordKind::RequestAccepted,
            LedgerRecord::EntryRequested { .. } => RecordKind::EntryRequested,
            LedgerRecord::EntryEvent { .. } => RecordKind::EntryEvent,
            LedgerRecord::Answered { .. } => RecordKind::Answered,
            LedgerRecord::Pruned { .. } => RecordKind::Pruned,
            LedgerRecord::Forgotten { .. } => RecordKind::Forgotten,
            LedgerRecord::HoldCreated { .. } => RecordKind::HoldCreated,
            LedgerRecord::HoldPosted { .. } => RecordKind::HoldPosted,
            LedgerRecord::HoldVoided { .. } => RecordKind::HoldVoided,
            LedgerRecord::HoldExpired { .. } => RecordKind::HoldExpired,
            LedgerRecord::MerchantSet { .. } => RecordKind::MerchantSet,
            LedgerRecord::CardSet { .. } => RecordKind::CardSet,
            LedgerRecord::PaymentSet { .. } => RecordKind::PaymentSet,
            LedgerRecord::NoticeSet { .. } => RecordKind::NoticeSet,
            LedgerRecord::MemberSet { .. } => RecordKind::MemberSet,
            LedgerRecord::ApiKeySet { .. } => RecordKind::ApiKeySet,
            LedgerRecord::PayoutNoticeSet { .. } => RecordKind::PayoutNoticeSet,
            LedgerRecord::DivisionSet { .. } => RecordKind::DivisionSet,
            LedgerRecord::RelaySet { .. } => RecordKind::RelaySet,
        }
    }
}

/// Why a payload cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("the payload is {0} bytes, too short for its envelope")]
    TooShort(usize),
    #[error("envelope version {0} is newer than this build reads (1); open the log with the build that wrote it")]
    UnknownEnvelope(u8),
    #[error("record kind {kind} version {version} is not one this build reads; open the log with the build that wrote it")]
    Unsupported { kind: u16, version: u16 },
    #[error("snapshot version {0} is not one this build reads; open the log with the build that wrote it")]
    UnsupportedSnapshot(u16),
    #[error("{what} does not decode: {cause}")]
    Invalid { what: String, cause: String },
}

/// The bodies of version 1, one per kind. A kind whose record is one struct of the
/// domain (`CustomerOpened`, `Accepted`) uses it as its body.
mod v1 {
    use super::*;

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Genesis {
        pub shard: u16,
        pub shards: u16,
        pub fundings: Vec<(ParentAccount, Amount)>,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct CustomerStatus {
        pub customer: CustomerId,
        pub tradable: bool,
        pub subscription_valid: bool,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Posted {
        pub debit: AccountId,
        pub credit: AccountId,
        pub amount: Amount,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct TransferOut {
        pub id: TransferId,
        pub debit: AccountId,
        pub credit: AccountId,
        pub dest_shard: u16,
        pub amount: Amount,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct TransferIn {
        pub id: TransferId,
        pub credit: AccountId,
        pub amount: Amount,
    }

    /// `TransferSettled` and `TransferReturned`.
    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Transfer {
        pub id: TransferId,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct EntryRequested {
        pub entry: EntryId,
        pub customer: CustomerId,
        pub request_no: RequestNo,
        pub step: Step,
        pub amount: Amount,
        pub debit: AccountId,
        pub credit: AccountId,
        pub at_ms: u64,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct EntryEvent {
        pub entry: EntryId,
        pub event: Event,
        pub at_ms: u64,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Answered {
        pub customer: CustomerId,
        pub request_no: RequestNo,
        pub answer: AnswerV1,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Pruned {
        pub before: RequestDate,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Forgotten {
        pub accepted_before_ms: u64,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct HoldCreated {
        pub id: HoldId,
        pub debit: AccountId,
        pub credit: AccountId,
        pub amount: Amount,
        pub expires_at_ms: u64,
        pub at_ms: u64,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct HoldPosted {
        pub id: HoldId,
        pub amount: Amount,
        pub at_ms: u64,
    }

    /// `HoldVoided` and `HoldExpired`.
    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct HoldResolved {
        pub id: HoldId,
        pub at_ms: u64,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct MerchantSet {
        pub no: MerchantNo,
        pub version: u32,
        pub merchant: Merchant,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct CardSet {
        pub version: u32,
        pub card: PrepaidCard,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct PaymentSet {
        pub payment: crate::record::frozen::PaymentEntryV1,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct MemberSet {
        pub version: u32,
        pub member: crate::payments::member::Member,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct NoticeSet {
        pub notice: crate::statement::Notice,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct PayoutNoticeSet {
        pub notice: crate::payments::payout_notice::PayoutNotice,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct DivisionSet {
        pub version: u32,
        pub account: crate::payments::division::DivisionAccount,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct ApiKeySet {
        pub key: crate::payments::api_key::ApiKey,
    }
}

/// The bodies of version 3 of the kinds that have one.
mod v3 {
    use super::*;

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct RequestAccepted {
        pub accepted: Accepted,
        pub reserves: Option<Vec<Reserve>>,
        pub named: Named,
    }
}

/// The bodies of version 2 of the kinds that have one.
mod v2 {
    use super::*;

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct PaymentSet {
        pub payment: crate::payments::payment::PaymentEntry,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct RequestAccepted {
        pub accepted: Accepted,
        pub reserves: Option<Vec<Reserve>>,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct TransferIn {
        pub id: TransferId,
        pub credit: AccountId,
        pub amount: Amount,
        pub settled_below: u64,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct Answered {
        pub customer: CustomerId,
        pub request_no: RequestNo,
        pub answer: Answer,
    }

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
    pub struct DivisionSet {
        pub version: u32,
        pub account: crate::payments::division::DivisionAccount,
        pub payment: Option<crate::payments::payment::PaymentEntry>,
    }
}

/// Encodes records into one reused buffer, so the hot path does not allocate per record.
#[derive(Default)]
pub struct Encoder {
    buf: AlignedVec,
}

impl Encoder {
    /// The payload of `record`: its envelope and body.
    pub fn encode(&mut self, record: &LedgerRecord) -> &[u8] {
        let kind = record.kind();
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&RECORD_MAGIC);
        buf.extend_from_slice(&[ENVELOPE_VERSION, 0]);
        buf.extend_from_slice(&kind.code().to_le_bytes());
        buf.extend_from_slice(&kind.version().to_le_bytes());
        debug_assert_eq!(buf.len(), HEADER_BYTES);
        self.buf = body(record, buf);
        &self.buf
    }
}

fn put<T>(value: &T, buf: AlignedVec) -> AlignedVec
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
{
    rkyv::api::high::to_bytes_in::<_, rancor::Error>(value, buf)
        .expect("ledger records are plain data and always serialize")
}

/// Appends the body of `record` (in the version [`RecordKind::version`] names) after the
/// envelope in `buf`.
fn body(record: &LedgerRecord, buf: AlignedVec) -> AlignedVec {
    match record {
        LedgerRecord::Genesis {
            shard,
            shards,
            fundings,
        } => put(
            &v1::Genesis {
                shard: *shard,
                shards: *shards,
                fundings: fundings.clone(),
            },
            buf,
        ),
        LedgerRecord::CustomerOpened(opened) => put(opened, buf),
        LedgerRecord::CustomerStatus {
            customer,
            tradable,
            subscription_valid,
        } => put(
            &v1::CustomerStatus {
                customer: *customer,
                tradable: *tradable,
                subscription_valid: *subscription_valid,
            },
            buf,
        ),
        LedgerRecord::Posted {
            debit,
            credit,
            amount,
        } => put(
            &v1::Posted {
                debit: *debit,
                credit: *credit,
                amount: *amount,
            },
            buf,
        ),
        LedgerRecord::TransferOut {
            id,
            debit,
            credit,
            dest_shard,
            amount,
        } => put(
            &v1::TransferOut {
                id: *id,
                debit: *debit,
                credit: *credit,
                dest_shard: *dest_shard,
                amount: *amount,
            },
            buf,
        ),
        LedgerRecord::TransferIn {
            id,
            credit,
            amount,
            settled_below,
        } => put(
            &v2::TransferIn {
                id: *id,
                credit: *credit,
                amount: *amount,
                settled_below: *settled_below,
            },
            buf,
        ),
        LedgerRecord::TransferSettled { id } | LedgerRecord::TransferReturned { id } => {
            put(&v1::Transfer { id: *id }, buf)
        }
        LedgerRecord::RequestAccepted {
            accepted,
            reserves,
            named,
        } => put(
            &v3::RequestAccepted {
                accepted: *accepted,
                reserves: reserves.clone(),
                named: *named,
            },
            buf,
        ),
        LedgerRecord::EntryRequested {
            entry,
            customer,
            request_no,
            step,
            amount,
            debit,
            credit,
            at_ms,
        } => put(
            &v1::EntryRequested {
                entry: *entry,
                customer: *customer,
                request_no: *request_no,
                step: *step,
                amount: *amount,
                debit: *debit,
                credit: *credit,
                at_ms: *at_ms,
            },
            buf,
        ),
        LedgerRecord::EntryEvent {
            entry,
            event,
            at_ms,
        } => put(
            &v1::EntryEvent {
                entry: *entry,
                event: *event,
                at_ms: *at_ms,
            },
            buf,
        ),
        LedgerRecord::Answered {
            customer,
            request_no,
            answer,
        } => put(
            &v2::Answered {
                customer: *customer,
                request_no: *request_no,
                answer: *answer,
            },
            buf,
        ),
        LedgerRecord::Pruned { before } => put(&v1::Pruned { before: *before }, buf),
        LedgerRecord::Forgotten { accepted_before_ms } => put(
            &v1::Forgotten {
                accepted_before_ms: *accepted_before_ms,
            },
            buf,
        ),
        LedgerRecord::HoldCreated { hold, at_ms } => put(
            &v1::HoldCreated {
                id: hold.id,
                debit: hold.debit,
                credit: hold.credit,
                amount: hold.amount,
                expires_at_ms: hold.expires_at_ms,
                at_ms: *at_ms,
            },
            buf,
        ),
        LedgerRecord::HoldPosted { id, amount, at_ms } => put(
            &v1::HoldPosted {
                id: *id,
                amount: *amount,
                at_ms: *at_ms,
            },
            buf,
        ),
        LedgerRecord::HoldVoided { id, at_ms } | LedgerRecord::HoldExpired { id, at_ms } => put(
            &v1::HoldResolved {
                id: *id,
                at_ms: *at_ms,
            },
            buf,
        ),
        LedgerRecord::MerchantSet {
            no,
            version,
            merchant,
        } => put(
            &v1::MerchantSet {
                no: *no,
                version: *version,
                merchant: merchant.clone(),
            },
            buf,
        ),
        LedgerRecord::CardSet { version, card } => put(
            &v1::CardSet {
                version: *version,
                card: card.clone(),
            },
            buf,
        ),
        LedgerRecord::PaymentSet { payment } => put(
            &v2::PaymentSet {
                payment: payment.clone(),
            },
            buf,
        ),
        LedgerRecord::MemberSet { version, member } => put(
            &v1::MemberSet {
                version: *version,
                member: member.clone(),
            },
            buf,
        ),
        LedgerRecord::NoticeSet { notice } => put(
            &v1::NoticeSet {
                notice: notice.clone(),
            },
            buf,
        ),
        LedgerRecord::ApiKeySet { key } => put(&v1::ApiKeySet { key: *key }, buf),
        LedgerRecord::PayoutNoticeSet { notice } => put(
            &v1::PayoutNoticeSet {
                notice: notice.clone(),
            },
            buf,
        ),
        LedgerRecord::DivisionSet {
            version,
            account,
            payment,
        } => put(
            &v2::DivisionSet {
                version: *version,
                account: (**account).clone(),
                payment: payment.as_deref().cloned(),
            },
            buf,
        ),
        LedgerRecord::RelaySet { change } => put(&**change, buf),
    }
}

/// The format a payload is in, for tools (`omnibus wal dump`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    /// The first format: an unversioned archive.
    Unversioned,
    Versioned {
        kind: u16,
        version: u16,
    },
}

impl std::fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadFormat::Unversioned => f.write_str("v0"),
            PayloadFormat::Versioned { kind, version } => match RecordKind::from_code(*kind) {
                Some(k) => write!(f, "{}.v{version}", k.name()),
                None => write!(f, "kind{kind}.v{version}"),
            },
        }
    }
}

pub fn payload_format(payload: &[u8]) -> PayloadFormat {
    if payload.len() >= HEADER_BYTES && payload[0..2] == RECORD_MAGIC {
        PayloadFormat::Versioned {
            kind: u16::from_le_bytes([payload[4], payload[5]]),
            version: u16::from_le_bytes([payload[6], payload[7]]),
        }
    } else {
        PayloadFormat::Unversioned
    }
}

/// rkyv reads archives in place and needs them aligned; the log hands out 8-byte aligned
/// payloads, other callers (tests, tools reading files) may not.
pub(crate) fn aligned(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if (bytes.as_ptr() as usize) % 16 == 0 {
        std::borrow::Cow::Borrowed(bytes)
    } else {
        let mut copy = AlignedVec::<16>::with_capacity(bytes.len());
        copy.extend_from_slice(bytes);
        std::borrow::Cow::Owned(copy.into_vec())
    }
}

pub(crate) fn get<T>(what: &str, bytes: &[u8]) -> Result<T, DecodeError>
where
    T: rkyv::Archive,
    T::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    let invalid = |e: rancor::Error| DecodeError::Invalid {
        what: what.to_string(),
        cause: e.to_string(),
    };
    if (bytes.as_ptr() as usize) % 8 == 0 {
        rkyv::from_bytes::<T, rancor::Error>(bytes).map_err(invalid)
    } else {
        let mut copy = AlignedVec::<16>::with_capacity(bytes.len());
        copy.extend_from_slice(bytes);
        rkyv::from_bytes::<T, rancor::Error>(&copy).map_err(invalid)
    }
}

/// Reads a record back, whatever format version wrote it.
pub fn decode(payload: &[u8]) -> Result<LedgerRecord, DecodeError> {
    let (kind, version) = match payload_format(payload) {
        PayloadFormat::Unversioned => {
            return get::<RecordV0>("an unversioned record", payload).map(LedgerRecord::from)
        }
        PayloadFormat::Versioned { kind, version } => (kind, version),
    };
    if payload[2] != ENVELOPE_VERSION {
        return Err(DecodeError::UnknownEnvelope(payload[2]));
    }
    let body = &payload[HEADER_BYTES..];
    let unsupported = DecodeError::Unsupported { kind, version };
    let kind = RecordKind::from_code(kind).ok_or(unsupported.clone())?;
    let what = format!("record {} (version {version})", kind.name());
    if version == 0 || version > kind.version() {
        return Err(unsupported);
    }
    Ok(match (kind, version) {
        (RecordKind::Genesis, _) => {
            let g = get::<v1::Genesis>(&what, body)?;
            LedgerRecord::Genesis {
                shard: g.shard,
                shards: g.shards,
                fundings: g.fundings,
            }
        }
        (RecordKind::CustomerOpened, _) => {
            LedgerRecord::CustomerOpened(get::<CustomerOpened>(&what, body)?)
        }
        (RecordKind::CustomerStatus, _) => {
            let s = get::<v1::CustomerStatus>(&what, body)?;
            LedgerRecord::CustomerStatus {
                customer: s.customer,
                tradable: s.tradable,
                subscription_valid: s.subscription_valid,
            }
        }
        (RecordKind::Posted, _) => {
            let p = get::<v1::Posted>(&what, body)?;
            LedgerRecord::Posted {
                debit: p.debit,
                credit: p.credit,
                amount: p.amount,
            }
        }
        (RecordKind::TransferOut, _) => {
            let t = get::<v1::TransferOut>(&what, body)?;
            LedgerRecord::TransferOut {
                id: t.id,
                debit: t.debit,
                credit: t.credit,
                dest_shard: t.dest_shard,
                amount: t.amount,
            }
        }
        (RecordKind::TransferIn, 1) => {
            let t = get::<v1::TransferIn>(&what, body)?;
            LedgerRecord::TransferIn {
                id: t.id,
                credit: t.credit,
                amount: t.amount,
                settled_below: 0,
            }
        }
        (RecordKind::TransferIn, _) => {
            let t = get::<v2::TransferIn>(&what, body)?;
            LedgerRecord::TransferIn {
                id: t.id,
                credit: t.credit,
                amount: t.amount,
                settled_below: t.settled_below,
            }
        }
        (RecordKind::TransferSettled, _) => LedgerRecord::TransferSettled {
            id: get::<v1::Transfer>(&what, body)?.id,
        },
        (RecordKind::TransferReturned, _) => LedgerRecord::TransferReturned {
            id: get::<v1::Transfer>(&what, body)?.id,
        },
        (RecordKind::RequestAccepted, 1) => LedgerRecord::RequestAccepted {
            accepted: get::<Accepted>(&what, body)?,
            reserves: None,
            named: Named::default(),
        },
        (RecordKind::RequestAccepted, 2) => {
            let r = get::<v2::RequestAccepted>(&what, body)?;
            LedgerRecord::RequestAccepted {
                accepted: r.accepted,
                reserves: r.reserves,
                named: Named::default(),
            }
        }
        (RecordKind::RequestAccepted, _) => {
            let r = get::<v3::RequestAccepted>(&what, body)?;
            LedgerRecord::RequestAccepted {
                accepted: r.accepted,
                reserves: r.reserves,
                named: r.named,
            }
        }
        (RecordKind::EntryRequested, _) => {
            let e = get::<v1::EntryRequested>(&what, body)?;
            LedgerRecord::EntryRequested {
                entry: e.entry,
                customer: e.customer,
                request_no: e.request_no,
                step: e.step,
                amount: e.amount,
                debit: e.debit,
                credit: e.credit,
                at_ms: e.at_ms,
            }
        }
        (RecordKind::EntryEvent, _) => {
            let e = get::<v1::EntryEvent>(&what, body)?;
            LedgerRecord::EntryEvent {
                entry: e.entry,
                event: e.event,
                at_ms: e.at_ms,
            }
        }
        (RecordKind::Answered, 1) => {
            let a = get::<v1::Answered>(&what, body)?;
            LedgerRecord::Answered {
                customer: a.customer,
                request_no: a.request_no,
                answer: a.answer.into(),
            }
        }
        (RecordKind::Answered, _) => {
            let a = get::<v2::Answered>(&what, body)?;
            LedgerRecord::Answered {
                customer: a.customer,
                request_no: a.request_no,
                answer: a.answer,
            }
        }
        (RecordKind::Pruned, _) => LedgerRecord::Pruned {
            before: get::<v1::Pruned>(&what, body)?.before,
        },
        (RecordKind::Forgotten, _) => LedgerRecord::Forgotten {
            accepted_before_ms: get::<v1::Forgotten>(&what, body)?.accepted_before_ms,
        },
        (RecordKind::HoldCreated, _) => {
            let h = get::<v1::HoldCreated>(&what, body)?;
            LedgerRecord::HoldCreated {
                hold: NewHold {
                    id: h.id,
                    debit: h.debit,
                    credit: h.credit,
                    amount: h.amount,
                    expires_at_ms: h.expires_at_ms,
                },
                at_ms: h.at_ms,
            }
        }
        (RecordKind::HoldPosted, _) => {
            let h = get::<v1::HoldPosted>(&what, body)?;
            LedgerRecord::HoldPosted {
                id: h.id,
                amount: h.amount,
                at_ms: h.at_ms,
            }
        }
        (RecordKind::HoldVoided, _) => {
            let h = get::<v1::HoldResolved>(&what, body)?;
            LedgerRecord::HoldVoided {
                id: h.id,
                at_ms: h.at_ms,
            }
        }
        (RecordKind::HoldExpired, _) => {
            let h = get::<v1::HoldResolved>(&what, body)?;
            LedgerRecord::HoldExpired {
                id: h.id,
                at_ms: h.at_ms,
            }
        }
        (RecordKind::MerchantSet, _) => {
            let m = get::<v1::MerchantSet>(&what, body)?;
            LedgerRecord::MerchantSet {
                no: m.no,
                version: m.version,
                merchant: m.merchant,
            }
        }
        (RecordKind::CardSet, _) => {
            let c = get::<v1::CardSet>(&what, body)?;
            LedgerRecord::CardSet {
                version: c.version,
                card: c.card,
            }
        }
        (RecordKind::MemberSet, _) => {
            let m = get::<v1::MemberSet>(&what, body)?;
            LedgerRecord::MemberSet {
                version: m.version,
                member: m.member,
            }
        }
        (RecordKind::ApiKeySet, _) => LedgerRecord::ApiKeySet {
            key: get::<v1::ApiKeySet>(&what, body)?.key,
        },
        (RecordKind::NoticeSet, _) => LedgerRecord::NoticeSet {
            notice: get::<v1::NoticeSet>(&what, body)?.notice,
        },
        (RecordKind::PayoutNoticeSet, _) => LedgerRecord::PayoutNoticeSet {
            notice: get::<v1::PayoutNoticeSet>(&what, body)?.notice,
        },
        (RecordKind::DivisionSet, 1) => {
            let d = get::<v1::DivisionSet>(&what, body)?;
            LedgerRecord::DivisionSet {
                version: d.version,
                account: Box::new(d.account),
                payment: None,
            }
        }
        (RecordKind::DivisionSet, _) => {
            let d = get::<v2::DivisionSet>(&what, body)?;
            LedgerRecord::DivisionSet {
                version: d.version,
                account: Box::new(d.account),
                payment: d.payment.map(Box::new),
            }
        }
        (RecordKind::RelaySet, _) => LedgerRecord::RelaySet {
            change: Box::new(get::<crate::payments::relay::RelayChange>(&what, body)?),
        },
        (RecordKind::PaymentSet, 1) => LedgerRecord::PaymentSet {
            payment: get::<v1::PaymentSet>(&what, body)?.payment.into(),
        },
        (RecordKind::PaymentSet, _) => LedgerRecord::PaymentSet {
            payment: get::<v2::PaymentSet>(&what, body)?.payment,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_codes_are_distinct_and_round_trip() {
        let mut codes: Vec<u16> = RecordKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RecordKind::ALL.len());
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(RecordKind::from_code(0), None);
    }

    #[test]
    fn a_payload_from_a_newer_build_is_refused_by_name() {
        let mut payload = Encoder::default()
            .encode(&LedgerRecord::TransferSettled { id: TransferId(1) })
            .to_vec();
        payload[6] = 9;
        let mut aligned = AlignedVec::<16>::new();
        aligned.extend_from_slice(&payload);
        assert_eq!(
            decode(&aligned),
            Err(DecodeError::Unsupported {
                kind: RecordKind::TransferSettled.code(),
                version: 9
            })
        );
    }
}
