// Over 600 lines: with its tests, the SPEC §4 table as data, beside the transition reading it.
//! Request-log entries and their state machine (SPEC §4), with the SPEC §4 timeout table
//! as data ([`policy`]).
//!
//! Every call to an outside system is written to a request log as `REQUESTED` before it
//! is made; its result is reflected into the same entry afterwards. [`transition`] is the
//! only way an entry changes state: it takes the step's policy, the current state and an
//! [`Event`], and returns the next state, what the customer is told (if this event is the
//! live answer), and what follows. An illegal transition is an [`IllegalTransition`]
//! error; it never panics and never leaves a final state.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The three request logs of SPEC §4.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// Calls to the bank firm system (BS).
    BankFirmRequestLog,
    /// Calls to the securities firm system (SS).
    SecuritiesFirmRequestLog,
    /// Calls to the financial company server.
    PaymentInstructionLog,
}

impl LogKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            LogKind::BankFirmRequestLog => "bank_firm_request_log",
            LogKind::SecuritiesFirmRequestLog => "securities_firm_request_log",
            LogKind::PaymentInstructionLog => "payment_instruction_log",
        }
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a request-log entry.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryState {
    /// Recorded before the call; the result is not in yet.
    Requested,
    /// The outside system executed the request. Final.
    Success,
    /// The outside system did not execute the request, and nothing more will be tried. Final.
    Fail,
    /// No result within the timeout ("non-reflected"); to be confirmed by an inquiry.
    Unknown,
    /// Not executed, to be reprocessed by a supervisor.
    FailTryAgain,
}

impl EntryState {
    pub const fn is_final(self) -> bool {
        matches!(self, EntryState::Success | EntryState::Fail)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            EntryState::Requested => "REQUESTED",
            EntryState::Success => "SUCCESS",
            EntryState::Fail => "FAIL",
            EntryState::Unknown => "UNKNOWN",
            EntryState::FailTryAgain => "FAIL_TRY_AGAIN",
        }
    }
}

impl fmt::Display for EntryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of a flow that calls an outside system. The first five are the rows of the
/// SPEC §4 table; `Recovery` and `Refund` are the supervisors' own calls (SPEC §5).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Charge, BS withdrawal A1 (S11–S13): `linked` → `withdrawal_firm[bank]`.
    ChargeWithdrawal,
    /// Charge, SS increase A2 (S21–S23): `fin_parent` → `customer`.
    ChargeCredit,
    /// Remittance, SS deduction X1 (S51–S53): `customer` → `fin_parent`.
    RemitDeduction,
    /// Remittance, BS deposit X2 (S61–S63): `deposit_firm[bank]` → `designated`.
    RemitDeposit,
    /// Remittance over the usage limit, payment instruction (S121–S123).
    PaymentInstruction,
    /// Recovery (S79): an SS increase re-crediting a remittance whose deposit failed.
    Recovery,
    /// Refund: a BS deposit returning a failed-for-good charge to `linked` (S247).
    Refund,
    /// A settlement sweep (B1, B2, Y2, Y3): a BS transfer between two of the company's
    /// own parent accounts.
    Settlement,
    /// A sale (INSTRUMENTS.md §6.3): `SS.transfer` `customer` → `merchant[m]`. Added after
    /// the steps of seed 000, so their archived tags are unchanged.
    Sale,
    /// The reversal of a sale the merchant was told was declined but that was done
    /// (D-0.2): `SS.transfer` `merchant[m]` → `customer`, retried until it is done.
    SaleReversal,
    /// A prepaid card's charge from the customer's balance (INSTRUMENTS.md D-5.7):
    /// `SS.transfer` `customer[c]` → `pocket[c,card]`.
    PocketCharge,
    /// The reversal of a pocket charge the customer was told had failed but that was done:
    /// `SS.transfer` `pocket[c,card]` → `customer[c]`, retried until it is done.
    PocketChargeReversal,
    /// A merchant's cancel of a payment (§6.4): `SS.transfer` `merchant[m]` → the pocket
    /// that paid (or `customer[c]` for what the pocket's cap cannot take, D-5.6), retried
    /// until it is done.
    MerchantRefund,
    /// A closed card's pocket back to its owner (D-5.13): `SS.transfer` `pocket[c,card]` →
    /// `customer[c]`, owed and retried until it is done.
    PocketRelease,
}

