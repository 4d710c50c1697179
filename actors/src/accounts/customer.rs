//! The customer account actor.
//!
//! It is activated by its shard on first use and passivated after an idle period
//! (`actors.passivate_idle_ms`). The account's durable state (balance, holds, linked
//! account, validity, signature key) is its entry in the shard's books, changed only by
//! the records this actor applies in WAL order; what lives in the actor is what only a
//! live account needs: the work in progress for it.
//!
//! # One request at a time, in order
//!
//! The actor carries out its customer's charges and remittances one at a time, in the
//! order they reached it, so that each request's balance and deficit checks see the
//! outcome of the one before. (Before, two remittances of one customer submitted at once
//! both routed against the same balance and charged the same deficit; the second then
//! found the balance taken by the first one's deduction and was told `failed`.)
//!
//! - **Its turn.** A new request starts at once if none is in progress, and otherwise
//!   waits in the actor's FIFO queue, at most `actors.customer_queue_max` of them; one
//!   more is answered `Overloaded(Bound::CustomerQueue)` with nothing changed.
//! - **When the next one starts: once the one in progress is answered.** Chosen over
//!   "once its flow has passed the point where its balance and deficit were decided and
//!   its hold taken" because it is one signal that every path gives (an answer from a
//!   step, the answer deadline, a refusal before any call, an error, a shutdown), it
//!   needs nothing from the saga runtime or the instruments (the actor gives the request
//!   its own reply and waits on it), and it holds for every product alike, a deficit
//!   top-up included: by the time a remittance is answered its deduction has taken the
//!   money (or failed, or is UNKNOWN and keeps its hold), and a charge's credit is
//!   booked (or left to reprocessing, which the next request then does not count on: it
//!   charges a larger deficit, never a failure). The cost is that one customer's requests
//!   do not overlap at all, a few group commits each; customers are many, so the
//!   engine's throughput does not depend on it. The answer counted is the durable one,
//!   the moment the caller hears it.
//! - **An answer given early.** A request answered at the earliest durable point that
//!   fixes its answer (a charge is told `succeeded` once its credit A2 is on record, before
//!   A2's result: `omnibus_core::saga::fixed_answer`) keeps its turn until that result is
//!   applied, when its answer used to come: the callers hear the answer at once, and the
//!   next request still sees the credit (`saga/turns.rs`). The held turn counts in
//!   `in_flight`, so the actor is not passivated meanwhile, and lasts at most the answer
//!   deadline.
//! - **Resubmissions.** One of a request number already waiting or in progress joins it
//!   (same fields; other fields are refused as a reused number), bounded by
//!   `actors.callers_per_request_max` callers; it is never queued twice. One already on
//!   record (answered, or still open after a restart) goes the existing idempotency path
//!   at once, without waiting for a turn: requests a crash left open are driven by the
//!   supervisors and the answer deadline, not by this queue.
//! - **The answer deadline.** A request's time is when this actor received it (it is the
//!   `at_ms` it is accepted with), so `actors.answer_deadline_ms` counts from there
//!   whether it waited or not. One still waiting at its deadline is answered then with
//!   what a request that did not start is told (the deadline's answer for a request with
//!   no entry: failed, decided by its first step, `not_carried_out`), put on record so
//!   (`saga::not_carried_out`), and dropped from the queue: it never starts, and a
//!   resubmission gets that answer. One that starts after waiting keeps its deadline,
//!   which the saga runtime enforces as for any request.
//! - **Residency.** `in_flight` counts the submissions the shard has handed this actor
//!   (counted by the shard as it sends them, so one still in the mailbox counts) that it
//!   has not answered or handed on. The shard passivates only actors whose count is zero.
//!   When the shard stops it passivates every actor: the requests still waiting are
//!   answered "shutting down" (nothing of theirs is on record) and the one in progress
//!   is finished first.
//!
//! Raw postings (`Job`) and signing texts are not requests of the customer's: they are
//! carried out as they arrive.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, SpawnHandle,
    WrapFuture,
};
use omnibus_core::record::ActorId;
use omnibus_core::CustomerId;
use tokio::sync::oneshot;

use super::job::{self, Deliveries, Job};
use crate::api::{Outcome, SigningText, Submission};
use crate::error::{Bound, EngineError, Rejection};
use crate::instruments::{self, same_submission, Instruments};
use crate::ledger::ShardLedger;
use crate::reply::Reply;

pub struct CustomerActor {
    id: CustomerId,
    ledger: Rc<RefCell<ShardLedger>>,
    instruments: Rc<Instruments>,
    /// Where a transfer's durable debit goes (the shard).
    deliveries: Deliveries,
    /// Submissions handed to this actor by the shard and not yet answered or handed on
    /// (see the module doc); the shard passivates the actor only when it is zero.
    in_flight: Rc<Cell<u32>>,
    /// The request in progress: started, not yet answered.
    running: Option<Turn>,
    /// Requests waiting their turn, oldest first (`actors.customer_queue_max`).
    queue: VecDeque<Turn>,
    /// The next look at the waiting requests' deadlines, while any waits.
    deadline_check: Option<SpawnHandle>,
    /// The request answered last still holds the turn (answered early, its fixing step's
    /// result not in yet): the next one waits.
    turn_held: bool,
    /// Passivated while busy (its shard stopping): stop once the one in progress is done.
    stopping: bool,
}

