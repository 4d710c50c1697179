//! The messages a shard takes from the engine handle and from its peers' balancer:
//! data only, so that a sender names what it sends, not the handlers (`router.rs`,
//! `queries.rs`, `lifecycle.rs`).

use std::sync::Arc;

use actix::{Addr, Message};
use omnibus_core::ledger::{Hold, HoldAnswer, HoldId, MerchantEntry, NewHold};
use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountId, Amount, CustomerId, Money, ParentAccount, RemitRequest, RequestNo};

use super::ShardActor;
use crate::api::{
    CustomerBalance, Outcome, Receipt, RequestView, ShardTotals, SigningText, Submission,
};
use crate::error::EngineError;
use crate::reply::{Collector, Reply};
use crate::supervisors::SupervisionReport;

/// The addresses of every shard, this one included, in shard order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Peers(pub Vec<Addr<ShardActor>>);

/// Open a customer account in this shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Open {
    pub opened: CustomerOpened,
    pub reply: Reply<Receipt>,
}

/// Write a merchant at a version to this shard's log (`shard/merchants.rs`): every shard
/// holds every merchant (docs/payments.md).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMerchant {
    pub entry: MerchantEntry,
    pub reply: Reply<Receipt>,
}

/// Issue a prepaid card to a customer of this shard (`cards.rs`): the shard gives it the
/// next number among the customer's cards and seals its number and password under
/// `keys`. Answered with the card once it is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IssueCard {
    pub customer: omnibus_core::CustomerId,
    pub name: omnibus_core::ids::CardName,
    pub number: omnibus_core::payments::card_number::CardNumber,
    pub password: omnibus_core::payments::payment_request::SecretText,
    pub physical: bool,
    pub notify_by_email: bool,
    /// `payments.cards_per_customer_max`.
    pub cards_max: u16,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    pub reply: Reply<omnibus_core::ledger::CardEntry>,
}

/// A change of a card's status by its owner (D-5.3, D-5.13): answered with the card as it
/// is after it, once durable. A change that leaves the status as it is writes nothing.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeCard {
    pub card: omnibus_core::payments::prepaid_card::CardId,
    pub action: omnibus_core::payments::prepaid_card::CardAction,
    pub reply: Reply<omnibus_core::ledger::CardEntry>,
}

/// One prepaid card of a customer of this shard, if it exists.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CardQuery {
    pub card: omnibus_core::payments::prepaid_card::CardId,
    pub reply: Reply<Option<omnibus_core::ledger::CardEntry>>,
}

/// Authorize a direct card payment on its payer's shard (`payments.rs`): §6.2 steps 2–9
/// on the card, then the payment on record, DECLINED with its code or REQUESTED with the
/// number of its sale. Answered with the payment once it is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AuthorizeCardPayment {
    /// The payment as it would be recorded: its id is given here, its state and sale
    /// are decided here.
    pub payment: omnibus_core::payments::payment::PaymentEntry,
    pub password: omnibus_core::payments::payment_request::SecretText,
    pub ask: omnibus_core::payments::controls::Ask,
    /// `payments.sale_max_krw` (D-0.1).
    pub sale_max_krw: u64,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    /// How the card is being used: a direct payment (its password checked here), a
    /// wallet checkout's confirmation (D-5.17: the password checked, nothing recorded but
    /// the card's counters, the funds not judged yet), or a payment of a confirmed
    /// checkout (the password was checked at the checkout).
    pub mode: CardUse,
    pub reply: Reply<omnibus_core::payments::payment::PaymentEntry>,
}

/// Put a member on record over the version `over` (`None`: a new member, refused if the
/// ID is taken); answered with its new version once durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMember {
    pub member: omnibus_core::payments::member::Member,
    pub over: Option<u32>,
    pub reply: Reply<u32>,
}

/// Writes an API key as made or revoked (shard 0 only; `engine/api_keys.rs` decides).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetApiKey {
    pub key: omnibus_core::payments::api_key::ApiKey,
    pub reply: Reply<()>,
}

