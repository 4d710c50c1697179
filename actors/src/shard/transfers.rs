//! Postings between shards: the protocol that moves money from an account of one shard
//! to an account of another, each side in its own log.
//!
//! 1. The source writes `TransferOut` (the debit, and the amount in transit).
//! 2. Once that is durable it delivers the transfer to the destination (`Deliver`).
//! 3. The destination writes `TransferIn` at most once per transfer id and, once that is
//!    durable, acknowledges (`Delivered(Ok)`); a credit it refuses for good (the account
//!    does not exist there) it acknowledges as refused.
//! 4. The source writes `TransferSettled`, or `TransferReturned` (the debit given back).
//!
//! Every step may be lost or refused for a passing reason (a full queue, a restart):
//! the source delivers every unsettled transfer again every `actors.transfer_retry_ms`
//! until it is acknowledged, and a delivery of a transfer already credited is simply
//! acknowledged again. The caller of a posting is answered as soon as the destination
//! has durably credited it (the money moved), whether or not the source could write its
//! settlement yet; a refusal is answered once the debit is durably given back.
//!
//! Each delivery carries the lowest sequence number the source still has outstanding
//! toward that destination, written with the credit, so that the destination forgets the
//! ids below it: its memory of credited ids stays as small as the transfers in flight.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::{Context, Handler, Message};
use omnibus_core::ledger::{transfer_source, Lsn, Outgoing};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::TransferId;

use super::protocol::Peers;
use super::ShardActor;
use crate::accounts::SendTransfer;
use crate::api::Receipt;
use crate::error::EngineError;
use crate::ledger::{Admission, Waiter};
use crate::reply::Reply;

/// The source's side: callers waiting for their transfers, and when each transfer was
/// last delivered.
#[derive(Default)]
pub struct Transfers {
    callers: HashMap<TransferId, (Reply<Receipt>, Lsn)>,
    delivered_at: HashMap<TransferId, Instant>,
}

impl ShardActor {
    /// Delivers a transfer this shard debited to its destination.
    fn deliver(&mut self, out: Outgoing) {
        let settled_below = {
            let ledger = self.ledger.borrow();
            ledger
                .books()
                .outgoing()
                .filter(|o| o.dest_shard == out.dest_shard)
                .map(|o| transfer_source(o.id).1)
                .min()
                .unwrap_or(0)
        };
        self.transfers.delivered_at.insert(out.id, Instant::now());
        self.peers[out.dest_shard as usize].do_send(Deliver { out, settled_below });
    }

    /// Delivers again every unsettled transfer last delivered `retry_ms` ago or more. A
    /// transfer never delivered is not this timer's: its debit may not be durable yet, and
    /// it is delivered first when it is (`SendTransfer`) or at a restart (`Redeliver`).
    pub(super) fn redeliver_overdue(&mut self, retry_ms: u64) {
        if self.peers.len() != self.shards as usize {
            return;
        }
        let now = Instant::now();
        let every = Duration::from_millis(retry_ms);
        let due: Vec<Outgoing> = {
            let ledger = self.ledger.borrow();
            ledger
                .books()
                .outgoing()
                .filter(|o| {
                    self.transfers
                        .delivered_at
                        .get(&o.id)
                        .is_some_and(|at| now.duration_since(*at) >= every)
                })
                .copied()
                .collect()
        };
        for out in due {
            self.deliver(out);
        }
    }
}

impl Handler<Peers> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Peers, _: &mut Context<Self>) {
        assert_eq!(msg.0.len(), self.shards as usize);
        self.peers = msg.0;
    }
}

/// Deliver every transfer debited before a restart and not yet settled; the destination
/// credits each id at most once. The engine sends this only after every shard was sent
/// its `Peers`, so no shard receives a delivery before it knows its peers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Redeliver;

impl Handler<Redeliver> for ShardActor {
    type Result = ();
    fn handle(&mut self, _: Redeliver, _: &mut Context<Self>) {
        assert_eq!(
            self.peers.len(),
            self.shards as usize,
            "peers are known before redelivery"
        );
        let outgoing: Vec<Outgoing> = self.ledger.borrow().books().outgoing().copied().collect();
        for out in outgoing {
            self.deliver(out);
        }
    }
}