impl Step {
    pub const ALL: [Step; 14] = [
        Step::ChargeWithdrawal,
        Step::ChargeCredit,
        Step::RemitDeduction,
        Step::RemitDeposit,
        Step::PaymentInstruction,
        Step::Recovery,
        Step::Refund,
        Step::Settlement,
        Step::Sale,
        Step::SaleReversal,
        Step::PocketCharge,
        Step::PocketChargeReversal,
        Step::MerchantRefund,
        Step::PocketRelease,
    ];

    pub const fn log(self) -> LogKind {
        policy(self).log
    }

    /// A stable number for the step, grouped by product (0x1_ charge, 0x2_ remittance,
    /// 0x3_ payment instruction, 0x4_ the house's own): for anything outside the process
    /// that must name a step (metrics, the API), never the enum's position.
    pub const fn code(self) -> u16 {
        match self {
            Step::ChargeWithdrawal => 0x10,
            Step::ChargeCredit => 0x11,
            Step::Refund => 0x12,
            Step::RemitDeduction => 0x20,
            Step::RemitDeposit => 0x21,
            Step::Recovery => 0x22,
            Step::PaymentInstruction => 0x30,
            Step::Settlement => 0x40,
            Step::Sale => 0x50,
            Step::SaleReversal => 0x51,
            Step::PocketCharge => 0x52,
            Step::PocketChargeReversal => 0x53,
            Step::MerchantRefund => 0x54,
            Step::PocketRelease => 0x55,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Step::ChargeWithdrawal => "charge_withdrawal",
            Step::ChargeCredit => "charge_credit",
            Step::RemitDeduction => "remit_deduction",
            Step::RemitDeposit => "remit_deposit",
            Step::PaymentInstruction => "payment_instruction",
            Step::Recovery => "recovery",
            Step::Refund => "refund",
            Step::Settlement => "settlement",
            Step::Sale => "sale",
            Step::SaleReversal => "sale_reversal",
            Step::PocketCharge => "pocket_charge",
            Step::PocketChargeReversal => "pocket_charge_reversal",
            Step::MerchantRefund => "merchant_refund",
            Step::PocketRelease => "pocket_release",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the customer is told.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Told {
    Succeeded,
    Failed,
}

/// What the engine does after a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// Nothing further for this entry.
    Nothing,
    /// Book the step's posting (the outside system executed it), nothing else.
    Post,
    /// Book A1's posting and go on with the SS increase A2 ([0231]).
    PostThenCredit,
    /// Book X1's posting and go on with the BS deposit X2.
    PostThenDeposit,
    /// Book X1's posting, then re-credit the customer: the customer was told the
    /// remittance failed, but the deduction happened ([0226]).
    PostThenRecover,
    /// The deposit X2 did not happen: re-credit the customer through recovery ([0191], [0237]).
    Recover,
    /// Leave the entry for the reprocessing supervisor (FAIL_TRY_AGAIN).
    Reprocess,
    /// The credit failed for good: refund what A1 drew to the linked account ([0247]).
    Refund,
    /// Wait for the non-reflected search to confirm the entry (UNKNOWN).
    Confirm,
    /// Book the sale's posting, then reverse it: the merchant was told the payment was
    /// declined (a timeout), but the transfer happened (D-0.2).
    PostThenReverse,
}

/// One row of the SPEC §4 table (plus the supervisors' own steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepPolicy {
    pub step: Step,
    pub log: LogKind,
    /// The seed's step numbers, for people.
    pub seed_steps: &'static str,
    /// What the customer is told when the live call succeeds; `None` when another step
    /// follows before the customer gets an answer, or nobody is waiting (supervisors).
    pub on_success_told: Option<Told>,
    pub on_success_then: FollowUp,
    /// The entry's state when the outside system answers FAIL.
    pub on_fail_state: EntryState,
    pub on_fail_told: Option<Told>,
    pub on_fail_then: FollowUp,
    /// What the customer is told when no answer comes within the timeout.
    pub on_timeout_told: Option<Told>,
    /// After a timeout, the confirm inquiry (or a late answer) says it was done.
    pub confirmed_done_then: FollowUp,
    /// After a timeout, the confirm inquiry (or a late answer) says it was not done.
    pub confirmed_not_done_state: EntryState,
    pub confirmed_not_done_then: FollowUp,
    /// After a timeout, confirm at once and then with backoff (INSTRUMENTS.md D-0.2,
    /// `payments.confirm_backoff_ms`, `payments.confirm_retry_max`), rather than wait for
    /// the non-reflected search's window (SPEC §5), which stays the backstop: a step
    /// whose caller was declined must not keep the payer's money held for long.
    pub prompt_confirm: bool,
    /// A compensation nobody waits on (a recovery, a refund, a sale's reversal): left
    /// FAIL_TRY_AGAIN, it is retried with backoff until it is done, by the recovery pass.
    pub retried_until_done: bool,
}

use EntryState as S;
use FollowUp as F;

const CHARGE_WITHDRAWAL: StepPolicy = StepPolicy {
    step: Step::ChargeWithdrawal,
    log: LogKind::BankFirmRequestLog,
    seed_steps: "S11-S13, [0140], [0231]",
    on_success_told: None,
    on_success_then: F::PostThenCredit,
    on_fail_state: S::Fail,
    on_fail_told: Some(Told::Failed),
    on_fail_then: F::Nothing,
    on_timeout_told: Some(Told::Failed),
    confirmed_done_then: F::PostThenCredit,
    confirmed_not_done_state: S::Fail,
    confirmed_not_done_then: F::Nothing,
    prompt_confirm: false,
    retried_until_done: false,
};

const CHARGE_CREDIT: StepPolicy = StepPolicy {
    step: Step::ChargeCredit,
    log: LogKind::SecuritiesFirmRequestLog,
    seed_steps: "S21-S23, [0149], [0168], [0222]",
    on_success_told: Some(Told::Succeeded),
    on_success_then: F::Post,
    on_fail_state: S::FailTryAgain,
    on_fail_told: Some(Told::Succeeded),
    on_fail_then: F::Reprocess,
    on_timeout_told: Some(Told::Succeeded),
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::FailTryAgain,
    confirmed_not_done_then: F::Reprocess,
    prompt_confirm: false,
    retried_until_done: false,
};

const REMIT_DEDUCTION: StepPolicy = StepPolicy {
    step: Step::RemitDeduction,
    log: LogKind::SecuritiesFirmRequestLog,
    seed_steps: "S51-S53, [0181], [0226], [0227]",
    on_success_told: None,
    on_success_then: F::PostThenDeposit,
    on_fail_state: S::Fail,
    on_fail_told: Some(Told::Failed),
    on_fail_then: F::Nothing,
    on_timeout_told: Some(Told::Failed),
    confirmed_done_then: F::PostThenRecover,
    confirmed_not_done_state: S::Fail,
    confirmed_not_done_then: F::Nothing,
    prompt_confirm: false,
    retried_until_done: false,
};

const REMIT_DEPOSIT: StepPolicy = StepPolicy {
    step: Step::RemitDeposit,
    log: LogKind::BankFirmRequestLog,
    seed_steps: "S61-S63, [0190], [0191], [0237]",
    on_success_told: Some(Told::Succeeded),
    on_success_then: F::Post,
    on_fail_state: S::Fail,
    on_fail_told: Some(Told::Failed),
    on_fail_then: F::Recover,
    on_timeout_told: Some(Told::Succeeded),
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::Fail,
    confirmed_not_done_then: F::Recover,
    prompt_confirm: false,
    retried_until_done: false,
};

const PAYMENT_INSTRUCTION: StepPolicy = StepPolicy {
    step: Step::PaymentInstruction,
    log: LogKind::PaymentInstructionLog,
    seed_steps: "S121-S123, [0260]",
    on_success_told: Some(Told::Succeeded),
    on_success_then: F::Post,
    on_fail_state: S::Fail,
    on_fail_told: Some(Told::Failed),
    on_fail_then: F::Nothing,
    on_timeout_told: Some(Told::Failed),
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::Fail,
    confirmed_not_done_then: F::Nothing,
    prompt_confirm: false,
    retried_until_done: false,
};

const RECOVERY: StepPolicy = StepPolicy {
    step: Step::Recovery,
    log: LogKind::SecuritiesFirmRequestLog,
    seed_steps: "S79, [0211]-[0213]",
    on_success_told: None,
    on_success_then: F::Post,
    on_fail_state: S::FailTryAgain,
    on_fail_told: None,
    on_fail_then: F::Reprocess,
    on_timeout_told: None,
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::FailTryAgain,
    confirmed_not_done_then: F::Reprocess,
    prompt_confirm: false,
    retried_until_done: true,
};

const REFUND: StepPolicy = StepPolicy {
    step: Step::Refund,
    log: LogKind::BankFirmRequestLog,
    seed_steps: "[0247]",
    on_success_told: None,
    on_success_then: F::Post,
    on_fail_state: S::FailTryAgain,
    on_fail_told: None,
    on_fail_then: F::Reprocess,
    on_timeout_told: None,
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::FailTryAgain,
    confirmed_not_done_then: F::Reprocess,
    prompt_confirm: false,
    retried_until_done: true,
};

const SETTLEMENT: StepPolicy = StepPolicy {
    step: Step::Settlement,
    log: LogKind::BankFirmRequestLog,
    seed_steps: "B1-B3, Y1-Y3, [0098], [0105]",
    on_success_told: None,
    on_success_then: F::Post,
    // A refused sweep moves nothing and owes nothing: the next sweep pass plans again
    // from the balances as they are then.
    on_fail_state: S::Fail,
    on_fail_told: None,
    on_fail_then: F::Nothing,
    on_timeout_told: None,
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::Fail,
    confirmed_not_done_then: F::Nothing,
    prompt_confirm: false,
    retried_until_done: false,
};

/// A sale (INSTRUMENTS.md §6.3, D-0.2): approved on SUCCESS; declined on a FAIL; a timeout
/// is declined too (a merchant must never hand over goods on an unknown outcome), and a
/// confirm that finds it done reverses it.
const SALE: StepPolicy = StepPolicy {
    step: Step::Sale,
    log: LogKind::SecuritiesFirmRequestLog,
    seed_steps: "INSTRUMENTS.md §6.3 Sale, D-0.2",
    on_success_told: Some(Told::Succeeded),
    on_success_then: F::Post,
    on_fail_state: S::Fail,
    on_fail_told: Some(Told::Failed),
    on_fail_then: F::Nothing,
    on_timeout_told: Some(Told::Failed),
    confirmed_done_then: F::PostThenReverse,
    confirmed_not_done_state: S::Fail,
    confirmed_not_done_then: F::Nothing,
    prompt_confirm: true,
    retried_until_done: false,
};

/// A sale's reversal: nobody waits on it; retried until done, like a recovery. A timeout
/// is confirmed at once too: the payer's money is what waits (a reversal left UNKNOWN until
/// the non-reflected search's window kept it from the payer for 15 minutes; seen in
/// tests/sale.rs when the reversal's answer was lost as well).
const SALE_REVERSAL: StepPolicy = StepPolicy {
    step: Step::SaleReversal,
    log: LogKind::SecuritiesFirmRequestLog,
    seed_steps: "INSTRUMENTS.md §6.3 Reversal, D-0.2",
    on_success_told: None,
    on_success_then: F::Post,
    on_fail_state: S::FailTryAgain,
    on_fail_told: None,
    on_fail_then: F::Reprocess,
    on_timeout_told: None,
    confirmed_done_then: F::Post,
    confirmed_not_done_state: S::FailTryAgain,
    confirmed_not_done_then: F::Reprocess,
    prompt_confirm: true,
    retried_until_done: true,
};

/// A prepaid card's charge from the customer's balance (D-5.7): the rows of a sale. A
/// timeout is told failed (the caller may charge again under a new number), confirmed at
/// once, and reversed if it was done.
const POCKET_CHARGE: StepPolicy = StepPolicy {
    step: Step::PocketCharge,
    seed_steps: "INSTRUMENTS.md D-5.7 (SS.transfer customer -> pocket), D-0.2",
    ..SALE
};

/// A pocket charge's reversal: the rows of a sale's reversal.
const POCKET_CHARGE_REVERSAL: StepPolicy = StepPolicy {
    step: Step::PocketChargeReversal,
    seed_steps: "INSTRUMENTS.md D-5.7, §6.3 Reversal",
    ..SALE_REVERSAL
};

/// A merchant's cancel or refund (§6.3 Reversal, §6.4): owed to the payer from its entry
/// on, so never given up: a FAIL or an unknown outcome is confirmed at once and retried
/// until it is done, like a sale's reversal. So every result tells `succeeded`, and its
/// caller hears it once the entry is durable (`fixed_answer`), as a charge's credit.
/// (Told nothing on a FAIL or a timeout, its caller heard the deadline's `failed,
/// not_carried_out`, which the payments layer read as refused: the simulation found a
/// refund paid to the pocket with its payment not marked refunded.)
const MERCHANT_REFUND: StepPolicy = StepPolicy {
    step: Step::MerchantRefund,
    seed_steps: "INSTRUMENTS.md §6.3 Reversal, §6.4 cancel and refunds",
    on_success_told: Some(Told::Succeeded),
    on_fail_told: Some(Told::Succeeded),
    on_timeout_told: Some(Told::Succeeded),
    ..SALE_REVERSAL
};

/// A closed card's pocket back to its owner (D-5.13): owed from its entry on, like a
/// merchant's refund, so every result tells `succeeded`.
const POCKET_RELEASE: StepPolicy = StepPolicy {
    step: Step::PocketRelease,
    seed_steps: "INSTRUMENTS.md D-5.13 (SS.transfer pocket -> customer)",
    ..MERCHANT_REFUND
};

/// The SPEC §4 table, one row per step, as the engine executes it; [`policy`] finds a
/// step's row by name, never by the enum's position.
pub const POLICIES: [StepPolicy; 14] = [
    CHARGE_WITHDRAWAL,
    CHARGE_CREDIT,
    REMIT_DEDUCTION,
    REMIT_DEPOSIT,
    PAYMENT_INSTRUCTION,
    RECOVERY,
    REFUND,
    SETTLEMENT,
    SALE,
    SALE_REVERSAL,
    POCKET_CHARGE,
    POCKET_CHARGE_REVERSAL,
    MERCHANT_REFUND,
    POCKET_RELEASE,
];

/// The policy row of a step.
pub const fn policy(step: Step) -> &'static StepPolicy {
    match step {
        Step::ChargeWithdrawal => &CHARGE_WITHDRAWAL,
        Step::ChargeCredit => &CHARGE_CREDIT,
        Step::RemitDeduction => &REMIT_DEDUCTION,
        Step::RemitDeposit => &REMIT_DEPOSIT,
        Step::PaymentInstruction => &PAYMENT_INSTRUCTION,
        Step::Recovery => &RECOVERY,
        Step::Refund => &REFUND,
        Step::Settlement => &SETTLEMENT,
        Step::Sale => &SALE,
        Step::SaleReversal => &SALE_REVERSAL,
        Step::PocketCharge => &POCKET_CHARGE,
        Step::PocketChargeReversal => &POCKET_CHARGE_REVERSAL,
        Step::MerchantRefund => &MERCHANT_REFUND,
        Step::PocketRelease => &POCKET_RELEASE,
    }
}

