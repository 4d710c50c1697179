//! An entry's event (an answer, a timeout, a confirmation) and whatever follows from it
//! (SPEC §4), applied as one step: the event, the next entry, the customer's answer (the
//! one this result tells, or the one the next entry already fixes).

use std::rc::Rc;

use omnibus_core::instruments;
use omnibus_core::instruments::{fixed_answer, plan_after};
use omnibus_core::ledger::BooksError;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::request_log::{transition, Event, Told};
use omnibus_core::saga::{Answer, EntryId, Reason};

use super::{Moved, SagaRuntime, STEP_RECORDS};
use crate::api::EngineEvent;
use crate::error::EngineError;
use crate::ledger::Admission;

impl SagaRuntime {
    /// Applies `event` to an entry and whatever follows from it (SPEC §4): the next entry,
    /// the customer's answer. `Ok(None)` if the event does not apply (the entry is final:
    /// a late answer after a confirmation); otherwise what moved, with a barrier that
    /// fires once it is all durable. "Overloaded" when the shard's queue has no room for
    /// the step now: nothing changed, and the caller applies the event again once the log
    /// has made progress ([`advance_when_room`]).
    pub fn advance(
        self: &Rc<Self>,
        id: EntryId,
        event: Event,
    ) -> Result<Option<Moved>, EngineError> {
        let now = self.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        let Some(entry) = ledger.books().entry(id).copied() else {
            return Ok(None);
        };
        // A late answer after a confirmation, or a second confirmation: the entry is final.
        let Ok(t) = transition(entry.step, entry.state, event) else {
            return Ok(None);
        };
        let Some((accepted, answered)) = ledger
            .books()
            .request(entry.customer, entry.request_no)
            .map(|r| (r.accepted, r.answer.is_some()))
        else {
            return Ok(None);
        };
        ledger.admit(STEP_RECORDS, Admission::Continuation)?;
        let plan = plan_after(&accepted, answered, entry.step, entry.amount, &t);
        let actor = ActorId::Customer(entry.customer);
        if let Err(e) = ledger.execute_unwaited(
            actor,
            &LedgerRecord::EntryEvent {
                entry: id,
                event,
                at_ms: now,
            },
        ) {
            tracing::error!(shard = self.shard, entry = %id, ?event, error = %e, "an entry's event could not be applied");
            return Ok(None);
        }
        self.publish(EngineEvent::EntryChanged {
            shard: self.shard,
            entry: id,
            customer: entry.customer,
            request_no: entry.request_no,
            step: entry.step,
            from: Some(entry.state),
            to: t.to,
            at_ms: now,
        });
        let mut tell = plan.tell;
        let mut decided_by = entry.step;
        let mut timed_out = event == Event::TimedOut;
        let mut reason =
            tell.map(|told| instruments::reason(accepted.kind, told, entry.step, event));
        // The request's turn at its customer's account ends with this result, if its
        // answer was given before it (see `turns.rs`).
        self.end_turn((entry.customer, entry.request_no));
        let mut next = None;
        let mut early = false;
        if let Some((step, amount)) = plan.next {
            let named = ledger
                .books()
                .named_on_record(entry.customer, entry.request_no)
                .or(omnibus_core::saga::Named::in_entries([&entry]));
            match self.request_entry(&mut ledger, &accepted, step, amount, now, named) {
                Ok(next_id) => {
                    next = Some(next_id);
                    // The next step's entry, durable with this group, may already fix
                    // what the caller is told whatever it does (`fixed_answer`): then the
                    // answer goes on record in this group and is given once it is durable,
                    // one outside call and one group commit earlier.
                    if tell.is_none() && !answered {
                        if let Some(fixed) = fixed_answer(&accepted, step, amount, now) {
                            tell = Some(fixed.told);
                            decided_by = fixed.decided_by;
                            timed_out = fixed.timed_out;
                            reason = Some(fixed.reason);
                            early = true;
                        }
                    }
                }
                Err(e) => {
                    // The next step cannot start (its hold is refused; a request that set
                    // its money aside at acceptance never gets here): the request fails
                    // here if nobody was told yet, decided by the step that could not
                    // start, and whatever money the request still owes (a recovery, a
                    // refund, a credit) is left to the recovery supervisor, which keeps
                    // trying to create the entry.
                    tracing::warn!(shard = self.shard, entry = %id, ?step, error = %e, "next entry refused");
                    if matches!(e, EngineError::Refused(BooksError::BelowFloor { .. })) {
                        // A parent slice short of what the step needs: refill it now.
                        self.refill.short();
                    }
                    if tell.is_none() && !answered {
                        tell = Some(Told::Failed);
                        decided_by = step;
                        timed_out = false;
                        reason = Some(
                            if matches!(e, EngineError::Refused(BooksError::BelowFloor { .. })) {
                                Reason::ParentSliceShort
                            } else {
                                Reason::NotCarriedOut
                            },
                        );
                    }
                    self.owed
                        .borrow_mut()
                        .insert((entry.customer, entry.request_no));
                }
            }
        }
        if let Some(told) = tell {
            let answer = Answer {
                told,
                decided_by,
                timed_out,
                at_ms: now,
                reason: reason.unwrap_or(Reason::NotCarriedOut),
            };
            let record = LedgerRecord::Answered {
                customer: entry.customer,
                request_no: entry.request_no,
                answer,
            };
            match ledger.execute_unwaited(actor, &record) {
                Ok(_) => {
                    let (ctx, customer, request_no) =
                        (self.clone(), entry.customer, entry.request_no);
                    if early {
                        self.hold_turn((customer, request_no));
                    }
                    self.publish(EngineEvent::Answered {
                        shard: self.shard,
                        customer,
                        request_no,
                        told,
                        at_ms: now,
                    });
                    ledger.after_durable(Box::new(move |durable| {
                        ctx.answer_callers(customer, request_no, durable)
                    }));
                }
                Err(e) => {
                    tracing::error!(shard = self.shard, entry = %id, error = %e, "an answer could not be recorded")
                }
            }
        }
        self.release_events(&mut ledger);
        drop(ledger);
        Ok(Some(Moved {
            next,
            durable: self.durable(),
        }))
    }
}

/// Applies `event` to an entry ([`SagaRuntime::advance`]), waiting for room in the
/// shard's queue when it is full: an answer from outside is never dropped for overload.
/// `None` if the event does not apply, or the shard's log failed.
pub async fn advance_when_room(ctx: &Rc<SagaRuntime>, id: EntryId, event: Event) -> Option<Moved> {
    loop {
        match ctx.advance(id, event) {
            Ok(moved) => return moved,
            Err(EngineError::Overloaded(_)) => {
                // The queue is full of records on their way to disk; once some are
                // durable there is room again.
                if !matches!(ctx.durable().await, Ok(Ok(()))) {
                    return None;
                }
            }
            Err(e) => {
                tracing::error!(shard = ctx.shard, entry = %id, ?event, error = %e, "an entry's event could not be applied");
                return None;
            }
        }
    }
}
