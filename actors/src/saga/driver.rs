//! Driving a flow: call, wait at most the rail's timeout, reflect the answer, follow,
//! until nothing follows live; late answers; and what a restart finds in flight.

use std::rc::Rc;
use std::time::Duration;

use omnibus_core::request_log::{policy, EntryState, Event};
use omnibus_core::saga::EntryId;

use super::advance::advance_when_room;
use super::calls::CallSlot;
use super::{Live, Moved, SagaRuntime};
use crate::rails::{Answer as RailResult, Confirmation, RailAnswer, RailFuture};

/// Drives a flow from `entry` on: call, wait, reflect, follow, until nothing follows live.
pub async fn drive(ctx: Rc<SagaRuntime>, entry: EntryId, live: Option<Live>) {
    drive_from(ctx, entry, live, None).await
}

/// [`drive`], with the first call's place among the calls in flight taken already (at
/// acceptance, so that requests accepted together cannot all pass the bound).
pub(super) async fn drive_from(
    ctx: Rc<SagaRuntime>,
    mut entry: EntryId,
    live: Option<Live>,
    mut first_slot: Option<CallSlot>,
) {
    loop {
        let Some((mut call, timeout, log)) = ctx.call(entry, live.as_ref()) else {
            // Nothing to call: no result will end a turn held past an early answer.
            ctx.end_turn_of(entry);
            return;
        };
        let slot = first_slot.take().unwrap_or_else(|| ctx.call_slot(log));
        let sleep = tokio::time::sleep(timeout);
        tokio::pin!(sleep);
        let answer = tokio::select! {
            biased;
            answer = &mut call => Some(answer),
            () = &mut sleep => None,
        };
        // Answered or timed out: no longer in flight (a late answer is watched apart).
        drop(slot);
        let event = match answer {
            Some(Ok(RailAnswer::Done)) => Event::Succeeded,
            Some(Ok(RailAnswer::Refused { .. })) => Event::Failed,
            // Unreachable is no answer about the request: it is treated as a timeout, and
            // the confirm inquiry settles it.
            Some(Err(_)) => Event::TimedOut,
            None => {
                watch_late(&ctx, entry, call, live.clone());
                Event::TimedOut
            }
        };
        let moved = advance_when_room(&ctx, entry, event).await;
        if event == Event::TimedOut && moved.is_some() {
            confirm_promptly(&ctx, entry);
        }
        match moved {
            Some(Moved {
                next: Some(next),
                durable,
                ..
            }) => {
                if !matches!(durable.await, Ok(Ok(()))) {
                    return;
                }
                entry = next;
            }
            _ => return,
        }
    }
}

/// Keeps waiting for an answer that missed its timeout, and reflects it when it comes
/// ("a result that arrives late is still reflected"). Bounded in time by the supervisors'
/// window (they confirm the entry by then) and in number by the shard's flow bound.
fn watch_late(
    ctx: &Rc<SagaRuntime>,
    entry: EntryId,
    call: RailFuture<RailResult>,
    live: Option<Live>,
) {
    if ctx.late.get() >= ctx.config.actors.sagas_in_flight_max as usize {
        return;
    }
    ctx.late.set(ctx.late.get() + 1);
    let ctx = ctx.clone();
    let window = Duration::from_millis(ctx.config.supervisor.window_max_age_ms);
    actix::spawn(async move {
        if let Ok(Ok(answer)) = tokio::time::timeout(window, call).await {
            let event = match answer {
                RailAnswer::Done => Event::Succeeded,
                RailAnswer::Refused { .. } => Event::Failed,
            };
            reflect_and_follow(&ctx, entry, event, live).await;
        }
        ctx.late.set(ctx.late.get() - 1);
    });
}

/// Applies `event` to `entry` (a late answer, a confirmation) and drives what follows.
async fn reflect_and_follow(
    ctx: &Rc<SagaRuntime>,
    entry: EntryId,
    event: Event,
    live: Option<Live>,
) {
    if let Some(Moved {
        next: Some(next),
        durable,
        ..
    }) = advance_when_room(ctx, entry, event).await
    {
        if matches!(durable.await, Ok(Ok(()))) {
            drive(ctx.clone(), next, live).await;
        }
    }
}

/// The prompt confirm of a timed-out step whose policy asks for one (INSTRUMENTS.md
/// D-0.2): its outcome is asked of the rail by request id at once, then after
/// `payments.confirm_backoff_ms`, twice that, ... (`payments.confirm_retry_max` times in
/// all), and reflected; whatever follows (a sale's reversal) is driven. It stops when
/// the entry is no longer UNKNOWN (a late answer, or the non-reflected search, came
/// first), and leaves the entry to that search when no confirm is answered. Bounded, with
/// the late answers watched, by the shard's flow bound.
fn confirm_promptly(ctx: &Rc<SagaRuntime>, entry: EntryId) {
    let Some(step) = ctx.books().entry(entry).map(|e| e.step) else {
        return;
    };
    let tries = ctx.config.payments.confirm_retry_max;
    if !policy(step).prompt_confirm
        || tries == 0
        || ctx.late.get() >= ctx.config.actors.sagas_in_flight_max as usize
    {
        return;
    }
    ctx.late.set(ctx.late.get() + 1);
    let ctx = ctx.clone();
    actix::spawn(async move {
        let mut wait = Duration::ZERO;
        for _ in 0..tries {
            tokio::time::sleep(wait).await;
            wait = if wait.is_zero() {
                Duration::from_millis(ctx.config.payments.confirm_backoff_ms)
            } else {
                wait.saturating_mul(2)
            };
            let Some(now) = ctx.books().entry(entry).copied() else {
                break;
            };
            if now.state != EntryState::Unknown {
                break;
            }
            let event = match ctx.confirm(entry, step, now.attempt).await {
                Some(Confirmation::Executed) => Event::ConfirmedDone,
                Some(Confirmation::NotExecuted) => Event::ConfirmedNotDone,
                None => continue,
            };
            reflect_and_follow(&ctx, entry, event, None).await;
            break;
        }
        ctx.late.set(ctx.late.get() - 1);
    });
}

/// After a restart, an entry still REQUESTED may or may not have reached its outside
/// system: it is a timeout, left UNKNOWN for the confirm inquiry (SPEC §4), and a caller
/// resubmitting is told what the timeout rule says. Runs as a task, so that any number
/// of such entries go through the shard's bounded queue.
pub fn resume_after_restart(ctx: &Rc<SagaRuntime>) -> usize {
    let requested: Vec<EntryId> = ctx
        .ledger
        .borrow()
        .books()
        .requested_entries()
        .map(|(_, id)| id)
        .collect();
    let count = requested.len();
    if count > 0 {
        let ctx = ctx.clone();
        actix::spawn(async move {
            for entry in requested {
                // A payment step left in flight is confirmed at once (D-0.2), as after a
                // live timeout.
                if advance_when_room(&ctx, entry, Event::TimedOut)
                    .await
                    .is_some()
                {
                    confirm_promptly(&ctx, entry);
                }
            }
        });
    }
    count
}
