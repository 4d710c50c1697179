//! Settled requests leave the shard's memory for its archive (`ledger/archive.rs`):
//! every `archive.interval_ms`, the oldest settled requests above `archive.recent_max`
//! (at most `archive.batch_max`, and only those settled by durable records) go to the
//! archive's writer thread, one batch at a time; once their run is durable they are
//! evicted from the books, and customers' numbers from the engine-wide registry, and the
//! next batch goes at once if more are due (so the archive keeps up with any rate its
//! thread can write, not one batch per tick).

use std::time::Duration;

use actix::{AsyncContext, Context, Handler, Message};
use omnibus_core::instruments;
use omnibus_core::ledger::archived::{archive_key_of, encode_settled};
use omnibus_core::ledger::{RequestKey, DAY_MS};

use super::ShardActor;
use crate::ledger::archive::{ArchiveRecord, ArchiveWriter};

/// The shard's side of its archive: the writer thread, and whether a batch is out.
#[derive(Default)]
pub struct Archiving {
    writer: Option<ArchiveWriter>,
    in_flight: bool,
    /// The first day still in the retention window when days were last dropped.
    kept_from_day: u32,
    /// Requests moved to the archive since the shard started.
    pub archived: u64,
}

/// A batch the writer thread made durable (or failed to).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Archived {
    /// Each with whether it is the house's own (its number is not in the registry).
    keys: Vec<(RequestKey, bool)>,
    result: Result<(), String>,
}

impl ShardActor {
    /// Starts the archive's writer thread and its timer (from `started`).
    pub(super) fn start_archiving(&mut self, ctx: &mut Context<Self>) {
        let writer = match self.ledger.borrow().archive() {
            Some(archive) => archive.writer(self.id, self.config.archive.run_records_max as usize),
            None => return,
        };
        self.archiving.writer = Some(writer);
        let every = Duration::from_millis(self.config.archive.interval_ms);
        ctx.run_interval(every, |shard, ctx| shard.archive_settled(ctx));
    }

    /// Hands the next batch of settled requests to the writer thread, if one is due; and
    /// once a day, the days that left the retention window
    /// (`actors.idempotency_retention_days`) to delete.
    fn archive_settled(&mut self, ctx: &mut Context<Self>) {
        if self.archiving.in_flight || self.stopping.is_some() {
            return;
        }
        let Some(writer) = &self.archiving.writer else {
            return;
        };
        let retention_ms = u64::from(self.config.actors.idempotency_retention_days) * DAY_MS;
        let first_kept = (self.instruments.now_ms().saturating_sub(retention_ms) / DAY_MS) as u32;
        if first_kept > self.archiving.kept_from_day && writer.drop_days_before(first_kept) {
            self.archiving.kept_from_day = first_kept;
            return;
        }
        let recent_max = self.config.archive.recent_max as usize;
        let ledger = self.ledger.borrow();
        let books = ledger.books();
        let excess = books.settled_in_memory().saturating_sub(recent_max);
        if excess == 0 {
            return;
        }
        let batch = excess.min(self.config.archive.batch_max as usize);
        let mut keys = Vec::with_capacity(batch);
        let mut records = Vec::with_capacity(batch);
        for (request, entries) in books.oldest_settled(batch, ledger.durable_lsn()) {
            let accepted = &request.accepted;
            let house = instruments::of(accepted.kind).is_house();
            keys.push(((accepted.customer, accepted.request_no), house));
            records.push(ArchiveRecord {
                day: (accepted.at_ms / DAY_MS) as u32,
                key: archive_key_of(request),
                value: encode_settled(request, entries),
            });
        }
        drop(ledger);
        if records.is_empty() {
            return;
        }
        let addr = ctx.address();
        let done_keys = keys.clone();
        let sent = writer.write(
            records,
            Box::new(move |result| {
                addr.do_send(Archived {
                    keys: done_keys,
                    result,
                })
            }),
        );
        self.archiving.in_flight = sent;
    }
}

impl Handler<Archived> for ShardActor {
    type Result = ();

    fn handle(&mut self, msg: Archived, ctx: &mut Context<Self>) {
        self.archiving.in_flight = false;
        if let Err(e) = msg.result {
            // Nothing evicted: the requests stay in memory and go again at the next tick.
            tracing::error!(shard = self.id, error = %e, requests = msg.keys.len(), "settled requests could not be archived");
            return;
        }
        for ((customer, request_no), house) in &msg.keys {
            if !house {
                self.registry
                    .remove_if(request_no, |_, owner| owner == customer);
            }
        }
        let keys: Vec<RequestKey> = msg.keys.iter().map(|(key, _)| *key).collect();
        self.ledger.borrow_mut().evict(&keys);
        self.archiving.archived += msg.keys.len() as u64;
        // More due already (settling faster than one batch a tick): the next batch now.
        self.archive_settled(ctx);
    }
}