/// Something that happens to a request-log entry.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The outside system answered: executed. On an UNKNOWN entry this is a late answer.
    Succeeded,
    /// The outside system answered: not executed.
    Failed,
    /// No answer within the timeout.
    TimedOut,
    /// The confirm inquiry says the request was executed.
    ConfirmedDone,
    /// The confirm inquiry says the request was not executed (and never will be).
    ConfirmedNotDone,
    /// A supervisor re-runs a FAIL_TRY_AGAIN entry: a new attempt is requested.
    Retry,
    /// A supervisor's check before reprocessing found the request already executed (no
    /// double payment, S112).
    FoundDone,
    /// A supervisor's check before reprocessing failed for good (S113, S114).
    GiveUp,
}

/// The outcome of a legal transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub to: EntryState,
    /// `Some` only for the live answer (or timeout) of a REQUESTED entry that a caller
    /// is waiting on; an UNKNOWN entry's caller has already been told.
    pub told: Option<Told>,
    pub then: FollowUp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("{step}: a {from} entry cannot take {event:?}")]
pub struct IllegalTransition {
    pub step: Step,
    pub from: EntryState,
    pub event: Event,
}

/// The state machine of one request-log entry of `step`.
pub fn transition(
    step: Step,
    from: EntryState,
    event: Event,
) -> Result<Transition, IllegalTransition> {
    let p = policy(step);
    let illegal = IllegalTransition { step, from, event };
    let t = |to, told, then| Ok(Transition { to, told, then });
    match (from, event) {
        (S::Requested, Event::Succeeded) => t(S::Success, p.on_success_told, p.on_success_then),
        (S::Requested, Event::Failed) => t(p.on_fail_state, p.on_fail_told, p.on_fail_then),
        (S::Requested, Event::TimedOut) => t(S::Unknown, p.on_timeout_told, F::Confirm),
        (S::Unknown, Event::Succeeded | Event::ConfirmedDone) => {
            t(S::Success, None, p.confirmed_done_then)
        }
        (S::Unknown, Event::Failed | Event::ConfirmedNotDone) => {
            t(p.confirmed_not_done_state, None, p.confirmed_not_done_then)
        }
        (S::FailTryAgain, Event::Retry) => t(S::Requested, None, F::Nothing),
        (S::FailTryAgain, Event::FoundDone) => t(S::Success, None, F::Post),
        (S::FailTryAgain, Event::GiveUp) => t(S::Fail, None, give_up_then(step)),
        _ => Err(illegal),
    }
}

