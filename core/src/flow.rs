//! Charges and remittances as flows of request-log entries (SPEC §3, §4).
//!
//! A request is accepted once, then carried out step by step: each step is one
//! request-log entry (one outside call), and what follows an entry's transition is
//! decided by [`plan_after`], a pure function of the request and the transition. The
//! same function serves the live call, a late answer, a supervisor's confirmation and a
//! restart, so the flow is the same whoever moves it on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, BankCode, CustomerId, ParentAccount, RequestNo};
use crate::money::Amount;
use crate::request::{Payee, RequestDate};
use crate::request_log::{policy, transition, EntryState, Event, FollowUp, Step, Told, Transition};
use crate::routing::RemitPath;

/// What a request asks for.
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
pub enum RequestKind {
    /// Balance increase.
    Charge,
    /// Balance deduction to a customer-designated account.
    Remit,
    /// A settlement sweep between two parent accounts: the house's own request, of no
    /// customer (see [`HOUSE`]).
    Settlement,
}

/// The customer number of the house: the owner of the company's own requests (settlement
/// sweeps). It is never a customer's: customer numbers are below 2^63 and this one is
/// reserved; the books open no account for it.
pub const HOUSE: CustomerId = match CustomerId::new_const((1 << 63) - 1) {
    Some(id) => id,
    None => panic!("the house number is positive"),
};

/// A request-log entry's id, unique per shard: the shard in the top 16 bits, a sequence
/// number below. It is also the key of the outside call (with the attempt number).
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
pub struct EntryId(pub u64);

impl EntryId {
    pub fn new(shard: u16, seq: u64) -> Self {
        assert!(seq > 0 && seq < 1 << 48, "entry sequence fits in 48 bits");
        EntryId((u64::from(shard) << 48) | seq)
    }

    pub fn shard(self) -> u16 {
        (self.0 >> 48) as u16
    }

    pub fn seq(self) -> u64 {
        self.0 & ((1 << 48) - 1)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{:016x}", self.0)
    }
}

/// An accepted request, as the WAL records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Accepted {
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub request_date: RequestDate,
    pub kind: RequestKind,
    pub amount: Amount,
    pub payee: Option<Payee>,
    pub path: Option<RemitPath>,
    /// The deficit charged first (claim 13), if the balance was short.
    pub deficit: Option<Amount>,
    pub at_ms: u64,
}

/// What the customer was told, and which step decided it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Answer {
    pub told: Told,
    pub decided_by: Step,
    /// The deciding step had no answer within its timeout.
    pub timed_out: bool,
    pub at_ms: u64,
    /// Why a request was told it failed ([`Reason::None`] when told it succeeded).
    pub reason: Reason,
}

/// Why a request was told it failed. Stable: archived in the log, named in the API.
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
pub enum Reason {
    /// Told it succeeded: no reason needed.
    None,
    /// Recorded before answers carried a reason.
    Unrecorded,
    /// The deciding step got no answer within its timeout (SPEC §4 tells failed for it).
    Timeout,
    /// The outside system of the deciding step refused it (its FAIL).
    RailRefused,
    /// A parent account's slice could not fund the request: nothing was called, nothing
    /// moved.
    ParentSliceShort,
    /// A remittance's deficit charge was not credited live (left to reprocessing or a
    /// confirmation), so the remittance did not go on.
    DeficitNotCredited,
    /// Nothing decided it live (a crash came in between) and nothing went out for it.
    NotCarriedOut,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::None => "none",
            Reason::Unrecorded => "unrecorded",
            Reason::Timeout => "timeout",
            Reason::RailRefused => "rail_refused",
            Reason::ParentSliceShort => "parent_slice_short",
            Reason::DeficitNotCredited => "deficit_not_credited",
            Reason::NotCarriedOut => "not_carried_out",
        }
    }

    /// The reason of an answer the SPEC §4 table gives: `told` after `event` of `step`.
    pub fn of(told: Told, step: Step, event: Event, kind: RequestKind) -> Reason {
        match (told, event) {
            (Told::Succeeded, _) => Reason::None,
            (Told::Failed, Event::TimedOut) => Reason::Timeout,
            // A remittance whose deficit credit (a charge credit) did not complete live.
            (Told::Failed, _) if step == Step::ChargeCredit && kind == RequestKind::Remit => {
                Reason::DeficitNotCredited
            }
            (Told::Failed, _) => Reason::RailRefused,
        }
    }
}

