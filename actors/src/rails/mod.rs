//! The outside systems (rails): the bank firm system (BS), the securities firm system
//! (SS), the financial company server and the authentication server, as async traits.
//!
//! Every call names a [`RailRequestId`], the key the outside system executes by and the
//! key of the confirm inquiry: a call repeated with the same id is executed at most once,
//! and `confirm` answers from the outside system's own record of that exact id (after a
//! confirm says "not executed", the system never executes that id). The engine applies
//! its own timeouts around these futures (SPEC §4); a future that never resolves is a
//! timeout, one that resolves after the timeout is a late answer, still reflected.
//!
//! [`sim`] holds the in-process simulators the engine runs on by default.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use omnibus_core::ids::MerchantNo;
use omnibus_core::record::SigningKey;
use omnibus_core::{AccountNo, Amount, BankCode, CustomerId, Payee, RequestDate, RequestNo};
use thiserror::Error;

pub mod sim;

/// A boxed, sendable future: what every rail method returns, so the traits stay
/// object-safe and any transport (HTTP, MQ, in-process) can implement them.
pub type RailFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The id of one call to an outside system: the request-log entry and its attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RailRequestId {
    pub entry: u64,
    pub attempt: u32,
}

impl fmt::Display for RailRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{:016x}-{}", self.entry, self.attempt)
    }
}

/// The outside system's answer to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RailAnswer {
    /// Executed (SUCCESS).
    Done,
    /// Not executed (FAIL), with the system's reason.
    Refused { reason: String },
}

/// The answer to a confirm inquiry about one request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    Executed,
    /// Not executed, and it never will be: the system refuses that id from now on.
    NotExecuted,
}

/// The outside system could not be asked (connection refused, malformed answer). Not an
/// answer about the request: the engine treats it like a timeout.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{system} unreachable: {what}")]
pub struct RailError {
    pub system: &'static str,
    pub what: String,
}

/// A withdrawal from a customer-linked account into the withdrawal firm parent account
/// at the same bank (A1), by the bank firm system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: RailRequestId,
    pub customer: CustomerId,
    pub bank: BankCode,
    pub linked_account: AccountNo,
    pub amount: Amount,
}

/// Where a bank deposit comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepositSource {
    /// A remittance (X2): from the deposit firm parent account at this bank.
    DepositFirm(BankCode),
    /// A refund of a charge that failed for good: from the withdrawal firm parent account
    /// at this bank, back to the linked account.
    WithdrawalFirm(BankCode),
}

/// A deposit into an account at a bank (X2, or a refund), by the bank firm system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    pub id: RailRequestId,
    pub customer: CustomerId,
    pub from: DepositSource,
    pub to_bank: BankCode,
    pub to_account: AccountNo,
    pub amount: Amount,
}

/// A settlement sweep (SPEC §2: B1, B2, Y2, Y3): a transfer between two of the company's
/// own parent accounts, by the bank firm system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub id: RailRequestId,
    pub from: omnibus_core::ParentAccount,
    pub to: omnibus_core::ParentAccount,
    pub amount: Amount,
}

/// A transfer between the financial company parent account and an account at the
/// securities firm, by the securities firm system (A2 and recovery: increase; X1:
/// decrease). `account` is the customer's financial company account, or the pocket a
/// charge fills (INSTRUMENTS.md D-5.7); `customer` is the customer the request is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecuritiesTransfer {
    pub id: RailRequestId,
    pub customer: CustomerId,
    pub account: SecuritiesAccount,
    pub amount: Amount,
}

impl SecuritiesAccount {
    /// The account at the securities firm that a ledger account is, if it is one.
    pub fn of(account: omnibus_core::AccountId) -> Option<SecuritiesAccount> {
        use omnibus_core::AccountId;
        match account {
            AccountId::Customer { customer } => Some(SecuritiesAccount::Customer(customer)),
            AccountId::Merchant { merchant } => Some(SecuritiesAccount::Merchant(merchant)),
            AccountId::Pocket { card, customer } => Some(SecuritiesAccount::Pocket(customer, card)),
            _ => None,
        }
    }
}