impl Handler<SendTransfer> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SendTransfer, _: &mut Context<Self>) {
        if let Some(reply) = msg.reply {
            self.transfers.callers.insert(msg.out.id, (reply, msg.lsn));
        }
        self.deliver(msg.out);
    }
}

/// At the destination: credit a transfer (at most once per id) and acknowledge it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub out: Outgoing,
    /// The lowest sequence number the source still has outstanding toward this shard.
    pub settled_below: u64,
}

impl Handler<Deliver> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) {
        let out = msg.out;
        let (source, _) = transfer_source(out.id);
        let source_addr = self.peers[source as usize].clone();
        let ack = move |result: Result<(), EngineError>| {
            source_addr.do_send(Delivered { id: out.id, result });
        };
        let mut ledger = self.ledger.borrow_mut();
        if ledger.books().transfer_credited(out.id) {
            // Delivered again (a restart, a retry, a lost acknowledgement): acknowledge once
            // the credit is durable.
            ledger.after_durable(Box::new(ack));
            return;
        }
        let record = LedgerRecord::TransferIn {
            id: out.id,
            credit: out.credit,
            amount: out.amount,
            settled_below: msg.settled_below,
        };
        // Work already admitted at the source: it may use the whole queue.
        if let Err((e, _)) = ledger.execute(ActorId::Shard, &record, Box::new(ack.clone())) {
            drop(ledger);
            // A credit the books refuse goes back to the source, which returns the debit.
            // Anything else (a full queue, a failed log) is no answer about the transfer:
            // the source delivers it again.
            if matches!(e, EngineError::Refused(_)) {
                ack(Err(e));
            }
        }
    }
}

/// At the source: the destination credited the transfer (or refused it).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Delivered {
    pub id: TransferId,
    pub result: Result<(), EngineError>,
}

impl Handler<Delivered> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Delivered, _: &mut Context<Self>) {
        let shard = self.id;
        if !self.ledger.borrow().books().is_outgoing(msg.id) {
            // Already settled: a second acknowledgement of a transfer delivered twice.
            self.transfers.callers.remove(&msg.id);
            self.transfers.delivered_at.remove(&msg.id);
            return;
        }
        match msg.result {
            Ok(()) => {
                // The destination credited it durably: the money moved, and the caller is
                // told so now, whatever becomes of the settlement record below.
                if let Some((reply, lsn)) = self.transfers.callers.remove(&msg.id) {
                    reply.send(Ok(Receipt {
                        shard,
                        lsn,
                        transfer: Some(msg.id),
                    }));
                }
                let record = LedgerRecord::TransferSettled { id: msg.id };
                let settled =
                    self.ledger
                        .borrow_mut()
                        .execute(ActorId::Shard, &record, Box::new(|_| {}));
                match settled {
                    Ok(_) => {
                        self.transfers.delivered_at.remove(&msg.id);
                    }
                    Err((e, _)) => {
                        // Still outstanding: delivered again, acknowledged again, settled
                        // then.
                        tracing::debug!(shard, transfer = %msg.id, error = %e, "a credited transfer is settled later");
                    }
                }
            }
            Err(refusal) => {
                if let Err(e) = self.ledger.borrow().admit(1, Admission::Continuation) {
                    // No room to give the debit back now: the destination refuses the
                    // next delivery the same way, and the return is written then. The
                    // caller waits for it.
                    tracing::debug!(shard, transfer = %msg.id, error = %e, refusal = %refusal, "a refused transfer is returned later");
                    return;
                }
                let caller = self.transfers.callers.remove(&msg.id);
                let record = LedgerRecord::TransferReturned { id: msg.id };
                let waiter: Waiter = Box::new(move |durable| {
                    if let Some((reply, _)) = caller {
                        reply.send(durable.and(Err(refusal)));
                    }
                });
                let returned = self
                    .ledger
                    .borrow_mut()
                    .execute(ActorId::Shard, &record, waiter);
                match returned {
                    Ok(_) => {
                        self.transfers.delivered_at.remove(&msg.id);
                    }
                    Err((e, waiter)) => {
                        // Still outstanding and still timed: delivered again, refused
                        // again, returned then.
                        tracing::error!(shard, transfer = %msg.id, error = %e, "a refused transfer could not be returned");
                        waiter(Err(e));
                    }
                }
            }
        }
    }
}