/// Money a request sets aside on a parent account's slice before its first outside call,
/// so the steps it may still need (a credit, a payout, a refund, a recovery) are never
/// refused for want of funds: the amount is held on the account until the step that
/// uses it is final, or the request needs it no more.
pub type Reserve = (AccountId, Amount);

/// A request and its entries, as the books hold it.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct RequestState {
    pub accepted: Accepted,
    pub answer: Option<Answer>,
    pub entries: Vec<EntryId>,
    /// `None` for requests accepted before reservations existed (they hold per entry, as
    /// they always did); otherwise what the request holds now, by account.
    pub reserved: Option<Vec<Reserve>>,
}

/// One request-log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct LogEntry {
    pub id: EntryId,
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub step: Step,
    pub state: EntryState,
    /// The current attempt, from 1; a reprocessing or retry starts the next one.
    pub attempt: u32,
    /// How many times the entry went to FAIL_TRY_AGAIN (S114's failure count).
    pub failures: u32,
    pub amount: Amount,
    /// The step's posting, booked when the entry reaches SUCCESS.
    pub debit: AccountId,
    pub credit: AccountId,
    /// When the current attempt was requested, and when the entry last changed.
    pub requested_at_ms: u64,
    pub updated_at_ms: u64,
    /// The entry's debit is covered by its request's reservation on that account, so the
    /// entry holds nothing of its own.
    pub covered: bool,
}

impl LogEntry {
    /// An entry holds its amount on its debit account while its outcome is open.
    pub fn holds(&self) -> bool {
        holds(self.state)
    }
}

pub fn holds(state: EntryState) -> bool {
    matches!(state, EntryState::Requested | EntryState::Unknown)
}

/// Where the money of a customer's steps lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parties {
    pub customer: CustomerId,
    /// The bank of the customer-linked account (its withdrawal firm parent account).
    pub linked_bank: BankCode,
    /// For remittances: the payee's bank, and the deposit firm bank that pays it.
    pub payee_bank: Option<BankCode>,
    pub deposit_bank: Option<BankCode>,
    /// For a settlement sweep: the parent account it debits and the one it credits.
    pub settlement: Option<(ParentAccount, ParentAccount)>,
}

/// The posting a step books on SUCCESS (SPEC §2): (debit, credit).
pub fn step_legs(step: Step, parties: &Parties) -> (AccountId, AccountId) {
    let customer = AccountId::customer(parties.customer);
    let linked = AccountId::linked(parties.customer);
    let parent = AccountId::parent;
    let payee_bank = || parties.payee_bank.expect("a remittance step has a payee");
    match step {
        Step::ChargeWithdrawal => (
            linked,
            parent(ParentAccount::WithdrawalFirm(parties.linked_bank)),
        ),
        Step::ChargeCredit | Step::Recovery => (parent(ParentAccount::FinParent), customer),
        Step::RemitDeduction => (customer, parent(ParentAccount::FinParent)),
        Step::RemitDeposit => (
            parent(ParentAccount::DepositFirm(
                parties
                    .deposit_bank
                    .expect("a deposit has a deposit firm bank"),
            )),
            AccountId::Designated { bank: payee_bank() },
        ),
        Step::PaymentInstruction => (customer, AccountId::Designated { bank: payee_bank() }),
        Step::Refund => (
            parent(ParentAccount::WithdrawalFirm(parties.linked_bank)),
            linked,
        ),
        Step::Settlement => {
            let (from, to) = parties
                .settlement
                .expect("a settlement names its two parent accounts");
            (parent(from), parent(to))
        }
    }
}