/// An account at the securities firm that `SS.transfer` moves money between
/// (INSTRUMENTS.md §0.3): a customer's financial company account, or a merchant's
/// (`merchant[m]`), or the pocket of a customer's prepaid card (`pocket[c,card]`,
/// D-5.1). Suspense comes with the instruments that need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecuritiesAccount {
    Customer(CustomerId),
    Merchant(MerchantNo),
    Pocket(CustomerId, omnibus_core::ids::CardSeq),
}

/// `SS.transfer`: the securities firm moves money between two of its own accounts in one
/// atomic step (a sale: customer → merchant; its reversal, a cancel or a refund: merchant
/// → customer). Logged in `securities_firm_request_log` with op TRANSFER, confirmed by
/// request id like every call. `customer` is the customer the request is for (the payer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountTransfer {
    pub id: RailRequestId,
    pub customer: CustomerId,
    pub from: SecuritiesAccount,
    pub to: SecuritiesAccount,
    pub amount: Amount,
}

/// The payment instruction to the financial company server (SPEC §5a, seed [0110]): the
/// message fields, the transaction original text, its signature and the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentInstruction {
    pub id: RailRequestId,
    pub customer: CustomerId,
    pub request_date: RequestDate,
    pub request_no: RequestNo,
    pub amount: Amount,
    pub payee: Payee,
    pub original_text: String,
    pub signature: [u8; 64],
    pub certificate: SigningKey,
}

/// `BS.verify_account` (INSTRUMENTS.md §1.3 I2): does the bank hold this account, open,
/// in this holder's name? A read-only inquiry: nothing moves, nothing is confirmed later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInquiry {
    pub bank: BankCode,
    pub account: AccountNo,
    pub holder_name: String,
}

/// The bank's answer to an [`AccountInquiry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountVerdict {
    /// Open, and held in the name given.
    Verified,
    /// Open, held in another name.
    HolderMismatch,
    /// Closed, or unknown to the bank.
    NotOpen,
}

pub type Answer = Result<RailAnswer, RailError>;
pub type Confirmed = Result<Confirmation, RailError>;
/// A rail's statement: every request it executed (the engine picks out a day's lines by
/// the request dates of its own entries).
pub type Statement = Result<Vec<omnibus_core::reconcile::StatementLine>, RailError>;

/// The bank firm system (BS).
pub trait BankFirm: Send + Sync + 'static {
    fn withdraw(&self, withdrawal: Withdrawal) -> RailFuture<Answer>;
    fn deposit(&self, deposit: Deposit) -> RailFuture<Answer>;
    fn settle(&self, settlement: Settlement) -> RailFuture<Answer>;
    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed>;
    fn statement(&self) -> RailFuture<Statement>;
    /// `BS.verify_account` (§1.3 I2), a read-only inquiry.
    fn verify_account(
        &self,
        inquiry: AccountInquiry,
    ) -> RailFuture<Result<AccountVerdict, RailError>>;
}

/// The securities firm system (SS).
pub trait SecuritiesFirm: Send + Sync + 'static {
    /// `fin_parent` → customer (A2, recovery).
    fn increase(&self, transfer: SecuritiesTransfer) -> RailFuture<Answer>;
    /// customer → `fin_parent` (X1).
    fn decrease(&self, transfer: SecuritiesTransfer) -> RailFuture<Answer>;
    /// Between two of the firm's own accounts, atomically (`SS.transfer`, op TRANSFER).
    fn transfer(&self, transfer: AccountTransfer) -> RailFuture<Answer>;
    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed>;
    fn statement(&self) -> RailFuture<Statement>;
}

/// The financial company server: verifies the instruction's signature itself and
/// withdraws through the external financial network.
pub trait FinancialCompany: Send + Sync + 'static {
    fn instruct(&self, instruction: PaymentInstruction) -> RailFuture<Answer>;
    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed>;
    fn statement(&self) -> RailFuture<Statement>;
}

/// The authentication server: is the signature key of this certificate valid (S7)?
pub trait Authentication: Send + Sync + 'static {
    fn key_valid(&self, key: SigningKey) -> RailFuture<Result<bool, RailError>>;
}

