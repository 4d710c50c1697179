//! The instruments' rules, checked through the functions the books and the saga runtime
//! call: what follows each transition, and the answer a request is due.

use super::{due_answer, first_step, plan_after};
use crate::ids::{CustomerId, RequestNo};
use crate::money::Amount;
use crate::request::RequestDate;
use crate::request_log::{transition, EntryState, Event, Step, Told};
use crate::routing::RemitPath;
use crate::saga::{Accepted, Answer, Plan, Reason, RequestKind};
use crate::Currency;

/// A request as the plan reads it: what was accepted, and the answer if any.
struct RequestState {
    accepted: Accepted,
    answer: Option<Answer>,
}

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

fn accepted(kind: RequestKind, path: Option<RemitPath>, deficit: Option<i64>) -> Accepted {
    Accepted {
        customer: CustomerId::new(1).unwrap(),
        request_no: RequestNo::new("R1").unwrap(),
        request_date: RequestDate::from_ymd(2026, 11, 21).unwrap(),
        kind,
        amount: Amount::krw(2_500_000).unwrap(),
        payee: None,
        path,
        deficit: deficit.map(|d| Amount::krw(d).unwrap()),
        at_ms: 0,
    }
}

/// A request on record with no entry (refused before any call, or waited its turn in
/// its customer's queue past the deadline) is due one answer whatever its kind: failed,
/// decided by the first step it did not carry out, not by a timeout, `not_carried_out`.
#[test]
fn a_request_with_no_entry_is_told_failed_not_carried_out_by_its_first_step() {
    for (request, first) in [
        (
            accepted(RequestKind::Charge, None, None),
            Step::ChargeWithdrawal,
        ),
        (
            accepted(RequestKind::Remit, Some(RemitPath::First), None),
            Step::RemitDeduction,
        ),
        (
            accepted(
                RequestKind::Remit,
                Some(RemitPath::PaymentInstruction),
                None,
            ),
            Step::PaymentInstruction,
        ),
        (
            accepted(RequestKind::Remit, Some(RemitPath::First), Some(1_000_000)),
            Step::ChargeWithdrawal,
        ),
    ] {
        assert_eq!(first_step(&request).0, first);
        assert_eq!(
            due_answer(&request, &[], 7),
            Some(Answer {
                told: Told::Failed,
                decided_by: first,
                timed_out: false,
                at_ms: 7,
                reason: Reason::NotCarriedOut,
            }),
            "{request:?}"
        );
    }
}

/// Issue 13's earliest durable answer: a charge's credit (A2) tells `succeeded` whatever
/// it does (SPEC §4), so its durable entry fixes the answer; no other step of seed 000
/// does (each has a result that tells otherwise, or tells nothing).
#[test]
fn only_a_charges_credit_fixes_the_answer_before_its_result() {
    use super::fixed_answer;
    // The steps a charge or a remittance can take (a merchant refund, which fixes its own
    // request's answer at its entry, is asserted below).
    let all: Vec<Step> = Step::ALL
        .into_iter()
        .filter(|s| !matches!(s, Step::MerchantRefund | Step::PocketRelease))
        .collect();
    let charge = request(RequestKind::Charge, None, None).accepted;
    for &step in &all {
        let fixed = fixed_answer(&charge, step, krw(1_500_000), 7);
        if step == Step::ChargeCredit {
            assert_eq!(
                fixed,
                Some(Answer {
                    told: Told::Succeeded,
                    decided_by: Step::ChargeCredit,
                    timed_out: false,
                    at_ms: 7,
                    reason: Reason::None,
                })
            );
        } else {
            assert_eq!(fixed, None, "{step} of a charge");
        }
    }
    for path in [RemitPath::First, RemitPath::PaymentInstruction] {
        for deficit in [None, Some(1_000_000)] {
            let remit = request(RequestKind::Remit, deficit, Some(path)).accepted;
            for &step in &all {
                assert_eq!(
                    fixed_answer(&remit, step, krw(1_500_000), 7),
                    None,
                    "{step} of a remittance {path:?}, deficit {deficit:?}"
                );
            }
        }
    }
    let mut house = request(RequestKind::Settlement, None, None).accepted;
    house.customer = crate::saga::HOUSE;
    assert_eq!(fixed_answer(&house, Step::Settlement, krw(1), 7), None);
}

/// What the fixed answer says is what the step's every result would have told: the
/// answer a request is due after a crash that kept the entry but not the answer
/// (`due_answer`) tells the same.
#[test]
fn a_fixed_answer_tells_what_the_due_answer_derives_from_the_durable_entries() {
    use super::fixed_answer;
    use crate::saga::{EntryId, LogEntry};
    let charge = request(RequestKind::Charge, None, None).accepted;
    let fixed = fixed_answer(&charge, Step::ChargeCredit, charge.amount, 7).unwrap();
    for a2 in [
        EntryState::Requested,
        EntryState::Unknown,
        EntryState::Success,
        EntryState::FailTryAgain,
    ] {
        let entry = |id: u64, step, state| LogEntry {
            id: EntryId(id),
            customer: charge.customer,
            request_no: charge.request_no,
            step,
            state,
            attempt: 1,
            failures: 0,
            amount: charge.amount,
            debit: crate::ids::AccountId::customer(charge.customer),
            credit: crate::ids::AccountId::customer(charge.customer),
            requested_at_ms: 0,
            updated_at_ms: 0,
            covered: false,
        };
        let entries = [
            entry(1, Step::ChargeWithdrawal, EntryState::Success),
            entry(2, Step::ChargeCredit, a2),
        ];
        let due = due_answer(&charge, &entries, 7).unwrap();
        assert_eq!(
            (due.told, due.decided_by, due.reason),
            (fixed.told, fixed.decided_by, fixed.reason),
            "A2 {a2:?}"
        );
    }
}
