//! Members on their customer's shard (INSTRUMENTS.md §5.7): written at a version, read
//! by ID. The password's hash is made and checked by the engine, off this thread.

use actix::{Context, Handler};
use omnibus_core::payments::RefusalCode;
use omnibus_core::record::{ActorId, LedgerRecord};

use super::protocol::{MemberQuery, SetMember};
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;

impl Handler<SetMember> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SetMember, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.admit(1, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let held = ledger.books().member(msg.member.id).map(|(v, _)| *v);
        if held != msg.over {
            let why = match held {
                Some(_) if msg.over.is_none() => format!("member {} exists", msg.member.id),
                _ => format!("member {} changed meanwhile; try again", msg.member.id),
            };
            msg.reply
                .send(Err(EngineError::refusal(RefusalCode::InvalidState, why)));
            return;
        }
        let version = held.unwrap_or(0) + 1;
        let record = LedgerRecord::MemberSet {
            version,
            member: msg.member,
        };
        if let Err(e) = ledger.execute_unwaited(ActorId::Shard, &record) {
            msg.reply.send(Err(e));
            return;
        }
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| version))
        }));
    }
}

impl Handler<MemberQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: MemberQuery, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let member = ledger.books().member(msg.id).cloned();
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| member))
        }));
    }
}