/// A member and its version, if the shard holds it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MemberQuery {
    pub id: omnibus_core::ids::MemberId,
    pub reply: Reply<Option<(u32, omnibus_core::payments::member::Member)>>,
}

/// See [`AuthorizeCardPayment::mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardUse {
    Direct,
    ConfirmCheckout,
    ConfirmedCheckout,
}

/// Put a payment on record: a new one (`new_id`: the shard gives it its next id) or a
/// newer version of one it holds. Answered with it once durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordPayment {
    pub payment: omnibus_core::payments::payment::PaymentEntry,
    pub new_id: bool,
    /// Whether what the record says is fixed already by durable records (a payment's
    /// answer, once its sale's answer is durable: after a crash, the payment is completed
    /// again from its sale): answered without waiting for this record to be durable.
    pub fixed: bool,
    /// Write it only if the payment's sale was never asked (a division payment declined
    /// for its top-up, while a resubmission may have asked the sale meanwhile): else the
    /// payment on record is answered unchanged, and its sale decides it.
    pub unless_sale_asked: bool,
    pub reply: Reply<omnibus_core::payments::payment::PaymentEntry>,
}

/// One payment of this shard, if it holds it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PaymentQuery {
    pub id: omnibus_core::payments::payment::PaymentId,
    pub reply: Reply<Option<omnibus_core::payments::payment::PaymentEntry>>,
}

/// Every merchant this shard's books hold, at the version they hold.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MerchantsQuery {
    pub reply: Reply<Vec<MerchantEntry>>,
}

/// Change a customer's validity (tradable, securities subscription valid).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus {
    pub customer: CustomerId,
    pub tradable: bool,
    pub subscription_valid: bool,
    pub reply: Reply<Receipt>,
}

/// A posting whose debit account is booked in this shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Post {
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Amount,
    pub reply: Reply<Receipt>,
}

/// Many postings whose debit accounts are booked in this shard, answered into one batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PostBatch {
    pub items: Vec<(usize, AccountId, AccountId, Amount)>,
    pub collector: Arc<Collector<Receipt>>,
}

/// A batch the engine sends a shard: answered item by item if it never gets there.
pub trait BatchMessage {
    /// Answers every item with `error`.
    fn fail(self, error: EngineError);
}

impl BatchMessage for PostBatch {
    fn fail(self, error: EngineError) {
        for (index, ..) in self.items {
            Reply::Slot(self.collector.clone(), index).send(Err(error.clone()));
        }
    }
}

/// A charge or remittance for one of this shard's customers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubmitRequest {
    pub submission: Submission,
    pub reply: Reply<Outcome>,
}

/// Many charges and remittances for this shard's customers, answered into one batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubmitBatch {
    pub items: Vec<(usize, Submission)>,
    pub collector: Arc<Collector<Outcome>>,
}

impl BatchMessage for SubmitBatch {
    fn fail(self, error: EngineError) {
        for (index, _) in self.items {
            Reply::Slot(self.collector.clone(), index).send(Err(error.clone()));
        }
    }
}

/// Issue a signing text for one of this shard's customers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IssueTextRequest {
    pub request: RemitRequest,
    pub reply: Reply<SigningText>,
}

/// A request with all its log entries, as of everything durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ViewRequest {
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub reply: Reply<Option<RequestView>>,
}

/// Run every supervisor pass of this shard once, now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Supervise {
    pub reply: tokio::sync::oneshot::Sender<SupervisionReport>,
}

/// Move `amount` of this shard's slice of `parent` to the same parent's slice in
/// `dest_shard`: a transfer between shards, by the slice's own actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MoveSlice {
    /// A sliced account: a parent account, or a merchant's `merchant[m]`.
    pub account: AccountId,
    pub dest_shard: u16,
    pub amount: Amount,
    pub reply: Reply<Receipt>,
}

/// Entry numbers one reconciliation page covers.
pub const ENTRIES_PAGE: u64 = 4_096;