/// One request of the customer and everyone waiting for its answer: its first caller and
/// the resubmissions that joined it.
struct Turn {
    submission: Submission,
    /// When this actor received it, on the engine's clock.
    received_ms: u64,
    callers: Vec<Reply<Outcome>>,
}

impl CustomerActor {
    pub fn new(
        id: CustomerId,
        instruments: Rc<Instruments>,
        ledger: Rc<RefCell<ShardLedger>>,
        deliveries: Deliveries,
        in_flight: Rc<Cell<u32>>,
    ) -> Self {
        Self {
            id,
            ledger,
            instruments,
            deliveries,
            in_flight,
            running: None,
            queue: VecDeque::new(),
            deadline_check: None,
            turn_held: false,
            stopping: false,
        }
    }

    fn deadline_ms(&self) -> u64 {
        self.instruments.config().actors.answer_deadline_ms
    }

    /// The turn of a request number waiting or in progress.
    fn turn_of(&mut self, request_no: omnibus_core::RequestNo) -> Option<&mut Turn> {
        self.running
            .iter_mut()
            .chain(self.queue.iter_mut())
            .find(|t| t.submission.request_no() == request_no)
    }

    /// Starts a request: it goes to the instruments with a reply of the actor's own, and
    /// the next starts once that is answered.
    fn start(&mut self, turn: Turn, ctx: &mut Context<Self>) {
        let (tx, rx) = oneshot::channel();
        instruments::submit(
            &self.instruments,
            turn.submission.clone(),
            turn.received_ms,
            Reply::One(tx),
        );
        self.running = Some(turn);
        ctx.spawn(
            async move { rx.await.unwrap_or(Err(EngineError::ShuttingDown)) }
                .into_actor(self)
                .map(|result, actor, ctx| actor.finished(result, ctx)),
        );
    }

    /// The request in progress is answered: so are all who wait on it, and the next
    /// waiting one starts.
    fn finished(&mut self, result: Result<Outcome, EngineError>, ctx: &mut Context<Self>) {
        let Some(turn) = self.running.take() else {
            return self.next(ctx);
        };
        let request_no = turn.submission.request_no();
        answer_all(&self.in_flight, turn.callers, &result);
        if self.stopping {
            ctx.stop();
            return;
        }
        let held = match &result {
            Ok(_) => self.instruments.turn_over(self.id, request_no),
            Err(_) => None,
        };
        let Some(turn_over) = held else {
            return self.next(ctx);
        };
        // Answered early: the turn lasts until the fixing step's result (or the deadline,
        // or the runtime stopping), counted in flight so the actor stays live.
        self.turn_held = true;
        self.in_flight.set(self.in_flight.get() + 1);
        let deadline = Duration::from_millis(self.deadline_ms());
        ctx.spawn(
            async move {
                let _ = tokio::time::timeout(deadline, turn_over).await;
            }
            .into_actor(self)
            .map(|(), actor, ctx| {
                actor.turn_held = false;
                actor.in_flight.set(actor.in_flight.get().saturating_sub(1));
                if actor.stopping {
                    ctx.stop();
                } else {
                    actor.next(ctx);
                }
            }),
        );
    }

    /// The turn is free: the next waiting request starts (those past their deadline are
    /// given up).
    fn next(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            ctx.stop();
            return;
        }
        let now = self.instruments.now_ms();
        let deadline = self.deadline_ms();
        while let Some(turn) = self.queue.pop_front() {
            if turn.received_ms.saturating_add(deadline) <= now {
                self.give_up(turn);
            } else {
                self.start(turn, ctx);
                break;
            }
        }
    }

    /// A waiting request reached its deadline: it is put on record as not carried out,
    /// and its callers are answered once that is durable. It never starts.
    fn give_up(&self, turn: Turn) {
        let (tx, rx) = oneshot::channel();
        instruments::not_carried_out(
            &self.instruments,
            turn.submission,
            turn.received_ms,
            Reply::One(tx),
        );
        let in_flight = self.in_flight.clone();
        let callers = turn.callers;
        // Not tied to the actor: its callers are answered even if it stops meanwhile.
        actix::spawn(async move {
            let result = rx.await.unwrap_or(Err(EngineError::ShuttingDown));
            answer_all(&in_flight, callers, &result);
        });
    }

    /// Looks at the waiting requests' deadlines every tenth of the deadline (at most a
    /// second, as the shard does for requests on record), while any waits.
    fn watch_deadlines(&mut self, ctx: &mut Context<Self>) {
        if self.deadline_check.is_some() || self.queue.is_empty() {
            return;
        }
        let tick = Duration::from_millis((self.deadline_ms() / 10).clamp(1, 1_000));
        self.deadline_check = Some(ctx.run_later(tick, |actor, ctx| {
            actor.deadline_check = None;
            actor.expire_waiting();
            actor.watch_deadlines(ctx);
        }));
    }

    fn expire_waiting(&mut self) {
        let now = self.instruments.now_ms();
        let deadline = self.deadline_ms();
        let (due, waiting): (VecDeque<Turn>, VecDeque<Turn>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|t| t.received_ms.saturating_add(deadline) <= now);
        self.queue = waiting;
        for turn in due {
            self.give_up(turn);
        }
    }

    /// Answers one caller the actor holds (and counts it out of `in_flight`).
    fn answer(&self, caller: Reply<Outcome>, result: Result<Outcome, EngineError>) {
        answer_all(&self.in_flight, vec![caller], &result);
    }
}

