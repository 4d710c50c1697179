//! The JSON shapes of the API's answers.
//!
//! Amounts and customer numbers are answered as decimal strings: a JSON number is a
//! double in most clients, which is exact only up to 2^53, and money must stay exact.
//! Every shape here has its schema in `openapi.rs`; the end-to-end tests check answers
//! against both.

use omnibus_actors::{CustomerBalance, Outcome, ParentBalance, RequestView, SigningText};
use omnibus_core::request_log::Told;
use omnibus_core::saga::{LogEntry, Reason, RequestKind};
use omnibus_core::{Money, ParentAccount, RemitPath, RequestNo};
use serde::Serialize;

fn won(money: Money) -> String {
    money.value().to_string()
}

pub fn told_str(told: Told) -> &'static str {
    match told {
        Told::Succeeded => "succeeded",
        Told::Failed => "failed",
    }
}

pub fn kind_str(kind: RequestKind) -> &'static str {
    kind.as_str()
}

fn path_str(path: RemitPath) -> &'static str {
    match path {
        RemitPath::First => "first",
        RemitPath::PaymentInstruction => "payment_instruction",
    }
}

#[derive(Serialize)]
pub struct CustomerView {
    pub customer: String,
    pub currency: &'static str,
    pub balance: String,
    pub available: String,
    pub tradable: bool,
    pub subscription_valid: bool,
    pub linked_bank: String,
    pub linked_account: String,
    pub cert_serial: Option<String>,
}

impl From<&CustomerBalance> for CustomerView {
    fn from(c: &CustomerBalance) -> Self {
        Self {
            customer: c.customer.to_string(),
            currency: c.balance.currency().code(),
            balance: won(c.balance),
            available: won(c.available),
            tradable: c.tradable,
            subscription_valid: c.subscription_valid,
            linked_bank: c.linked_bank.to_string(),
            linked_account: c.linked_account.to_string(),
            cert_serial: c.cert_serial.map(|s| s.to_string()),
        }
    }
}

#[derive(Serialize)]
pub struct OutcomeView {
    pub customer: String,
    pub request_no: String,
    pub kind: &'static str,
    pub currency: &'static str,
    pub amount: String,
    /// What the customer is told: `succeeded` or `failed`.
    pub told: &'static str,
    pub path: Option<&'static str>,
    pub deficit: Option<String>,
    pub decided_by: &'static str,
    pub timed_out: bool,
    /// Why it was told failed (`parent_slice_short`, `rail_refused`, `timeout`, ...);
    /// `null` when told succeeded.
    pub reason: Option<&'static str>,
}

impl From<&Outcome> for OutcomeView {
    fn from(o: &Outcome) -> Self {
        Self {
            customer: o.customer.to_string(),
            request_no: o.request_no.to_string(),
            kind: kind_str(o.kind),
            currency: o.amount.currency().code(),
            amount: won(o.amount.money()),
            told: told_str(o.told),
            path: o.path.map(path_str),
            deficit: o.deficit.map(|d| won(d.money())),
            decided_by: o.decided_by.as_str(),
            timed_out: o.timed_out,
            reason: reason_str(o.told, o.reason),
        }
    }
}

/// The reason of an answer, for a failed one only.
pub fn reason_str(told: Told, reason: Reason) -> Option<&'static str> {
    match told {
        Told::Succeeded => None,
        Told::Failed => Some(reason.as_str()),
    }
}

#[derive(Serialize)]
pub struct SigningTextView {
    pub request_no: String,
    /// The exact text to sign with ed25519 (UTF-8 bytes, no trailing changes).
    pub text: String,
    pub expires_at_ms: u64,
}

impl SigningTextView {
    pub fn new(request_no: RequestNo, text: SigningText) -> Self {
        Self {
            request_no: request_no.to_string(),
            text: text.text,
            expires_at_ms: text.expires_at_ms,
        }
    }
}

#[derive(Serialize)]
pub struct AnswerView {
    pub told: &'static str,
    pub decided_by: &'static str,
    pub timed_out: bool,
    pub at_ms: u64,
    /// Why it was told failed; `null` when told succeeded.
    pub reason: Option<&'static str>,
}