/// A notice for a customer's or a merchant's chosen channel (e-mail, SMS or push;
/// INSTRUMENTS.md D-5.10, §6.6): a card's next-day statement, a payout's settlement
/// statement. `key` makes it idempotent: a notice sent again
/// under a key the sink delivered is answered done and not delivered twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeMessage {
    pub key: omnibus_core::RequestNo,
    pub to: Recipient,
    pub text: String,
}

/// Whom a notice is for: a customer (a card's statement) or a merchant (a payout's
/// settlement statement); the sink finds their channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    Customer(CustomerId),
    Merchant(omnibus_core::ids::MerchantNo),
}

/// The notification sink: e-mail, SMS and push gateways behind one call.
pub trait Notifier: Send + Sync + 'static {
    fn send(&self, notice: NoticeMessage) -> RailFuture<Result<(), RailError>>;
}

/// A mobile identity check's claim (휴대폰 본인확인, INSTRUMENTS.md D-1.6, D-1.12): the
/// person the slave says they are, and the phone the check's code was sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityClaim {
    pub name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Digits only.
    pub phone: String,
}

/// The mobile identity check's provider: is the phone held by this person, and did its
/// holder pass the check? A read-only inquiry.
pub trait IdentityCheck: Send + Sync + 'static {
    fn check(&self, claim: IdentityClaim) -> RailFuture<Result<bool, RailError>>;
}

/// What the relay asks a bank's virtual-account system to open (S10), or to number in
/// real time (D-2.9, one VA): VAs under the partner's representative account at `bank`,
/// classified by `region`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaOpening {
    pub bank: BankCode,
    pub partner: omnibus_core::payments::relay::PartnerId,
    pub region: omnibus_core::payments::relay::Region,
    pub count: u32,
}

/// A bank's virtual-account system (INSTRUMENTS.md §2.7, "Rail"), one adapter per bank
/// behind one trait: the relay's standard protocol is the engine's API on one side and
/// this on the other. The inbound half (deposit notices, deposit checks, recalls) comes
/// through the engine's API (`Engine::va_deposit` and the others).
pub trait VaBank: Send + Sync + 'static {
    /// S10–S12: open `count` VAs; the bank's numbers, unique at that bank. A bank that
    /// refuses the partner (D-2.9: real name, eligibility) answers an error.
    fn open_virtual_accounts(
        &self,
        opening: VaOpening,
    ) -> RailFuture<Result<Vec<omnibus_core::payments::relay::VaNo>, RailError>>;
    /// Whether the bank's adapter can number a VA in real time (D-2.9).
    fn supports_real_time(&self, bank: BankCode) -> bool;
    /// D-2.9, V9b: one VA numbered now for one lease (`count` is 1).
    fn number_in_real_time(
        &self,
        opening: VaOpening,
    ) -> RailFuture<Result<omnibus_core::payments::relay::VaNo, RailError>>;
    /// The confirm of a notice: the deposit `bank_tx_id` as the bank posted it, or
    /// `None` if it never happened.
    fn inquire_deposit(
        &self,
        bank: BankCode,
        bank_tx_id: String,
    ) -> RailFuture<Result<Option<omnibus_core::payments::relay::DepositNotice>, RailError>>;
    /// D-2.15: every deposit the bank posted to a VA with `at_ms` in [`from_ms`, `to_ms`).
    fn daily_statement(
        &self,
        bank: BankCode,
        from_ms: u64,
        to_ms: u64,
    ) -> RailFuture<Result<Vec<omnibus_core::payments::relay::DepositNotice>, RailError>>;
}

/// The outside systems an engine talks to: the four of seed 000, the notification sink,
/// the mobile identity check, and the banks' virtual-account systems.
#[derive(Clone)]
pub struct Rails {
    pub bank_firm: Arc<dyn BankFirm>,
    pub securities_firm: Arc<dyn SecuritiesFirm>,
    pub financial_company: Arc<dyn FinancialCompany>,
    pub authentication: Arc<dyn Authentication>,
    pub notifier: Arc<dyn Notifier>,
    pub identity: Arc<dyn IdentityCheck>,
    pub va_bank: Arc<dyn VaBank>,
}
