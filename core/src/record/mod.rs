//! The records a shard writes to its write-ahead log.
//!
//! A shard's books change only by applying these records in LSN order
//! ([`crate::ledger::ShardBooks::apply`]); replaying a log therefore rebuilds exactly the
//! state that was acknowledged. Every record is self-contained and fixed-size apart from
//! the genesis funding list, so replay allocates almost nothing.
//!
//! [`LedgerRecord`] is the engine's own type and may change freely; what the log holds is
//! its encoding by [`codec`]: each record kind with a stable code and a version of its
//! own, so that a log written by an older build stays readable (docs/wal-format.md,
//! "Payload versions").

mod actor;
pub mod codec;
pub mod frozen;
mod hold;
mod legacy;

pub use actor::ActorId;
pub use hold::{HoldId, NewHold};

use crate::ids::{
    AccountId, AccountNo, BankCode, CustomerId, MerchantNo, ParentAccount, RequestNo, TransferId,
};
use crate::money::Amount;
use crate::payments::merchant::Merchant;
use crate::payments::prepaid_card::PrepaidCard;
use crate::request_log::{Event, Step};
use crate::saga::{Accepted, Answer, EntryId, Reserve};

/// A customer's signature key, registered when the account is opened (SPEC §5a, S6):
/// the certificate serial number and the ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct SigningKey {
    pub cert_serial: u64,
    pub public_key: [u8; 32],
}

/// Opening a customer financial company account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct CustomerOpened {
    pub customer: CustomerId,
    /// The bank of the customer-linked account (10); a withdrawal firm bank.
    pub linked_bank: BankCode,
    pub linked_account: AccountNo,
    /// S31 / S71: the user may trade.
    pub tradable: bool,
    /// S32 / S113: the securities (financial company account) subscription is valid.
    pub subscription_valid: bool,
    pub signing_key: Option<SigningKey>,
}

/// One write-ahead-log record of a shard. Not archived as it is: [`codec`] gives each
/// kind its own versioned encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerRecord {
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
    /// `settled_below`: every transfer of the same source with a smaller sequence number
    /// is settled or returned there and will never be delivered again, so the destination
    /// need not remember them (0: nothing known).
    TransferIn {
        id: TransferId,
        credit: AccountId,
        amount: Amount,
        settled_below: u64,
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
    /// A charge or remittance passed validation and will be carried out. `reserves` is what
    /// it sets aside before its first call (`None`: a request of a log written before
    /// reservations, which holds per entry). `named`: the accounts beyond the customer's
    /// own its legs name (empty in logs written before version 3 of the record).
    RequestAccepted {
        accepted: Accepted,
        reserves: Option<Vec<Reserve>>,
        named: crate::saga::Named,
    },
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
        answer: Answer,
    },
    /// Forget the requests of request dates before `before` that are settled (answered,
    /// every entry final, nothing owed): the idempotency window has passed for them. The
    /// first rule, kept to replay old logs: it trusted the client's date.
    Pruned {
        before: crate::request::RequestDate,
    },
    /// Forget the settled requests (answered, every entry final, nothing owed) the engine
    /// accepted before `accepted_before_ms`: the idempotency window, counted from the
    /// engine's own acceptance time, has passed for them.
    Forgotten {
        accepted_before_ms: u64,
    },
    /// A two-phase hold is created at `at_ms` (engine clock): its amount is held on its
    /// debit account until it is posted, voided or expires.
    HoldCreated {
        hold: NewHold,
        at_ms: u64,
    },
    /// A hold is posted: `amount` (at most the held amount) moves from its debit to its
    /// credit account, and the rest is released.
    HoldPosted {
        id: HoldId,
        amount: Amount,
        at_ms: u64,
    },
    /// A hold is voided: released, nothing moves.
    HoldVoided {
        id: HoldId,
        at_ms: u64,
    },
    /// A hold fell due (`at_ms` at or after its expiry, on the engine's clock): released,
    /// nothing moves.
    HoldExpired {
        id: HoldId,
        at_ms: u64,
    },
    /// A merchant of the instruments layer at `version` (docs/payments.md): written to
    /// every shard's log at onboarding and at every change; applying it keeps the higher
    /// version, so a repeat or a late copy changes nothing.
    MerchantSet {
        no: MerchantNo,
        version: u32,
        merchant: Merchant,
    },
    /// A prepaid card of seed 004 at `version` (`ledger/cards.rs`): written in its owner's
    /// shard at its issue and at every change; applying it keeps the higher version.
    CardSet {
        version: u32,
        card: PrepaidCard,
    },
    /// A payment of `payment_log` at its version (`ledger/payments.rs`): written at its
    /// authorization and at every change; applying it keeps the higher version.
    PaymentSet {
        payment: crate::payments::payment::PaymentEntry,
    },
    /// A notice for the notification sink (a card's next-day statement) as it stands:
    /// written when it is made, before each delivery is asked (its attempt counted), and
    /// when it is delivered (`ledger/notices.rs`).
    NoticeSet {
        notice: crate::statement::Notice,
    },
    /// A member at its version (`ledger/members.rs`), in its customer's shard: written at
    /// its registration and at every login that changes its count of failures.
    MemberSet {
        version: u32,
        member: crate::payments::member::Member,
    },
    /// An API key, as made or revoked (`ledger/api_keys.rs`), in shard 0 only. Never its
    /// secret, which derives from a server key outside the log (docs/auth.md).
    ApiKeySet {
        key: crate::payments::api_key::ApiKey,
    },
    /// A payout's settlement statement for its merchant, as it stands: written when the
    /// payout starts, before each delivery is asked, and when it is delivered
    /// (`ledger/notices.rs`).
    PayoutNoticeSet {
        notice: crate::payments::payout_notice::PayoutNotice,
    },
    /// A division account of seed 001(a) at `version` (`ledger/divisions.rs`): written in
    /// its master's shard at its issue and at every change; applying it keeps the higher
    /// version.
    ///
    /// A payment that changes the account's counters (its authorization reserving the
    /// budget, its sale committing or releasing it, a refund giving back) travels in the
    /// same record (version 2), so that the payment and the counters it moves are durable
    /// together or not at all: a log torn between two records could otherwise keep one
    /// without the other.
    DivisionSet {
        version: u32,
        /// Boxed: the largest record by far, which would otherwise size every record.
        account: Box<crate::payments::division::DivisionAccount>,
        /// The payment written with it (`payment_set`'s content), if any.
        payment: Option<Box<crate::payments::payment::PaymentEntry>>,
    },
    /// A change of the virtual-account relay of seed 001(b) (`payments/relay`), in its
    /// partner's shard: the partner, the VAs, the lease and the deposit one decision
    /// touches, whole, so that a deposit, its lease and its VA are durable together.
    /// Applying one overwrites what the relay's book holds of each.
    RelaySet {
        /// Boxed: large and rare beside the ledger's records.
        change: Box<crate::payments::relay::RelayChange>,
    },
}

