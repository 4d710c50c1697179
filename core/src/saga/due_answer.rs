//! The answer a request is due when nobody could be told live.

use super::{Accepted, Answer, Instrument, LogEntry, Reason};
use crate::request_log::{policy, transition, EntryState, Event, Step, Told};

/// The answer a request is due when nobody could be told live: its caller waited past the
/// deadline, or a crash kept the request's records but not its answer. It is what the
/// SPEC §4 table tells for the entries as they stand, in order: a step still open
/// (REQUESTED, UNKNOWN) tells its timeout answer; a final step what its result tells;
/// a step owed and not yet created, its timeout answer (it will be made). A request with
/// nothing open, nothing owed and nothing decided failed: nothing went out for it.
/// `None` only while something could still decide (never for a request with no entries),
/// and for the house's own requests, which nobody waits for.
pub fn due_answer(
    instrument: &dyn Instrument,
    accepted: &Accepted,
    entries: &[LogEntry],
    at_ms: u64,
) -> Option<Answer> {
    if instrument.is_house() {
        return None;
    }
    let answer = |told, decided_by, timed_out, reason| Answer {
        told,
        decided_by,
        timed_out,
        at_ms,
        reason,
    };
    let first = instrument.first_step(accepted).0;
    // The step that should come next and was not (yet) carried out.
    let mut next = Some(first);
    for entry in entries {
        let (event, timed_out) = match entry.state {
            EntryState::Requested | EntryState::Unknown => (Event::TimedOut, true),
            EntryState::Success => (Event::Succeeded, false),
            EntryState::Fail | EntryState::FailTryAgain => (Event::Failed, false),
        };
        let Ok(t) = transition(entry.step, EntryState::Requested, event) else {
            continue;
        };
        let plan = instrument.plan_after(accepted, false, entry.step, entry.amount, &t);
        if let Some(told) = plan.tell {
            let reason = instrument.reason(told, entry.step, event);
            return Some(answer(told, entry.step, timed_out, reason));
        }
        next = plan.next.map(|(step, _)| step);
    }
    let owed = instrument.owed(accepted, None, entries);
    if let Some((step, _)) = owed {
        if let Some(told) = policy(step).on_timeout_told {
            // The step will be made (it is owed); the caller hears its timeout answer.
            let reason = instrument.reason(told, step, Event::TimedOut);
            return Some(answer(told, step, true, reason));
        }
    }
    // Nothing decided it: the request stopped before `next` (a crash came in between,
    // and what it still owes is a compensation, such as the recovery of a deduction
    // whose deposit was never made). It failed, decided by the step not carried out.
    let not_carried_out: Step = instrument
        .not_carried_out(owed.map(|(step, _)| step), next)
        .unwrap_or_else(|| entries.last().map_or(first, |e| e.step));
    Some(answer(
        Told::Failed,
        not_carried_out,
        false,
        Reason::NotCarriedOut,
    ))
}
