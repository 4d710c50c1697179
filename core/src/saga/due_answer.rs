//! The answer a request is due when nobody could be told live.

use super::{first_step, plan_after};
use crate::ledger::{owed_step, Accepted, Answer, LogEntry, Reason, RequestKind};
use crate::request_log::{policy, transition, EntryState, Event, Step, Told};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, RequestNo};
    use crate::money::Amount;
    use crate::request::RequestDate;
    use crate::routing::RemitPath;

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
}