fn give_up_then(step: Step) -> FollowUp {
    match step {
        // A charge whose credit failed for good gives back what A1 drew ([0247]).
        Step::ChargeCredit => F::Refund,
        _ => F::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensations_nobody_waits_on_are_retried_until_done_and_only_a_sale_is_confirmed_promptly()
    {
        for row in &POLICIES {
            if row.retried_until_done {
                assert_eq!(row.on_fail_state, S::FailTryAgain, "{}", row.step);
                if matches!(row.step, Step::MerchantRefund | Step::PocketRelease) {
                    // The first step of a request of its own, owed once its entry is: its
                    // caller hears `succeeded` whatever the result.
                    let told = [row.on_success_told, row.on_fail_told, row.on_timeout_told];
                    assert_eq!(told, [Some(Told::Succeeded); 3]);
                } else {
                    assert_eq!(row.on_success_told, None, "{}: nobody waits", row.step);
                }
            }
        }
        let retried: Vec<Step> = POLICIES
            .iter()
            .filter(|r| r.retried_until_done)
            .map(|r| r.step)
            .collect();
        assert_eq!(
            retried,
            [
                Step::Recovery,
                Step::Refund,
                Step::SaleReversal,
                Step::PocketChargeReversal,
                Step::MerchantRefund,
                Step::PocketRelease
            ]
        );
        let prompt: Vec<Step> = POLICIES
            .iter()
            .filter(|r| r.prompt_confirm)
            .map(|r| r.step)
            .collect();
        assert_eq!(
            prompt,
            [
                Step::Sale,
                Step::SaleReversal,
                Step::PocketCharge,
                Step::PocketChargeReversal,
                Step::MerchantRefund,
                Step::PocketRelease
            ]
        );
    }

    #[test]
    fn every_step_finds_its_own_row_and_a_code_of_its_own() {
        for step in Step::ALL {
            assert_eq!(policy(step).step, step);
        }
        let mut codes: Vec<u16> = Step::ALL.iter().map(|s| s.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Step::ALL.len());
        for row in &POLICIES {
            assert_eq!(policy(row.step), row);
        }
    }

    #[test]
    fn charge_withdrawal_timeout_tells_failed_and_confirmed_done_continues_with_the_credit() {
        let timeout = transition(Step::ChargeWithdrawal, S::Requested, Event::TimedOut).unwrap();
        assert_eq!(
            timeout,
            Transition {
                to: S::Unknown,
                told: Some(Told::Failed),
                then: F::Confirm
            }
        );
        let done = transition(Step::ChargeWithdrawal, S::Unknown, Event::ConfirmedDone).unwrap();
        assert_eq!(
            done,
            Transition {
                to: S::Success,
                told: None,
                then: F::PostThenCredit
            }
        );
        let not_done =
            transition(Step::ChargeWithdrawal, S::Unknown, Event::ConfirmedNotDone).unwrap();
        assert_eq!(not_done.to, S::Fail);
    }

    #[test]
    fn charge_credit_fail_is_fail_try_again_and_the_customer_is_told_success() {
        let fail = transition(Step::ChargeCredit, S::Requested, Event::Failed).unwrap();
        assert_eq!(
            fail,
            Transition {
                to: S::FailTryAgain,
                told: Some(Told::Succeeded),
                then: F::Reprocess
            }
        );
        let not_done = transition(Step::ChargeCredit, S::Unknown, Event::ConfirmedNotDone).unwrap();
        assert_eq!(not_done.to, S::FailTryAgain);
    }

    #[test]
    fn remit_deduction_confirmed_done_after_timeout_is_recovered() {
        let timeout = transition(Step::RemitDeduction, S::Requested, Event::TimedOut).unwrap();
        assert_eq!(timeout.told, Some(Told::Failed));
        let done = transition(Step::RemitDeduction, S::Unknown, Event::ConfirmedDone).unwrap();
        assert_eq!(done.then, F::PostThenRecover);
    }

    #[test]
    fn remit_deposit_timeout_tells_success_and_not_done_recovers() {
        let timeout = transition(Step::RemitDeposit, S::Requested, Event::TimedOut).unwrap();
        assert_eq!(timeout.told, Some(Told::Succeeded));
        let not_done = transition(Step::RemitDeposit, S::Unknown, Event::ConfirmedNotDone).unwrap();
        assert_eq!(
            not_done,
            Transition {
                to: S::Fail,
                told: None,
                then: F::Recover
            }
        );
    }

    #[test]
    fn payment_instruction_timeout_tells_failed() {
        let timeout = transition(Step::PaymentInstruction, S::Requested, Event::TimedOut).unwrap();
        assert_eq!(timeout.told, Some(Told::Failed));
    }

    #[test]
    fn reprocessing_gives_up_with_a_refund() {
        let give_up = transition(Step::ChargeCredit, S::FailTryAgain, Event::GiveUp).unwrap();
        assert_eq!(
            give_up,
            Transition {
                to: S::Fail,
                told: None,
                then: F::Refund
            }
        );
    }

    #[test]
    fn a_final_entry_takes_no_event() {
        for step in Step::ALL {
            for event in [
                Event::Succeeded,
                Event::Failed,
                Event::TimedOut,
                Event::Retry,
            ] {
                assert!(transition(step, S::Success, event).is_err());
                assert!(transition(step, S::Fail, event).is_err());
            }
        }
    }
}
