//! Callers waiting for a request's answer: added on submission (bounded per request),
//! answered once the answer is durable; and answers past `actors.answer_deadline_ms`.

use std::rc::Rc;

use omnibus_core::instruments::due_answer;
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::{CustomerId, RequestNo};

use super::SagaRuntime;
use crate::api::{EngineEvent, Outcome};
use crate::error::{EngineError, Rejection};
use crate::ledger::Admission;
use crate::reply::Reply;

impl SagaRuntime {
    /// Adds a caller waiting for a request's answer; past
    /// `actors.callers_per_request_max` callers of one request it is answered
    /// "overloaded" instead.
    pub fn add_caller(&self, customer: CustomerId, request_no: RequestNo, reply: Reply<Outcome>) {
        let max = self.config.actors.callers_per_request_max as usize;
        let mut callers = self.callers.borrow_mut();
        let waiting = callers.entry((customer, request_no)).or_default();
        if waiting.len() >= max {
            drop(callers);
            reply.send(Err(EngineError::Overloaded(crate::error::Bound::Callers)));
            return;
        }
        waiting.push(reply);
    }

    /// Answers the requests whose callers have waited `actors.answer_deadline_ms` since
    /// acceptance, and those a crash left without an answer: each is told what the SPEC
    /// §4 table tells for the entries as they stand (a timeout of the step in flight),
    /// recorded like any answer, and its flow carries on. At most `supervisor.batch_max`
    /// a call; what does not fit in the shard's queue now is answered at the next.
    pub fn answer_overdue(self: &Rc<Self>) -> usize {
        let now = self.now_ms();
        let deadline = self.config.actors.answer_deadline_ms;
        let batch_max = self.config.supervisor.batch_max as usize;
        let mut ledger = self.ledger.borrow_mut();
        let due: Vec<(CustomerId, RequestNo)> = ledger
            .books()
            .unanswered_requests()
            .take_while(|(at_ms, ..)| at_ms.saturating_add(deadline) <= now)
            .take(batch_max)
            .map(|(_, customer, request_no)| (customer, request_no))
            .collect();
        let mut answered = 0;
        for (customer, request_no) in due {
            if ledger.admit(1, Admission::Continuation).is_err() {
                break;
            }
            let books = ledger.books();
            let Some(request) = books.request(customer, request_no) else {
                continue;
            };
            let entries = books.request_entries(request);
            let Some(answer) = due_answer(&request.accepted, &entries, now) else {
                continue;
            };
            let record = LedgerRecord::Answered {
                customer,
                request_no,
                answer,
            };
            if let Err(e) = ledger.execute_unwaited(ActorId::Customer(customer), &record) {
                tracing::warn!(shard = self.shard, request = %request_no, error = %e, "an overdue answer could not be recorded");
                continue;
            }
            answered += 1;
            tracing::info!(shard = self.shard, request = %request_no, told = ?answer.told, decided_by = %answer.decided_by, "answered past the deadline");
            self.publish(EngineEvent::Answered {
                shard: self.shard,
                customer,
                request_no,
                told: answer.told,
                at_ms: now,
            });
            let ctx = self.clone();
            ledger.after_durable(Box::new(move |durable| {
                ctx.answer_callers(customer, request_no, durable)
            }));
        }
        self.release_events(&mut ledger);
        answered
    }

    /// Answers every caller waiting on a request that has an answer on record.
    pub(super) fn answer_callers(
        &self,
        customer: CustomerId,
        request_no: RequestNo,
        durable: Result<(), EngineError>,
    ) {
        let callers = self
            .callers
            .borrow_mut()
            .remove(&(customer, request_no))
            .unwrap_or_default();
        if callers.is_empty() {
            return;
        }
        let outcome = durable.and_then(|()| {
            let ledger = self.ledger.borrow();
            // Answered and durable, so on the books: retention forgets only requests
            // accepted days ago. Should one be gone all the same, its callers hear so
            // rather than the shard stopping.
            let request = ledger.books().request(customer, request_no);
            match request.and_then(|r| r.answer.as_ref().map(|a| (r, a))) {
                Some((request, answer)) => Ok(Outcome::new(&request.accepted, answer)),
                None => Err(EngineError::from(Rejection::UnknownRequest(request_no))),
            }
        });
        for caller in callers {
            caller.send(outcome.clone());
        }
    }
}
