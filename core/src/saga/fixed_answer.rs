//! The earliest durable point that fixes a request's answer (issue 13).
//!
//! A saga used to tell its caller only once the step that decides the answer had a result:
//! a charge waited for its credit (A2) although SPEC §4 tells `succeeded` whatever A2 does
//! (success, FAIL_TRY_AGAIN, a timeout). Once the entry of such a step is durable, nothing
//! that happens next can change what the caller is told, so the answer can be recorded in
//! the same group of records as that entry and given as soon as the group is durable.
//!
//! The rule is generic, asked of the request's instrument through its own `plan_after`:
//! a step fixes the answer when every result it can have tells the caller the same thing,
//! for the same reason. Nothing here names a product; today only a charge's credit
//! qualifies (a remittance's deposit does not: its failure tells `failed`). The saga
//! runtime asks it of each step that follows a result (`actors/src/saga/advance.rs`);
//! no first step of a request qualifies, so acceptance does not ask.

use super::{Accepted, Answer, Instrument};
use crate::money::Amount;
use crate::request_log::{transition, EntryState, Event, Step};

/// The answer fixed by `step`'s entry (of `amount`) being durable, for a request nobody was
/// told anything yet: `Some` when every result of the step (it succeeds, it fails, it
/// times out) tells the same with the same reason, decided by `step`. Not a timeout's
/// answer: the caller hears it before any result, so `timed_out` is false. `None` for the
/// house's requests, which nobody waits for.
pub fn fixed_answer(
    instrument: &dyn Instrument,
    accepted: &Accepted,
    step: Step,
    amount: Amount,
    at_ms: u64,
) -> Option<Answer> {
    if instrument.is_house() {
        return None;
    }
    let mut fixed = None;
    for event in [Event::Succeeded, Event::Failed, Event::TimedOut] {
        let t = transition(step, EntryState::Requested, event).ok()?;
        let told = instrument
            .plan_after(accepted, false, step, amount, &t)
            .tell?;
        let reason = instrument.reason(told, step, event);
        match fixed {
            None => fixed = Some((told, reason)),
            Some(first) if first == (told, reason) => {}
            Some(_) => return None,
        }
    }
    let (told, reason) = fixed?;
    Some(Answer {
        told,
        decided_by: step,
        timed_out: false,
        at_ms,
        reason,
    })
}
