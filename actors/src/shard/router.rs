//! The shard as a router: every request for the shard's customers arrives here. A raw
//! posting goes to the actor owning the debited account (the shard itself for external
//! accounts); a charge, a remittance or a signing text goes to the customer's account
//! actor; a supervise request to the shard's supervisors.

use actix::{Context, Handler};
use omnibus_core::ledger::{shard_of, BooksError};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::{AccountId, Amount};

use super::protocol::{
    IssueTextRequest, MoveSlice, Open, Post, PostBatch, SetStatus, SubmitBatch, SubmitRequest,
    Supervise,
};
use super::ShardActor;
use crate::accounts::{self, IssueText, Job};
use crate::api::Receipt;
use crate::error::EngineError;
use crate::reply::Reply;
use crate::supervisors::SuperviseNow;

impl ShardActor {
    /// Sends `job` to the actor owning `owner`, or runs it here for external accounts.
    fn dispatch(&mut self, owner: AccountId, job: Job) {
        match ActorId::owner_of(owner) {
            Some(ActorId::Customer(c)) => match self.customer_actor(c) {
                Ok(addr) => addr.do_send(job),
                Err(e) => job.fail(e),
            },
            Some(ActorId::Parent(p)) => match self.parents.get(&p) {
                Some(addr) => addr.do_send(job),
                None => job.fail(BooksError::UnknownParent(p).into()),
            },
            Some(ActorId::Shard) | None => {
                accounts::run(&self.ledger, ActorId::Shard, job, self.deliveries())
            }
        }
    }

    fn home(&self, account: AccountId) -> Option<u16> {
        match account {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                Some(shard_of(customer, self.shards))
            }
            _ => None,
        }
    }
}

impl Handler<Open> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Open, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let record = LedgerRecord::CustomerOpened(msg.opened);
        accounts::run(
            &self.ledger,
            ActorId::Customer(msg.opened.customer),
            Job::Record {
                record,
                reply: msg.reply,
            },
            self.deliveries(),
        );
    }
}

impl Handler<SetStatus> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SetStatus, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let record = LedgerRecord::CustomerStatus {
            customer: msg.customer,
            tradable: msg.tradable,
            subscription_valid: msg.subscription_valid,
        };
        self.dispatch(
            AccountId::customer(msg.customer),
            Job::Record {
                record,
                reply: msg.reply,
            },
        );
    }
}

impl Handler<Post> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Post, _: &mut Context<Self>) {
        self.post(msg.debit, msg.credit, msg.amount, msg.reply);
    }
}

impl Handler<PostBatch> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: PostBatch, _: &mut Context<Self>) {
        for (index, debit, credit, amount) in msg.items {
            self.post(
                debit,
                credit,
                amount,
                Reply::Slot(msg.collector.clone(), index),
            );
        }
    }
}

impl ShardActor {
    fn post(&mut self, debit: AccountId, credit: AccountId, amount: Amount, reply: Reply<Receipt>) {
        if self.stopping.is_some() {
            reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        if debit == credit {
            reply.send(Err(BooksError::SameAccount(debit).into()));
            return;
        }
        if let Some(home) = self.home(debit).filter(|h| *h != self.id) {
            let customer = match debit {
                AccountId::Customer { customer } | AccountId::Linked { customer } => customer,
                _ => unreachable!("only customer accounts have a home shard"),
            };
            reply.send(Err(BooksError::WrongShard {
                customer,
                home,
                here: self.id,
            }
            .into()));
            return;
        }
        let job = match self.home(credit) {
            Some(dest) if dest != self.id => Job::TransferOut {
                debit,
                credit,
                dest_shard: dest,
                amount,
                reply,
            },
            _ => Job::Post {
                debit,
                credit,
                amount,
                reply,
            },
        };
        // A posting from an external account into a customer is the customer's record.
        let owner = if ActorId::owner_of(debit).is_some() {
            debit
        } else {
            credit
        };
        self.dispatch(owner, job);
    }
}

impl Handler<SubmitRequest> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SubmitRequest, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        self.submit_to_customer(msg.submission, msg.reply);
    }
}

impl Handler<SubmitBatch> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SubmitBatch, _: &mut Context<Self>) {
        for (index, submission) in msg.items {
            let reply = Reply::Slot(msg.collector.clone(), index);
            if self.stopping.is_some() {
                reply.send(Err(EngineError::ShuttingDown));
                continue;
            }
            self.submit_to_customer(submission, reply);
        }
    }
}

impl Handler<IssueTextRequest> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: IssueTextRequest, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        match self.customer_actor(msg.request.header.customer) {
            Ok(addr) => addr.do_send(IssueText {
                request: msg.request,
                reply: msg.reply,
            }),
            Err(e) => msg.reply.send(Err(e)),
        }
    }
}

impl Handler<Supervise> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Supervise, _: &mut Context<Self>) {
        if let Some(supervisor) = &self.supervisor {
            supervisor.do_send(SuperviseNow { reply: msg.reply });
        }
    }
}

impl Handler<MoveSlice> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: MoveSlice, _: &mut Context<Self>) {
        let account = msg.account;
        let sliced = matches!(
            account,
            AccountId::Parent { .. } | AccountId::Merchant { .. }
        );
        if !sliced || msg.dest_shard == self.id || msg.dest_shard >= self.shards {
            msg.reply
                .send(Err(BooksError::NotTransferable(account).into()));
            return;
        }
        let job = Job::TransferOut {
            debit: account,
            credit: account,
            dest_shard: msg.dest_shard,
            amount: msg.amount,
            reply: msg.reply,
        };
        self.dispatch(account, job);
    }
}