impl LedgerRecord {
    /// The actor a record belongs to, for reading one actor's log back alone.
    pub fn actor(&self) -> ActorId {
        match self {
            LedgerRecord::Genesis { .. }
            | LedgerRecord::TransferIn { .. }
            | LedgerRecord::TransferSettled { .. }
            | LedgerRecord::TransferReturned { .. } => ActorId::Shard,
            LedgerRecord::CustomerOpened(opened) => ActorId::Customer(opened.customer),
            LedgerRecord::CustomerStatus { customer, .. }
            | LedgerRecord::EntryRequested { customer, .. }
            | LedgerRecord::Answered { customer, .. } => ActorId::Customer(*customer),
            LedgerRecord::RequestAccepted { accepted, .. } => ActorId::Customer(accepted.customer),
            LedgerRecord::EntryEvent { .. }
            | LedgerRecord::Pruned { .. }
            | LedgerRecord::Forgotten { .. }
            | LedgerRecord::HoldPosted { .. }
            | LedgerRecord::HoldVoided { .. }
            | LedgerRecord::HoldExpired { .. }
            | LedgerRecord::MerchantSet { .. }
            | LedgerRecord::PaymentSet { .. }
            | LedgerRecord::NoticeSet { .. }
            | LedgerRecord::MemberSet { .. }
            | LedgerRecord::ApiKeySet { .. }
            | LedgerRecord::PayoutNoticeSet { .. }
            | LedgerRecord::RelaySet { .. } => ActorId::Shard,
            LedgerRecord::CardSet { card, .. } => ActorId::Customer(card.owner),
            LedgerRecord::DivisionSet { account, .. } => ActorId::Customer(account.master),
            LedgerRecord::HoldCreated { hold, .. } => {
                ActorId::owner_of(hold.debit).unwrap_or(ActorId::Shard)
            }
            LedgerRecord::Posted { debit, credit, .. }
            | LedgerRecord::TransferOut { debit, credit, .. } => ActorId::owner_of(*debit)
                .or_else(|| ActorId::owner_of(*credit))
                .unwrap_or(ActorId::Shard),
        }
    }
}
