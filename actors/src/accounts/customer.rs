//! The customer account actor.
//!
//! It is activated by its shard on first use and passivated after an idle period
//! (`actors.passivate_idle_ms`). The account's durable state (balance, holds, linked
//! account, validity, signature key) is its entry in the shard's books, changed only by
//! the records this actor applies in WAL order; what lives in the actor is what only a
//! live account needs: the work in progress for it. Passivation stops the actor and
//! leaves the compact entry behind; the next message for the customer starts a new one.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use actix::{Actor, ActorContext, Context, Handler, Message};
use omnibus_core::record::ActorId;
use omnibus_core::CustomerId;

use super::job::{self, Deliveries, Job};
use crate::api::{Outcome, SigningText, Submission};
use crate::instruments::{self, Instruments};
use crate::ledger::ShardLedger;
use crate::reply::Reply;

pub struct CustomerActor {
    id: CustomerId,
    ledger: Rc<RefCell<ShardLedger>>,
    instruments: Rc<Instruments>,
    /// Where a transfer's durable debit goes (the shard).
    deliveries: Deliveries,
    /// Meant to count work started and not yet answered, so that the shard passivates only
    /// idle actors. Nothing increments it yet: a saga runs on the shard's saga runtime,
    /// not in this actor, so passivating an actor never drops work. The platform issue
    /// (12) gives the actor its customer's requests, in order, and this count with them.
    in_flight: Rc<Cell<u32>>,
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
        }
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

/// A charge or remittance of this customer. Validation and acceptance happen here, in the
/// customer's own actor, so two requests of one customer are checked one after the other;
/// the flow then runs on the shard's thread until the customer is answered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Submit {
    pub submission: Submission,
    pub reply: Reply<Outcome>,
}

impl Handler<Submit> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: Submit, _: &mut Context<Self>) {
        debug_assert_eq!(msg.submission.customer(), self.id);
        instruments::submit(&self.instruments, msg.submission, msg.reply);
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

/// Sent by the shard when it passivates the actor. The shard sends it only when the
/// actor is idle and after removing it from its live table, so no work follows it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Passivate;

impl Handler<Passivate> for CustomerActor {
    type Result = ();

    fn handle(&mut self, _: Passivate, ctx: &mut Context<Self>) {
        debug_assert_eq!(
            self.in_flight.get(),
            0,
            "only idle customer actors are passivated"
        );
        ctx.stop();
    }
}