#[derive(Serialize)]
pub struct EntryView {
    pub id: String,
    pub log: &'static str,
    pub step: &'static str,
    pub state: &'static str,
    pub attempt: u32,
    pub failures: u32,
    pub amount: String,
    pub debit: String,
    pub credit: String,
    pub requested_at_ms: u64,
    pub updated_at_ms: u64,
}

impl From<&LogEntry> for EntryView {
    fn from(e: &LogEntry) -> Self {
        Self {
            id: e.id.to_string(),
            log: e.step.log().as_str(),
            step: e.step.as_str(),
            state: e.state.as_str(),
            attempt: e.attempt,
            failures: e.failures,
            amount: won(e.amount.money()),
            debit: e.debit.to_string(),
            credit: e.credit.to_string(),
            requested_at_ms: e.requested_at_ms,
            updated_at_ms: e.updated_at_ms,
        }
    }
}

#[derive(Serialize)]
pub struct PayeeView {
    pub bank: String,
    pub account: String,
    pub name: String,
}

#[derive(Serialize)]
pub struct RequestViewJson {
    pub customer: String,
    pub request_no: String,
    pub request_date: String,
    pub kind: &'static str,
    pub currency: &'static str,
    pub amount: String,
    pub payee: Option<PayeeView>,
    pub path: Option<&'static str>,
    pub deficit: Option<String>,
    pub accepted_at_ms: u64,
    /// `null` while the customer has not been answered yet.
    pub answer: Option<AnswerView>,
    /// Where the request stands for good, whatever it was told: `pending`, `credited`,
    /// `refunded`, `paid_out`, `recovered`, `deficit_credited` or `nothing_moved`.
    pub outcome: &'static str,
    pub entries: Vec<EntryView>,
}

impl From<&RequestView> for RequestViewJson {
    fn from(v: &RequestView) -> Self {
        let a = &v.accepted;
        Self {
            customer: a.customer.to_string(),
            request_no: a.request_no.to_string(),
            request_date: a.request_date.to_string(),
            kind: kind_str(a.kind),
            currency: a.amount.currency().code(),
            amount: won(a.amount.money()),
            payee: a.payee.map(|p| PayeeView {
                bank: p.bank.to_string(),
                account: p.account.to_string(),
                name: p.name.to_string(),
            }),
            path: a.path.map(path_str),
            deficit: a.deficit.map(|d| won(d.money())),
            accepted_at_ms: a.at_ms,
            answer: v.answer.map(|answer| AnswerView {
                told: told_str(answer.told),
                decided_by: answer.decided_by.as_str(),
                timed_out: answer.timed_out,
                at_ms: answer.at_ms,
                reason: reason_str(answer.told, answer.reason),
            }),
            outcome: v.outcome.as_str(),
            entries: v.entries.iter().map(EntryView::from).collect(),
        }
    }
}

/// A parent account's kind and bank, as separate fields and as one name.
pub fn parent_parts(parent: ParentAccount) -> (&'static str, Option<String>) {
    match parent {
        ParentAccount::WithdrawalFirm(bank) => ("withdrawal_firm", Some(bank.to_string())),
        ParentAccount::Collection => ("collection", None),
        ParentAccount::DepositFirm(bank) => ("deposit_firm", Some(bank.to_string())),
        ParentAccount::FinParent => ("fin_parent", None),
        ParentAccount::FinDeposit => ("fin_deposit", None),
    }
}

#[derive(Serialize)]
pub struct ParentView {
    /// The account's name, such as `fin_parent` or `deposit_firm[004]`.
    pub account: String,
    pub kind: &'static str,
    pub bank: Option<String>,
    pub total: String,
    /// One balance per shard, indexed by shard.
    pub slices: Vec<String>,
}

#[derive(Serialize)]
pub struct ParentsView {
    pub currency: &'static str,
    pub parents: Vec<ParentView>,
}

impl ParentsView {
    pub fn new(currency: &'static str, parents: &[ParentBalance]) -> Self {
        Self {
            currency,
            parents: parents
                .iter()
                .map(|p| {
                    let (kind, bank) = parent_parts(p.parent);
                    ParentView {
                        account: p.parent.to_string(),
                        kind,
                        bank,
                        total: won(p.total),
                        slices: p.slices.iter().map(|s| won(*s)).collect(),
                    }
                })
                .collect(),
        }
    }
}
