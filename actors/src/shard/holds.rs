//! Two-phase holds in the shard: create, post and void as the books decide them
//! (`omnibus_core::ledger::holds`), each one record through the shard's ledger, answered
//! once durable; the holds queries; and the periodic expiry pass.
//!
//! The shard runs hold operations itself, on its thread, rather than through an account
//! actor: a hold's record is checked against the books when it is applied (the available
//! balance, which counts the saga's holds too), so it needs no serializing beyond the
//! shard's own. The expiry pass runs every `actors.hold_expiry_interval_ms` and once when
//! the shard starts (so a hold that fell due while the engine was down expires then),
//! writing at most `actors.hold_expiry_batch_max` `HoldExpired` records a pass; a pass
//! that reaches the bound sends itself the next one at once, behind whatever is already
//! in the mailbox.

use actix::{AsyncContext, Context, Handler};
use omnibus_core::ledger::{BooksError, ShardBooks};
use omnibus_core::ledger::{HoldAnswer, HoldDecision, HoldId};
use omnibus_core::record::{ActorId, LedgerRecord};

use super::protocol::{CreateHold, ExpireHolds, HoldsQuery, HoldsWanted, PostHold, VoidHold};
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;
use crate::reply::Reply;

impl ShardActor {
    /// Decides a hold operation on the books at the engine's time, writes its record if it
    /// has one, and answers once what the answer reflects is durable.
    fn hold_operation(
        &mut self,
        id: HoldId,
        reply: Reply<HoldAnswer>,
        decide: impl FnOnce(&ShardBooks, u64) -> Result<HoldDecision, BooksError>,
    ) {
        if self.stopping.is_some() {
            reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let now_ms = self.saga.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            drop(ledger);
            reply.send(Err(e));
            return;
        }
        let decision = match decide(ledger.books(), now_ms) {
            Ok(decision) => decision,
            Err(e) => {
                drop(ledger);
                reply.send(Err(e.into()));
                return;
            }
        };
        let (record, done) = match decision {
            HoldDecision::Answer(hold) => {
                // Nothing to write; the hold may still be waiting to become durable.
                ledger.after_durable(Box::new(move |durable| {
                    reply.send(durable.map(|()| HoldAnswer::Unchanged(hold)));
                }));
                return;
            }
            HoldDecision::Write(record) => (record, true),
            HoldDecision::Expire(record) => (record, false),
        };
        let written = ledger
            .admit(1, Admission::New)
            .and_then(|()| ledger.execute_unwaited(record.actor(), &record));
        if let Err(e) = written {
            drop(ledger);
            reply.send(Err(e));
            return;
        }
        let hold = *ledger
            .books()
            .hold(id)
            .expect("a hold record applied names a hold on the books");
        let answer = if done {
            HoldAnswer::Done(hold)
        } else {
            HoldAnswer::Unchanged(hold)
        };
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| answer));
        }));
    }

    /// One expiry pass: `HoldExpired` for the holds due now, soonest first, at most
    /// `actors.hold_expiry_batch_max` of them. Answers whether it stopped at the bound
    /// with more perhaps due.
    fn expire_due_holds(&mut self) -> bool {
        if self.stopping.is_some() {
            return false;
        }
        let now_ms = self.saga.now_ms();
        let max = self.config.actors.hold_expiry_batch_max as usize;
        let mut ledger = self.ledger.borrow_mut();
        if ledger.check_usable().is_err() {
            return false;
        }
        let due = ledger.books().holds_due(now_ms, max);
        for id in &due {
            let record = LedgerRecord::HoldExpired {
                id: *id,
                at_ms: now_ms,
            };
            // Expiry finishes what was started: it may use the queue's reserve. When even
            // that is full the rest waits for the next pass.
            let written = ledger
                .admit(1, Admission::Continuation)
                .and_then(|()| ledger.execute_unwaited(ActorId::Shard, &record));
            if let Err(e) = written {
                tracing::debug!(shard = self.id, hold = %id, error = %e, "hold expiry deferred to the next pass");
                return false;
            }
        }
        if !due.is_empty() {
            tracing::debug!(shard = self.id, expired = due.len(), "holds expired");
        }
        due.len() == max
    }

    /// Starts the expiry passes: one now (holds that fell due while the engine was down),
    /// then one every `actors.hold_expiry_interval_ms`.
    pub(super) fn start_hold_expiry(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(ExpireHolds);
        let interval = std::time::Duration::from_millis(self.config.actors.hold_expiry_interval_ms);
        ctx.run_interval(interval, |shard, ctx| {
            if shard.expire_due_holds() {
                ctx.notify(ExpireHolds);
            }
        });
    }
}

impl Handler<ExpireHolds> for ShardActor {
    type Result = ();
    fn handle(&mut self, _: ExpireHolds, ctx: &mut Context<Self>) {
        if self.expire_due_holds() {
            ctx.notify(ExpireHolds);
        }
    }
}

impl Handler<CreateHold> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: CreateHold, _: &mut Context<Self>) {
        let hold = msg.hold;
        self.hold_operation(hold.id, msg.reply, |books, now_ms| {
            books.decide_hold_create(&hold, now_ms)
        });
    }
}

impl Handler<PostHold> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: PostHold, _: &mut Context<Self>) {
        let (id, amount) = (msg.id, msg.amount);
        self.hold_operation(id, msg.reply, |books, now_ms| {
            books.decide_hold_post(id, amount, now_ms)
        });
    }
}

impl Handler<VoidHold> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: VoidHold, _: &mut Context<Self>) {
        let id = msg.id;
        self.hold_operation(id, msg.reply, |books, now_ms| {
            books.decide_hold_void(id, now_ms)
        });
    }
}

impl Handler<HoldsQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: HoldsQuery, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            drop(ledger);
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        let holds = match msg.wanted {
            HoldsWanted::One(id) => books.hold(id).copied().into_iter().collect(),
            HoldsWanted::Of(account) => books.holds_of(account).copied().collect(),
        };
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| holds));
        }));
    }
}