/// What a query asks of one shard.
#[derive(Clone, Copy, Debug)]
pub enum QueryKind {
    /// A customer's balance and available amount.
    Customer(CustomerId),
    /// Every parent slice of the shard.
    Slices,
    /// The shard's totals for the conservation check.
    Totals,
    /// The books' running sum and the same added up account by account: O(customers) on
    /// the shard's thread, for audits and tests, never for metrics.
    Audit,
    /// Any account as this shard books it (its slice, for a parent).
    Account(AccountId),
    /// What a merchant's slice in this shard holds free: its balance less what payouts in
    /// flight hold and what refunds to be tried again owe (answered as `Account`).
    MerchantAvailable(omnibus_core::ids::MerchantNo),
    /// The request-log entries numbered from `from_seq` on, at most
    /// [`ENTRIES_PAGE`] entry numbers of them, with their requests' dates, for
    /// reconciliation: one bounded slice per message, so that a report over millions of
    /// entries never holds the shard's thread for long.
    Entries { from_seq: u64 },
    /// A merchant's payments approved in `[from_ms, to_ms)` in this shard, for a payout's
    /// statement: totals, and at most `lines_max` lines.
    MerchantPayments {
        merchant: omnibus_core::ids::MerchantNo,
        from_ms: u64,
        to_ms: u64,
        lines_max: u32,
    },
    /// What is on its way into a card's pocket (`ShardBooks::pocket_incoming`), answered
    /// as `Account`.
    PocketIncoming {
        card: omnibus_core::payments::prepaid_card::CardId,
    },
    /// A card's statement of a KST day: its notice if one was made, else the day as it
    /// stands (`None` inside: the pocket did not move that day, or it is no longer kept).
    CardStatement {
        card: omnibus_core::payments::prepaid_card::CardId,
        day: u32,
    },
    /// The payouts of a merchant this shard accepted in `[from_ms, to_ms)`, with when.
    MerchantPayouts {
        merchant: omnibus_core::ids::MerchantNo,
        from_ms: u64,
        to_ms: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryAnswer {
    Customer(Box<CustomerBalance>),
    /// Every slice: its balance and what is available (the balance less holds).
    Slices(Vec<(ParentAccount, Money, Money)>),
    Totals(Box<ShardTotals>),
    Audit {
        kept: Money,
        scanned: Money,
    },
    Account(Money),
    Entries {
        entries: Vec<(omnibus_core::saga::LogEntry, omnibus_core::RequestDate)>,
        /// Where the next page starts; `None` after the last.
        next_seq: Option<u64>,
    },
    MerchantPayments(omnibus_core::payments::payout::PeriodPayments),
    MerchantPayouts(Vec<RequestNo>),
    CardStatement(Option<Box<crate::api::CardStatement>>),
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Query {
    pub kind: QueryKind,
    pub reply: Reply<QueryAnswer>,
}

/// Stop taking work, let what was applied become durable, sync and close the log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    pub done: std::sync::mpsc::Sender<Result<(), String>>,
}

/// Create a two-phase hold owned by one of this shard's customers (`shard/holds.rs`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CreateHold {
    pub hold: NewHold,
    pub reply: Reply<HoldAnswer>,
}

/// Post a hold of this shard: `amount`, or all of it when `None`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PostHold {
    pub id: HoldId,
    pub amount: Option<Amount>,
    pub reply: Reply<HoldAnswer>,
}

/// Void a hold of this shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct VoidHold {
    pub id: HoldId,
    pub reply: Reply<HoldAnswer>,
}

/// Which holds a [`HoldsQuery`] asks for.
#[derive(Clone, Copy, Debug)]
pub enum HoldsWanted {
    One(HoldId),
    /// Every hold (open and resolved) debiting the account, as this shard books it.
    Of(AccountId),
}

/// Holds as of everything durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HoldsQuery {
    pub wanted: HoldsWanted,
    pub reply: Reply<Vec<Hold>>,
}

/// Run an expiry pass of the shard's holds now (the shard sends it to itself).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ExpireHolds;

