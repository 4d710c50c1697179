//! Work an account actor carries out against its shard's ledger.
//!
//! The actor that owns the debited account runs the job (a customer account actor, a
//! parent slice actor, or the shard itself for external accounts), so that every record
//! is written by, and tagged with, the actor whose account it debits.

use std::cell::RefCell;

use actix::{Message, Recipient};
use omnibus_core::ledger::{transfer_source, Lsn, Outgoing};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::{AccountId, Amount, TransferId};

use crate::api::Receipt;
use crate::error::EngineError;
use crate::ledger::{Admission, ShardLedger, Waiter};
use crate::reply::Reply;

/// The debit of a transfer is durable (at `lsn`): deliver it to its destination shard.
/// A job sends it to its shard, which runs the protocol between shards.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendTransfer {
    pub out: Outgoing,
    pub lsn: Lsn,
    pub reply: Option<Reply<Receipt>>,
}

/// Where a job sends a transfer whose debit is durable: the shard's address, seen only as
/// a taker of [`SendTransfer`], so that account actors never name the shard.
pub type Deliveries = Recipient<SendTransfer>;

#[derive(Message)]
#[rtype(result = "()")]
pub enum Job {
    /// A posting whose two legs are both in this shard.
    Post {
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        reply: Reply<Receipt>,
    },
    /// The debit leg of a posting whose credit lives in `dest_shard`.
    TransferOut {
        debit: AccountId,
        credit: AccountId,
        dest_shard: u16,
        amount: Amount,
        reply: Reply<Receipt>,
    },
    /// Any other record of the actor's own account (opening, status).
    Record {
        record: LedgerRecord,
        reply: Reply<Receipt>,
    },
}

impl Job {
    pub fn fail(self, error: EngineError) {
        let reply = match self {
            Job::Post { reply, .. }
            | Job::TransferOut { reply, .. }
            | Job::Record { reply, .. } => reply,
        };
        reply.send(Err(error));
    }
}

/// Runs `job` for `actor`: applies its record and answers the caller once it is durable.
pub fn run(ledger: &RefCell<ShardLedger>, actor: ActorId, job: Job, deliveries: &Deliveries) {
    let mut guard = ledger.borrow_mut();
    // A posting, an opening, a status change: new work, refused before anything changes
    // when the shard's queue is full.
    if let Err(error) = guard.admit(1, Admission::New) {
        drop(guard);
        job.fail(error);
        return;
    }
    let shard = guard.shard();
    let lsn = guard.last_applied_lsn() + 1;
    let (record, waiter): (LedgerRecord, Waiter) = match job {
        Job::Post {
            debit,
            credit,
            amount,
            reply,
        } => (
            LedgerRecord::Posted {
                debit,
                credit,
                amount,
            },
            receipt_waiter(reply, shard, lsn, None),
        ),
        Job::Record { record, reply } => (record, receipt_waiter(reply, shard, lsn, None)),
        Job::TransferOut {
            debit,
            credit,
            dest_shard,
            amount,
            reply,
        } => {
            let id = guard.books().next_transfer_id();
            debug_assert_eq!(transfer_source(id).0, shard);
            let out = Outgoing {
                id,
                debit,
                credit,
                dest_shard,
                amount,
            };
            let deliveries = deliveries.clone();
            // Only a durable debit may be delivered: otherwise a crash could lose the debit
            // after the destination credited it. The caller is answered when the
            // destination has credited the transfer, or refused it and the debit came back.
            let waiter: Waiter = Box::new(move |durable| match durable {
                Ok(()) => deliveries.do_send(SendTransfer {
                    out,
                    lsn,
                    reply: Some(reply),
                }),
                Err(e) => {
                    reply.send(Err(e));
                }
            });
            (
                LedgerRecord::TransferOut {
                    id,
                    debit,
                    credit,
                    dest_shard,
                    amount,
                },
                waiter,
            )
        }
    };
    if let Err((error, waiter)) = guard.execute(actor, &record, waiter) {
        drop(guard);
        waiter(Err(error));
    }
}

pub fn receipt_waiter(
    reply: Reply<Receipt>,
    shard: u16,
    lsn: Lsn,
    transfer: Option<TransferId>,
) -> Waiter {
    Box::new(move |durable| {
        reply.send(durable.map(|()| Receipt {
            shard,
            lsn,
            transfer,
        }));
    })
}
