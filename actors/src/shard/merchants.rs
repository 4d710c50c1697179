//! The merchants every shard holds (docs/payments.md): the engine writes each merchant, at
//! each version, to every shard's log, and reads them back at start to repair a shard a
//! crash left behind.

use actix::{Context, Handler};
use omnibus_core::record::{ActorId, LedgerRecord};

use super::protocol::{MerchantsQuery, SetMerchant};
use super::ShardActor;
use crate::accounts::{self, Job};
use crate::error::EngineError;

impl Handler<SetMerchant> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SetMerchant, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let record = LedgerRecord::MerchantSet {
            no: msg.entry.no,
            version: msg.entry.version,
            merchant: msg.entry.merchant,
        };
        accounts::run(
            &self.ledger,
            ActorId::Shard,
            Job::Record {
                record,
                reply: msg.reply,
            },
            self.deliveries(),
        );
    }
}

impl Handler<MerchantsQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: MerchantsQuery, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let merchants = ledger.books().merchants().cloned().collect::<Vec<_>>();
        let reply = msg.reply;
        // Answered once what it reflects is durable, like every read (`queries.rs`).
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| merchants))
        }));
    }
}