/// A division account to issue (I3): its number and activation code drawn by the engine,
/// the slave and the master's controls.
pub struct NewDivision {
    pub number: omnibus_core::payments::division::DivisionNumber,
    pub activation_code: omnibus_core::payments::payment_request::SecretText,
    pub slave: omnibus_core::payments::division::Slave,
    pub controls: omnibus_core::payments::division::DivisionControls,
    pub auto_top_up: bool,
}

/// Issue a master's division accounts (I1, I3; `divisions.rs`): all or none, each
/// PENDING_ACTIVATION with its activation code sealed; answered once durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IssueDivisions {
    pub master: omnibus_core::CustomerId,
    /// The paying account the master named: it must be the master's linked account
    /// (D-1.2).
    pub linked: (omnibus_core::BankCode, omnibus_core::AccountNo),
    pub slaves: Vec<NewDivision>,
    /// Check only (I1, before the bank is asked at I2): answer an empty list if the
    /// issue would be made, write nothing.
    pub check_only: bool,
    /// `payments.divisions_per_master_max`.
    pub max: u16,
    pub sale_max_krw: u64,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    pub reply: Reply<Vec<omnibus_core::ledger::DivisionEntry>>,
}

/// A master's division accounts (`Some(seq)`: that one only).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DivisionQuery {
    pub master: omnibus_core::CustomerId,
    pub seq: Option<omnibus_core::ids::CardSeq>,
    pub reply: Reply<Vec<omnibus_core::ledger::DivisionEntry>>,
}

/// The slave's activation (I5, D-1.12): the code, the identity as the mobile check found
/// it, and the new PIN.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ActivateDivision {
    pub id: omnibus_core::payments::division::DivisionId,
    pub code: omnibus_core::payments::payment_request::SecretText,
    pub identity: omnibus_core::payments::division::Slave,
    /// The identity check's provider found the phone held by that person.
    pub identity_verified: bool,
    pub pin: omnibus_core::payments::payment_request::SecretText,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    pub reply: Reply<omnibus_core::ledger::DivisionEntry>,
}

/// The master's change of a division account (F3): a status action (a PIN reset comes
/// with the new activation code), or new controls.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeDivision {
    pub id: omnibus_core::payments::division::DivisionId,
    pub action: Option<omnibus_core::payments::division::DivisionAction>,
    pub new_code: Option<omnibus_core::payments::payment_request::SecretText>,
    pub controls: Option<omnibus_core::payments::division::DivisionControls>,
    pub sale_max_krw: u64,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    pub reply: Reply<omnibus_core::ledger::DivisionEntry>,
}

/// The slave's change of their own PIN (F3): the current PIN, checked as a payment
/// checks it (a wrong one counts toward the lock), then the new one sealed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeDivisionPin {
    pub id: omnibus_core::payments::division::DivisionId,
    pub current: omnibus_core::payments::payment_request::SecretText,
    pub new: omnibus_core::payments::payment_request::SecretText,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    pub reply: Reply<omnibus_core::ledger::DivisionEntry>,
}

/// A division account's authorizations, approved and declined, newest first, at most
/// `limit` of them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DivisionAuthorizations {
    pub id: omnibus_core::payments::division::DivisionId,
    pub limit: usize,
    pub reply: Reply<Vec<omnibus_core::payments::payment::PaymentEntry>>,
}

/// Authorize a division payment on its master's shard (§1.3 F2, D-1.9): §6.2 steps 2–9
/// on the account, the budget reserved with the payment REQUESTED (or DECLINED with its
/// code), in one step on the master's thread.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AuthorizeDivisionPayment {
    pub payment: omnibus_core::payments::payment::PaymentEntry,
    pub pin: omnibus_core::payments::payment_request::SecretText,
    pub ask: omnibus_core::payments::controls::Ask,
    pub sale_max_krw: u64,
    pub keys: std::sync::Arc<crate::keys::PaymentKeys>,
    /// The payment, and the deficit a top-up from the master's linked account must bring
    /// before the sale (0: the balance covers it; only with `auto_top_up`).
    pub reply: Reply<(omnibus_core::payments::payment::PaymentEntry, u64)>,
}