/// Answers callers an actor held, each counted in its `in_flight` until now.
fn answer_all(
    in_flight: &Cell<u32>,
    callers: Vec<Reply<Outcome>>,
    result: &Result<Outcome, EngineError>,
) {
    for caller in callers {
        caller.send(result.clone());
        debug_assert!(
            in_flight.get() > 0,
            "every caller held is counted in flight"
        );
        in_flight.set(in_flight.get().saturating_sub(1));
    }
}

impl Actor for CustomerActor {
    type Context = Context<Self>;
}

impl Handler<Job> for CustomerActor {
    type Result = ();

    fn handle(&mut self, job: Job, _: &mut Context<Self>) {
        job::run(
            &self.ledger,
            ActorId::Customer(self.id),
            job,
            &self.deliveries,
        );
    }
}

/// A charge or remittance of this customer, counted in the actor's `in_flight` by the
/// shard that sends it. Carried out in its turn (see the module doc): validation,
/// acceptance and the first step happen when it starts, so each sees the outcome of the
/// one before; the flow then runs on the shard's saga runtime until it is answered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Submit {
    pub submission: Submission,
    pub reply: Reply<Outcome>,
}

impl Handler<Submit> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: Submit, ctx: &mut Context<Self>) {
        debug_assert_eq!(msg.submission.customer(), self.id);
        let Submit { submission, reply } = msg;
        if self.stopping {
            // Not sent by the shard once it passivated the actor; should it come, nothing
            // of it is on record.
            return self.answer(reply, Err(EngineError::ShuttingDown));
        }
        let request_no = submission.request_no();
        let callers_max = self.instruments.config().actors.callers_per_request_max as usize;
        if let Some(turn) = self.turn_of(request_no) {
            let refused = if !same_submission(&turn.submission, &submission) {
                Some(Rejection::RequestNoReused { request_no }.into())
            } else if turn.callers.len() >= callers_max {
                Some(EngineError::Overloaded(Bound::Callers))
            } else {
                turn.callers.push(reply);
                return;
            };
            if let Some(error) = refused {
                self.answer(reply, Err(error));
            }
            return;
        }
        let now = self.instruments.now_ms();
        if self.instruments.on_record(self.id, request_no) {
            // Answered already, or open since before a restart: the existing idempotency
            // path answers it now, or adds it to the request's callers. No turn needed.
            self.in_flight.set(self.in_flight.get().saturating_sub(1));
            return instruments::submit(&self.instruments, submission, now, reply);
        }
        let turn = Turn {
            submission,
            received_ms: now,
            callers: vec![reply],
        };
        if self.running.is_none() && !self.turn_held {
            self.start(turn, ctx);
        } else if self.queue.len() >= self.instruments.config().actors.customer_queue_max as usize {
            answer_all(
                &self.in_flight,
                turn.callers,
                &Err(EngineError::Overloaded(Bound::CustomerQueue)),
            );
        } else {
            self.queue.push_back(turn);
            self.watch_deadlines(ctx);
        }
    }
}

/// Issue the transaction original text of an over-limit remittance (S2, S3).
#[derive(Message)]
#[rtype(result = "()")]
pub struct IssueText {
    pub request: omnibus_core::RemitRequest,
    pub reply: Reply<SigningText>,
}

impl Handler<IssueText> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: IssueText, _: &mut Context<Self>) {
        msg.reply.send(self.instruments.issue_text(msg.request));
    }
}

/// Sent by the shard when it passivates the actor, after removing it from its live
/// table, so no work follows it. The shard passivates an idle actor (`in_flight` zero),
/// or every actor when it stops: the requests still waiting are then answered "shutting
/// down" (nothing of theirs is on record), and the actor stops once the one in progress
/// is answered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Passivate;

impl Handler<Passivate> for CustomerActor {
    type Result = ();

    fn handle(&mut self, _: Passivate, ctx: &mut Context<Self>) {
        for turn in std::mem::take(&mut self.queue) {
            answer_all(
                &self.in_flight,
                turn.callers,
                &Err(EngineError::ShuttingDown),
            );
        }
        if self.running.is_some() || self.turn_held {
            self.stopping = true;
        } else {
            ctx.stop();
        }
    }
}