/// What to do after an entry of `request` took `transition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Tell the customer this (only if nothing was told yet).
    pub tell: Option<Told>,
    /// Request this step next, for this amount.
    pub next: Option<(Step, Amount)>,
}

/// The flow's next move (SPEC §3 and the "then" column of SPEC §4).
///
/// In a remittance with a deficit, the deficit charge's credit must really have
/// happened before the remittance goes on; if it is left to reprocessing or to a
/// confirmation, the remittance is told it failed (the charge itself still completes,
/// so the money lands in the customer's balance).
pub fn plan_after(
    accepted: &Accepted,
    answered: bool,
    step: Step,
    amount: Amount,
    transition: &Transition,
) -> Plan {
    let told_already = answered;
    let mut tell = transition.told;
    let next = match (step, transition.then) {
        (_, FollowUp::PostThenCredit) => Some((Step::ChargeCredit, amount)),
        (Step::ChargeCredit, FollowUp::Post) if accepted.kind == RequestKind::Remit => {
            tell = None;
            if told_already {
                None
            } else {
                let path = accepted.path.expect("a remittance has a path");
                Some((remit_step(path), accepted.amount))
            }
        }
        (Step::ChargeCredit, FollowUp::Reprocess | FollowUp::Confirm)
            if accepted.kind == RequestKind::Remit =>
        {
            tell = Some(Told::Failed);
            None
        }
        // The deduction answered done after the customer was already told the remittance
        // failed (its caller's deadline came first, and SPEC §4 tells a deduction in flight
        // failed): it must not pay out now; the deducted money goes back ([0226]).
        (Step::RemitDeduction, FollowUp::PostThenDeposit) if told_already => {
            Some((Step::Recovery, amount))
        }
        (_, FollowUp::PostThenDeposit) => Some((Step::RemitDeposit, amount)),
        (_, FollowUp::PostThenRecover | FollowUp::Recover) => Some((Step::Recovery, amount)),
        (_, FollowUp::Refund) => Some((Step::Refund, amount)),
        _ => None,
    };
    Plan {
        tell: if told_already { None } else { tell },
        next,
    }
}

/// A step a request still owes because its entry could not be created when it was due
/// (its hold was refused, or a crash kept the step's first records and not the next
/// entry): the money must still move, so a supervisor keeps trying to create it. `None`
/// when nothing is owed.
///
/// - a deposit that failed, or a deduction that happened with no deposit after it, owes
///   the customer a recovery (SPEC §5);
/// - a charge credit failed for good owes a refund;
/// - a withdrawal that happened with no credit after it owes the credit;
/// - a remittance on the first path whose deficit was credited, with no deduction after
///   it and nobody told anything yet, owes its deduction (once told failed, it must not
///   go on).
pub fn owed_step(
    accepted: &Accepted,
    answered: bool,
    entries: &[LogEntry],
) -> Option<(Step, Amount)> {
    if let Some(owed) = owed_compensation(entries) {
        return Some(owed);
    }
    let has = |step: Step| entries.iter().any(|e| e.step == step);
    let credited = entries
        .iter()
        .any(|e| e.step == Step::ChargeCredit && e.state == EntryState::Success);
    if accepted.kind == RequestKind::Remit
        && accepted.path == Some(RemitPath::First)
        && credited
        && !answered
        && !has(Step::RemitDeduction)
    {
        return Some((Step::RemitDeduction, accepted.amount));
    }
    None
}

