//! The parent slice actor: this shard's slice of one parent (omnibus) account.
//!
//! Every shard has a slice of every parent account, so the real-time postings of the
//! shard's customers against `fin_parent` and the other parents stay inside the shard's
//! thread. The parent's balance is the sum of its slices. The slice's state is its entry
//! in the shard's books; the actor carries out the postings that debit the slice.

use std::cell::RefCell;
use std::rc::Rc;

use actix::{Actor, Context, Handler};
use omnibus_core::record::ActorId;
use omnibus_core::ParentAccount;

use super::job::{self, Deliveries, Job};
use crate::ledger::ShardLedger;

pub struct ParentSliceActor {
    parent: ParentAccount,
    ledger: Rc<RefCell<ShardLedger>>,
    /// Where a transfer's durable debit goes (the shard).
    deliveries: Deliveries,
}

impl ParentSliceActor {
    pub fn new(
        parent: ParentAccount,
        ledger: Rc<RefCell<ShardLedger>>,
        deliveries: Deliveries,
    ) -> Self {
        Self {
            parent,
            ledger,
            deliveries,
        }
    }
}

impl Actor for ParentSliceActor {
    type Context = Context<Self>;
}

impl Handler<Job> for ParentSliceActor {
    type Result = ();

    fn handle(&mut self, job: Job, _: &mut Context<Self>) {
        job::run(
            &self.ledger,
            ActorId::Parent(self.parent),
            job,
            &self.deliveries,
        );
    }
}
