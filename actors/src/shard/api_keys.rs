//! API keys on shard 0 (docs/auth.md): each change one `api_key_set` record, answered once
//! durable. What may change is the engine's to decide (`engine/api_keys.rs`).

use actix::{Context, Handler};
use omnibus_core::record::{ActorId, LedgerRecord};

use super::protocol::SetApiKey;
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;

impl Handler<SetApiKey> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SetApiKey, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.admit(1, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let record = LedgerRecord::ApiKeySet { key: msg.key };
        if let Err(e) = ledger.execute_unwaited(ActorId::Shard, &record) {
            msg.reply.send(Err(e));
            return;
        }
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| reply.send(durable)));
    }
}