/// The steps owed whatever the request: recoveries, refunds, a credit after a withdrawal.
/// (What the first version of the retention rule checked, before continuations were owed.)
pub fn owed_compensation(entries: &[LogEntry]) -> Option<(Step, Amount)> {
    let has = |step: Step| entries.iter().any(|e| e.step == step);
    let find =
        |step: Step, state: EntryState| entries.iter().find(|e| e.step == step && e.state == state);
    if !has(Step::Recovery) {
        if let Some(x2) = find(Step::RemitDeposit, EntryState::Fail) {
            return Some((Step::Recovery, x2.amount));
        }
        if let Some(x1) = find(Step::RemitDeduction, EntryState::Success) {
            if !has(Step::RemitDeposit) {
                return Some((Step::Recovery, x1.amount));
            }
        }
    }
    if !has(Step::Refund) {
        if let Some(a2) = find(Step::ChargeCredit, EntryState::Fail) {
            return Some((Step::Refund, a2.amount));
        }
    }
    if let Some(a1) = find(Step::ChargeWithdrawal, EntryState::Success) {
        if !has(Step::ChargeCredit) {
            return Some((Step::ChargeCredit, a1.amount));
        }
    }
    None
}

/// The answer a request is due when nobody could be told live: its caller waited past the
/// deadline, or a crash kept the request's records but not its answer. It is what the
/// SPEC §4 table tells for the entries as they stand, in order: a step still open
/// (REQUESTED, UNKNOWN) tells its timeout answer; a final step what its result tells;
/// a step owed and not yet created, its timeout answer (it will be made). A request with
/// nothing open, nothing owed and nothing decided failed: nothing went out for it.
/// `None` only while something could still decide (never for a request with no entries).
pub fn due_answer(accepted: &Accepted, entries: &[LogEntry], at_ms: u64) -> Option<Answer> {
    if accepted.kind == RequestKind::Settlement {
        return None;
    }
    let answer = |told, decided_by, timed_out, reason| Answer {
        told,
        decided_by,
        timed_out,
        at_ms,
        reason,
    };
    // The step that should come next and was not (yet) carried out.
    let mut next = Some(first_step(accepted).0);
    for entry in entries {
        let (event, timed_out) = match entry.state {
            EntryState::Requested | EntryState::Unknown => (Event::TimedOut, true),
            EntryState::Success => (Event::Succeeded, false),
            EntryState::Fail | EntryState::FailTryAgain => (Event::Failed, false),
        };
        let Ok(t) = transition(entry.step, EntryState::Requested, event) else {
            continue;
        };
        let plan = plan_after(accepted, false, entry.step, entry.amount, &t);
        if let Some(told) = plan.tell {
            let reason = Reason::of(told, entry.step, event, accepted.kind);
            return Some(answer(told, entry.step, timed_out, reason));
        }
        next = plan.next.map(|(step, _)| step);
    }
    let owed = owed_step(accepted, false, entries);
    if let Some((step, _)) = owed {
        if let Some(told) = policy(step).on_timeout_told {
            // The step will be made (it is owed); the caller hears its timeout answer.
            let reason = Reason::of(told, step, Event::TimedOut, accepted.kind);
            return Some(answer(told, step, true, reason));
        }
    }
    // Nothing decided it: the request stopped before `next` (a crash came in between,
    // and what it still owes is a compensation, such as the recovery of a deduction
    // whose deposit was never made). It failed, decided by the step not carried out.
    let not_carried_out = match owed {
        Some((Step::Recovery, _)) => Step::RemitDeposit,
        _ => next.unwrap_or_else(|| entries.last().map_or(first_step(accepted).0, |e| e.step)),
    };
    Some(answer(
        Told::Failed,
        not_carried_out,
        false,
        Reason::NotCarriedOut,
    ))
}

/// What a request sets aside before its first call (see [`Reserve`]): a charge, its
/// credit on `fin_parent`; a remittance on the first path, its payout on the deposit firm
/// account that pays it; a deficit, its credit on `fin_parent`. The house's sweeps set
/// nothing aside (they hold per entry).
pub fn reserves_for(accepted: &Accepted, parties: &Parties) -> Vec<Reserve> {
    let fin_parent = AccountId::parent(ParentAccount::FinParent);
    match accepted.kind {
        RequestKind::Charge => vec![(fin_parent, accepted.amount)],
        RequestKind::Remit => {
            let mut reserves = Vec::new();
            if let Some(deficit) = accepted.deficit {
                reserves.push((fin_parent, deficit));
            }
            if accepted.path == Some(RemitPath::First) {
                if let Some(bank) = parties.deposit_bank {
                    reserves.push((
                        AccountId::parent(ParentAccount::DepositFirm(bank)),
                        accepted.amount,
                    ));
                }
            }
            reserves
        }
        RequestKind::Settlement => Vec::new(),
    }
}

/// Whether a step's SUCCESS sets its credit aside for the compensation that may follow:
/// a withdrawal (A1) for the refund of a credit that fails for good, a deduction (X1) for
/// the recovery of a deposit that fails. Released once the step after it succeeds.
pub fn reserves_credit_for_compensation(step: Step) -> bool {
    matches!(step, Step::ChargeWithdrawal | Step::RemitDeduction)
}

/// Where a request stands for good, for a client deciding what to do next: what moved,
/// whatever it was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// Still moving: a call open, a step owed, or no answer yet.
    Pending,
    /// A charge: the money is in the customer's account.
    Credited,
    /// A charge: drawn from the linked account, then given back to it.
    Refunded,
    /// A remittance: the payee was paid.
    PaidOut,
    /// A remittance: deducted from the customer, not paid, and credited back.
    Recovered,
    /// A remittance that did not pay out, but whose deficit charge was credited to the
    /// customer's account.
    DeficitCredited,
    /// Nothing moved.
    NothingMoved,
}

impl Settled {
    pub const fn as_str(self) -> &'static str {
        match self {
            Settled::Pending => "pending",
            Settled::Credited => "credited",
            Settled::Refunded => "refunded",
            Settled::PaidOut => "paid_out",
            Settled::Recovered => "recovered",
            Settled::DeficitCredited => "deficit_credited",
            Settled::NothingMoved => "nothing_moved",
        }
    }
}

/// Where a request stands for good ([`Settled`]), from its entries.
pub fn settled_outcome(request: &RequestState, entries: &[LogEntry]) -> Settled {
    let open = entries.iter().any(|e| !e.state.is_final());
    let owed = owed_step(&request.accepted, request.answer.is_some(), entries).is_some();
    if open || owed || request.answer.is_none() {
        return Settled::Pending;
    }
    let done = |step: Step| {
        entries
            .iter()
            .any(|e| e.step == step && e.state == EntryState::Success)
    };
    match request.accepted.kind {
        RequestKind::Charge if done(Step::Refund) => Settled::Refunded,
        RequestKind::Charge if done(Step::ChargeCredit) => Settled::Credited,
        RequestKind::Remit if done(Step::RemitDeposit) || done(Step::PaymentInstruction) => {
            Settled::PaidOut
        }
        RequestKind::Remit if done(Step::Recovery) => Settled::Recovered,
        RequestKind::Remit if done(Step::Refund) => Settled::NothingMoved,
        RequestKind::Remit if done(Step::ChargeCredit) => Settled::DeficitCredited,
        RequestKind::Settlement if done(Step::Settlement) => Settled::PaidOut,
        _ => Settled::NothingMoved,
    }
}

/// The first step of a remittance's own path.
pub fn remit_step(path: RemitPath) -> Step {
    match path {
        RemitPath::First => Step::RemitDeduction,
        RemitPath::PaymentInstruction => Step::PaymentInstruction,
    }
}

/// The first step of an accepted request.
pub fn first_step(accepted: &Accepted) -> (Step, Amount) {
    match (accepted.kind, accepted.deficit) {
        (RequestKind::Settlement, _) => (Step::Settlement, accepted.amount),
        (RequestKind::Charge, _) => (Step::ChargeWithdrawal, accepted.amount),
        (RequestKind::Remit, Some(deficit)) => (Step::ChargeWithdrawal, deficit),
        (RequestKind::Remit, None) => (
            remit_step(accepted.path.expect("a remittance has a path")),
            accepted.amount,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_log::{transition, Event};
    use crate::Currency;

    fn request(kind: RequestKind, deficit: Option<i64>, path: Option<RemitPath>) -> RequestState {
        RequestState {
            accepted: Accepted {
                customer: CustomerId::new(1).unwrap(),
                request_no: RequestNo::new("R1").unwrap(),
                request_date: RequestDate::from_ymd(2026, 11, 21).unwrap(),
                kind,
                amount: Amount::krw(1_500_000).unwrap(),
                payee: None,
                path,
                deficit: deficit.map(|d| Amount::krw(d).unwrap()),
                at_ms: 0,
            },
            answer: None,
            entries: vec![],
            reserved: None,
        }
    }

    fn krw(won: i64) -> Amount {
        Amount::new(Currency::Krw, won.into()).unwrap()
    }

    #[test]
    fn a_charge_goes_from_withdrawal_to_credit_and_tells_success() {
        let r = request(RequestKind::Charge, None, None);
        let a1 = transition(
            Step::ChargeWithdrawal,
            EntryState::Requested,
            Event::Succeeded,
        )
        .unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeWithdrawal,
                krw(10),
                &a1
            ),
            Plan {
                tell: None,
                next: Some((Step::ChargeCredit, krw(10)))
            }
        );
        let a2 = transition(Step::ChargeCredit, EntryState::Requested, Event::Succeeded).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeCredit,
                krw(10),
                &a2
            ),
            Plan {
                tell: Some(Told::Succeeded),
                next: None
            }
        );
    }

    #[test]
    fn a_deficit_charge_continues_with_the_remittance_once_credited() {
        let r = request(RequestKind::Remit, Some(1_000_000), Some(RemitPath::First));
        assert_eq!(
            first_step(&r.accepted),
            (Step::ChargeWithdrawal, krw(1_000_000))
        );
        let a2 = transition(Step::ChargeCredit, EntryState::Requested, Event::Succeeded).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeCredit,
                krw(1_000_000),
                &a2
            ),
            Plan {
                tell: None,
                next: Some((Step::RemitDeduction, krw(1_500_000)))
            }
        );
    }

    #[test]
    fn a_deficit_charge_left_to_reprocessing_fails_the_remittance() {
        let r = request(
            RequestKind::Remit,
            Some(1_000_000),
            Some(RemitPath::PaymentInstruction),
        );
        let a2 = transition(Step::ChargeCredit, EntryState::Requested, Event::Failed).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::ChargeCredit,
                krw(1_000_000),
                &a2
            ),
            Plan {
                tell: Some(Told::Failed),
                next: None
            }
        );
    }

    #[test]
    fn a_deposit_that_failed_is_recovered_and_the_customer_told_it_failed() {
        let r = request(RequestKind::Remit, None, Some(RemitPath::First));
        let x2 = transition(Step::RemitDeposit, EntryState::Requested, Event::Failed).unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::RemitDeposit,
                krw(5),
                &x2
            ),
            Plan {
                tell: Some(Told::Failed),
                next: Some((Step::Recovery, krw(5)))
            }
        );
    }

    #[test]
    fn nothing_is_told_twice() {
        let mut r = request(RequestKind::Remit, None, Some(RemitPath::First));
        r.answer = Some(Answer {
            told: Told::Failed,
            decided_by: Step::RemitDeduction,
            timed_out: true,
            at_ms: 1,
            reason: Reason::Timeout,
        });
        let done = transition(
            Step::RemitDeduction,
            EntryState::Unknown,
            Event::ConfirmedDone,
        )
        .unwrap();
        assert_eq!(
            plan_after(
                &r.accepted,
                r.answer.is_some(),
                Step::RemitDeduction,
                krw(5),
                &done
            ),
            Plan {
                tell: None,
                next: Some((Step::Recovery, krw(5)))
            }
        );
    }
}
