//! The shard actor: one per shard, on the shard's own arbiter thread.
//!
//! It is the shard's router (every request for the shard's customers arrives here: raw
//! postings go to the actor owning the debited account, charges and remittances to the
//! customer's account actor), the owner of the shard's ledger (it
//! hands batches to the WAL writer and answers callers when the writer reports them
//! durable), the activator and passivator of customer account actors, the end point of
//! transfers between shards, and the taker of snapshots.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message};
use omnibus_core::books::{shard_of, BooksError, Lsn};
use omnibus_core::record::{ActorId, CustomerOpened, LedgerRecord};
use omnibus_core::{
    AccountId, Amount, Config, CustomerId, Money, ParentAccount, RemitRequest, RequestNo,
};
use tokio::sync::broadcast;

use crate::accounts::{
    self, CustomerActor, Deliveries, IssueText, Job, ParentSliceActor, Passivate, Submit,
};
use crate::api::Receipt;
use crate::api::{
    CustomerBalance, EngineEvent, Outcome, RequestView, ShardTotals, SigningText, Submission,
};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::flow::{self, FlowContext};
use crate::gate::Ticket;
use crate::ledger::codec;
use crate::ledger::{ShardLedger, Waiter};
use crate::rails::Rails;
use crate::reply::{Collector, Reply};
use crate::supervisor::{SuperviseNow, SupervisionReport, SupervisorActor};
use crate::transfers::Transfers;

/// A live customer account actor and what the shard knows about its use.
struct Live {
    addr: Addr<CustomerActor>,
    last_used_tick: u64,
    in_flight: Rc<Cell<u32>>,
}

pub struct ShardActor {
    pub(crate) id: u16,
    pub(crate) shards: u16,
    config: Arc<Config>,
    pub(crate) ledger: Rc<RefCell<ShardLedger>>,
    flow: Rc<FlowContext>,
    supervisor: Option<Addr<SupervisorActor>>,
    live: HashMap<CustomerId, Live>,
    parents: HashMap<ParentAccount, Addr<ParentSliceActor>>,
    pub(crate) peers: Vec<Addr<ShardActor>>,
    /// This shard's address as its account actors see it: where their jobs send a
    /// transfer's durable debit. Set when the shard starts.
    deliveries: Option<Deliveries>,
    /// Transfers to other shards on their way, and their callers.
    pub(crate) transfers: Transfers,
    /// A coarse clock for passivation, advanced by the passivation timer.
    tick: u64,
    snapshot_running: bool,
    stopping: Option<std::sync::mpsc::Sender<Result<(), String>>>,
    stats: ShardStats,
}

/// Counters a shard keeps for metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub activations: u64,
    pub passivations: u64,
    pub snapshots: u64,
}

impl ShardActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u16,
        shards: u16,
        config: Arc<Config>,
        ledger: ShardLedger,
        rails: Rails,
        clock: Arc<dyn Clock>,
        events: broadcast::Sender<EngineEvent>,
        registry: Arc<dashmap::DashMap<RequestNo, CustomerId>>,
    ) -> Self {
        let ledger = Rc::new(RefCell::new(ledger));
        let flow = Rc::new(FlowContext::new(
            id,
            ledger.clone(),
            rails,
            clock,
            config.clone(),
            events,
            registry,
        ));
        Self {
            id,
            shards,
            config,
            ledger,
            flow,
            supervisor: None,
            live: HashMap::new(),
            parents: HashMap::new(),
            peers: Vec::new(),
            deliveries: None,
            transfers: Transfers::default(),
            tick: 0,
            snapshot_running: false,
            stopping: None,
            stats: ShardStats::default(),
        }
    }

    /// Connects the shard's refill trigger to the engine's `Balancer` (`sweep.rs`).
    pub(crate) fn with_balancer(self, balancer: Arc<tokio::sync::Notify>) -> Self {
        self.flow.refill.connect_balancer(balancer);
        self
    }

    /// Where jobs send a transfer's durable debit: this shard.
    fn deliveries(&self) -> &Deliveries {
        self.deliveries
            .as_ref()
            .expect("the shard's address is known once it started")
    }

    fn run_waiters(ready: Vec<(Waiter, Result<(), EngineError>)>) {
        for (waiter, result) in ready {
            waiter(result);
        }
    }

    /// Hands the WAL the records that found its queue full at the last flush: the WAL
    /// reported progress, so it has room again.
    fn flush_waiting(&mut self) {
        if !self.ledger.borrow().has_unflushed() {
            return;
        }
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
    }

    /// The live actor of a customer, activating it if needed.
    fn customer_actor(&mut self, customer: CustomerId) -> Result<Addr<CustomerActor>, EngineError> {
        if let Some(live) = self.live.get_mut(&customer) {
            live.last_used_tick = self.tick;
            return Ok(live.addr.clone());
        }
        {
            let ledger = self.ledger.borrow();
            ledger.check_usable()?;
            if ledger.books().customer(customer).is_none() {
                let home = shard_of(customer, self.shards);
                return Err(if home == self.id {
                    BooksError::UnknownCustomer(customer).into()
                } else {
                    BooksError::WrongShard {
                        customer,
                        home,
                        here: self.id,
                    }
                    .into()
                });
            }
        }
        let in_flight = Rc::new(Cell::new(0));
        let addr = CustomerActor::new(
            customer,
            self.flow.clone(),
            self.deliveries().clone(),
            in_flight.clone(),
        )
        .start();
        self.stats.activations += 1;
        self.live.insert(
            customer,
            Live {
                addr: addr.clone(),
                last_used_tick: self.tick,
                in_flight,
            },
        );
        if self.live.len() > self.config.actors.live_customers_max as usize {
            self.passivate_least_recently_used();
        }
        Ok(addr)
    }

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

    fn passivate_idle(&mut self) {
        let idle_ticks = 4;
        let tick = self.tick;
        let idle: Vec<CustomerId> = self
            .live
            .iter()
            .filter(|(_, l)| {
                l.in_flight.get() == 0 && tick.saturating_sub(l.last_used_tick) >= idle_ticks
            })
            .map(|(c, _)| *c)
            .collect();
        for c in idle {
            self.passivate(c);
        }
    }

    fn passivate_least_recently_used(&mut self) {
        let max = self.config.actors.live_customers_max as usize;
        let excess = self.live.len().saturating_sub(max * 9 / 10);
        let mut idle: Vec<(u64, CustomerId)> = self
            .live
            .iter()
            .filter(|(_, l)| l.in_flight.get() == 0)
            .map(|(c, l)| (l.last_used_tick, *c))
            .collect();
        idle.sort_unstable();
        for (_, c) in idle.into_iter().take(excess) {
            self.passivate(c);
        }
    }

    fn passivate(&mut self, customer: CustomerId) {
        if let Some(live) = self.live.remove(&customer) {
            live.addr.do_send(Passivate);
            self.stats.passivations += 1;
        }
    }

    fn maybe_snapshot(&mut self, ctx: &mut Context<Self>) {
        let every = self.config.wal.snapshot_every_records;
        if self.snapshot_running || self.ledger.borrow().records_since_snapshot() < every {
            return;
        }
        self.snapshot_running = true;
        // Everything applied so far goes to the WAL first: the writer handles the
        // snapshot in order, after every record it covers.
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
        // The cut is cheap (shared copy-on-write); copying it out and serializing it
        // happen on the snapshot's own thread.
        let (cut, lsn, wal) = {
            let mut ledger = self.ledger.borrow_mut();
            ledger.reset_snapshot_counter();
            (
                ledger.books().cut(),
                ledger.last_applied_lsn() + 1,
                ledger.wal().clone(),
            )
        };
        let me = ctx.address();
        let shard = self.id;
        // Serializing a large snapshot takes a while; it happens off the shard's thread.
        let spawned = std::thread::Builder::new()
            .name(format!("omnibus-snapshot-{shard}"))
            .spawn(move || {
                // Copied out first, at the normal priority: until a segment is copied,
                // the shard copies it before writing it, so the cut is let go quickly.
                let snapshot = cut.into_snapshot();
                // Serializing the whole books is the heaviest work the engine does; it
                // gets what the shards leave idle, not a core of theirs.
                omnibus_wal::storage::background_thread();
                let bytes = codec::encode_snapshot(&snapshot);
                drop(snapshot);
                let size = bytes.len();
                let refused = me.clone();
                let done = Box::new(move |result: Result<(), omnibus_wal::WalError>| {
                    me.do_send(SnapshotDone {
                        lsn,
                        bytes: size,
                        result: result.map_err(|e| e.to_string()),
                    });
                });
                if let Err(e) = wal.snapshot(lsn, bytes, done) {
                    // Refused (the queue full, a snapshot still being written): the WAL
                    // drops `done` uncalled, so the shard hears of it here, or it would
                    // never take a snapshot again.
                    tracing::warn!(shard, lsn, error = %e, "snapshot not taken");
                    refused.do_send(SnapshotDone {
                        lsn,
                        bytes: size,
                        result: Err(e.to_string()),
                    });
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(shard, error = %e, "could not start the snapshot thread");
            self.snapshot_running = false;
        }
    }

    fn try_finish_stopping(&mut self, ctx: &mut Context<Self>) {
        if self.stopping.is_none() {
            return;
        }
        let pending = self.ledger.borrow().pending_records();
        if pending > 0 && self.ledger.borrow().check_usable().is_ok() {
            return;
        }
        let result = self
            .ledger
            .borrow()
            .wal()
            .shutdown()
            .map_err(|e| e.to_string());
        if let Some(done) = self.stopping.take() {
            let _ = done.send(result);
        }
        ctx.stop();
    }
}

impl Actor for ShardActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.config.actors.mailbox_capacity as usize);
        self.deliveries = Some(ctx.address().recipient());
        self.ledger
            .borrow_mut()
            .attach(std::sync::Arc::new(ctx.address()));
        let parents: Vec<ParentAccount> = self.ledger.borrow().books().plan().parents.clone();
        for parent in parents {
            let addr =
                ParentSliceActor::new(parent, self.ledger.clone(), self.deliveries().clone())
                    .start();
            self.parents.insert(parent, addr);
        }
        let resumed = flow::resume_after_restart(&self.flow);
        let owed = self.flow.scan_owed();
        if resumed + owed > 0 {
            tracing::info!(
                shard = self.id,
                unknown = resumed,
                owed,
                "calls in flight at the crash are UNKNOWN, to be confirmed; owed steps will be retried"
            );
        }
        self.supervisor = Some(SupervisorActor::new(self.flow.clone()).start());
        // Callers past their deadline, and requests a crash left unanswered, are answered
        // within a tenth of the deadline (at most a second late).
        let deadline_tick_ms = (self.config.actors.answer_deadline_ms / 10).clamp(1, 1_000);
        ctx.run_interval(Duration::from_millis(deadline_tick_ms), |shard, _| {
            shard.flow.answer_overdue();
        });
        // Transfers to other shards not yet acknowledged are delivered again, until they
        // are (a destination that was overloaded or restarting drops a delivery).
        let retry_ms = self.config.actors.transfer_retry_ms;
        ctx.run_interval(Duration::from_millis(retry_ms), move |shard, _| {
            shard.redeliver_overdue(retry_ms);
        });
        // Four ticks make one idle period.
        let tick_ms = (self.config.actors.passivate_idle_ms / 4).max(1);
        ctx.run_interval(Duration::from_millis(tick_ms), |shard, _| {
            shard.tick += 1;
            shard.passivate_idle();
        });
    }
}

/// A request from the engine handle, with its admission ticket: the ticket leaves the
/// gate when the shard has handled the request (when this message is dropped).
pub struct Admitted<M> {
    pub message: M,
    pub _ticket: Ticket,
}

impl<M: Message<Result = ()>> Message for Admitted<M> {
    type Result = ();
}

impl<M> Handler<Admitted<M>> for ShardActor
where
    M: Message<Result = ()>,
    ShardActor: Handler<M>,
{
    type Result = ();
    fn handle(&mut self, admitted: Admitted<M>, ctx: &mut Context<Self>) {
        <Self as Handler<M>>::handle(self, admitted.message, ctx);
    }
}

/// The shard answers its ledger's signals with messages to itself, so that a flush queues
/// behind the mailbox's contents and a durable report is handled in mailbox order.
impl crate::ledger::LedgerSignals for Addr<ShardActor> {
    fn flush_soon(&self) {
        self.do_send(Flush);
    }

    fn durable(&self, upto: Lsn, result: Result<(), String>) {
        self.do_send(Durable { upto, result });
    }
}

/// Hand the open batch to the WAL (queued by the ledger behind the mailbox's contents).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

impl Handler<Flush> for ShardActor {
    type Result = ();
    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
    }
}

/// From the WAL writer: records up to `upto` are durable (or the log failed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Durable {
    pub upto: Lsn,
    pub result: Result<(), String>,
}

impl Handler<Durable> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Durable, ctx: &mut Context<Self>) {
        let ready = self.ledger.borrow_mut().durable(msg.upto, msg.result);
        Self::run_waiters(ready);
        self.flush_waiting();
        // A parent slice that left its band asks for a refill now (`sweep.rs`).
        crate::sweep::watch(&self.flow);
        self.maybe_snapshot(ctx);
        self.try_finish_stopping(ctx);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct SnapshotDone {
    pub lsn: Lsn,
    pub bytes: usize,
    pub result: Result<(), String>,
}

impl Handler<SnapshotDone> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SnapshotDone, _: &mut Context<Self>) {
        self.snapshot_running = false;
        self.flush_waiting();
        match msg.result {
            Ok(()) => {
                self.stats.snapshots += 1;
                tracing::info!(
                    shard = self.id,
                    lsn = msg.lsn,
                    bytes = msg.bytes,
                    "snapshot taken"
                );
            }
            Err(e) => tracing::warn!(shard = self.id, lsn = msg.lsn, error = %e, "snapshot failed"),
        }
    }
}

/// The addresses of every shard, this one included, in shard order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Peers(pub Vec<Addr<ShardActor>>);

impl Handler<Peers> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Peers, _: &mut Context<Self>) {
        assert_eq!(msg.0.len(), self.shards as usize);
        self.peers = msg.0;
    }
}

/// Open a customer account in this shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Open {
    pub opened: CustomerOpened,
    pub reply: Reply<Receipt>,
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

/// Change a customer's validity (tradable, securities subscription valid).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus {
    pub customer: CustomerId,
    pub tradable: bool,
    pub subscription_valid: bool,
    pub reply: Reply<Receipt>,
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

/// A posting whose debit account is booked in this shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Post {
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Amount,
    pub reply: Reply<Receipt>,
}

impl Handler<Post> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Post, _: &mut Context<Self>) {
        self.post(msg.debit, msg.credit, msg.amount, msg.reply);
    }
}

/// Many postings whose debit accounts are booked in this shard, answered into one batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PostBatch {
    pub items: Vec<(usize, AccountId, AccountId, Amount)>,
    pub collector: Arc<Collector<Receipt>>,
}

/// A batch the engine sends a shard: answered item by item if it never gets there.
pub trait BatchMessage {
    /// Answers every item with `error`.
    fn fail(self, error: EngineError);
}

impl BatchMessage for PostBatch {
    fn fail(self, error: EngineError) {
        for (index, ..) in self.items {
            Reply::Slot(self.collector.clone(), index).send(Err(error.clone()));
        }
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

/// A charge or remittance for one of this shard's customers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubmitRequest {
    pub submission: Submission,
    pub reply: Reply<Outcome>,
}

impl Handler<SubmitRequest> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: SubmitRequest, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        match self.customer_actor(msg.submission.customer()) {
            Ok(addr) => addr.do_send(Submit {
                submission: msg.submission,
                reply: msg.reply,
            }),
            Err(e) => msg.reply.send(Err(e)),
        }
    }
}

/// Many charges and remittances for this shard's customers, answered into one batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubmitBatch {
    pub items: Vec<(usize, Submission)>,
    pub collector: Arc<Collector<Outcome>>,
}

impl BatchMessage for SubmitBatch {
    fn fail(self, error: EngineError) {
        for (index, _) in self.items {
            Reply::Slot(self.collector.clone(), index).send(Err(error.clone()));
        }
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
            match self.customer_actor(submission.customer()) {
                Ok(addr) => addr.do_send(Submit { submission, reply }),
                Err(e) => reply.send(Err(e)),
            }
        }
    }
}

/// Issue a signing text for one of this shard's customers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IssueTextRequest {
    pub request: RemitRequest,
    pub reply: Reply<SigningText>,
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

/// A request with all its log entries, as of everything durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ViewRequest {
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub reply: Reply<Option<RequestView>>,
}

impl Handler<ViewRequest> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: ViewRequest, _: &mut Context<Self>) {
        let view = self.flow.view(msg.customer, msg.request_no);
        let reply = msg.reply;
        self.ledger
            .borrow_mut()
            .after_durable(Box::new(move |durable| reply.send(durable.map(|()| view))));
    }
}

/// Run every supervisor pass of this shard once, now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Supervise {
    pub reply: tokio::sync::oneshot::Sender<SupervisionReport>,
}

impl Handler<Supervise> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Supervise, _: &mut Context<Self>) {
        if let Some(supervisor) = &self.supervisor {
            supervisor.do_send(SuperviseNow { reply: msg.reply });
        }
    }
}

/// Move `amount` of this shard's slice of `parent` to the same parent's slice in
/// `dest_shard`: a transfer between shards, by the slice's own actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MoveSlice {
    pub parent: ParentAccount,
    pub dest_shard: u16,
    pub amount: Amount,
    pub reply: Reply<Receipt>,
}

impl Handler<MoveSlice> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: MoveSlice, _: &mut Context<Self>) {
        let account = AccountId::parent(msg.parent);
        if msg.dest_shard == self.id || msg.dest_shard >= self.shards {
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

/// Entry numbers one reconciliation page covers.
pub const ENTRIES_PAGE: u64 = 4_096;

/// What a query asks of one shard.
#[derive(Clone, Copy, Debug)]
pub enum QueryKind {
    /// A customer's balance and available amount.
    Customer(CustomerId),
    /// Every parent slice of the shard.
    Slices,
    /// The shard's totals for the conservation check.
    Totals,
    /// The books' running sum and the same added up account by account: O(customers) on
    /// the shard's thread, for audits and tests, never for metrics.
    Audit,
    /// Any account as this shard books it (its slice, for a parent).
    Account(AccountId),
    /// The request-log entries numbered from `from_seq` on, at most
    /// [`ENTRIES_PAGE`] entry numbers of them, with their requests' dates, for
    /// reconciliation: one bounded slice per message, so that a report over millions of
    /// entries never holds the shard's thread for long.
    Entries { from_seq: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryAnswer {
    Customer(Box<CustomerBalance>),
    /// Every slice: its balance and what is available (the balance less holds).
    Slices(Vec<(ParentAccount, Money, Money)>),
    Totals(Box<ShardTotals>),
    Audit {
        kept: Money,
        scanned: Money,
    },
    Account(Money),
    Entries {
        entries: Vec<(omnibus_core::flow::LogEntry, omnibus_core::RequestDate)>,
        /// Where the next page starts; `None` after the last.
        next_seq: Option<u64>,
    },
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Query {
    pub kind: QueryKind,
    pub reply: Reply<QueryAnswer>,
}

impl Handler<Query> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Query, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        let answer = match msg.kind {
            QueryKind::Customer(c) => match books.customer(c) {
                Some(entry) => Ok(QueryAnswer::Customer(Box::new(CustomerBalance {
                    customer: c,
                    balance: books.money(entry.balance),
                    available: books.money(entry.balance - entry.held),
                    tradable: entry.tradable,
                    subscription_valid: entry.subscription_valid,
                    linked_bank: entry.linked_bank,
                    linked_account: entry.linked_account,
                    cert_serial: entry.signing_key.map(|k| k.cert_serial),
                }))),
                None => Err(BooksError::UnknownCustomer(c).into()),
            },
            QueryKind::Entries { from_seq } => {
                let (entries, next_seq) = books.entries_page(from_seq, ENTRIES_PAGE);
                Ok(QueryAnswer::Entries {
                    entries: entries
                        .into_iter()
                        .filter_map(|e| {
                            books
                                .request(e.customer, e.request_no)
                                .map(|r| (e, r.accepted.request_date))
                        })
                        .collect(),
                    next_seq,
                })
            }
            QueryKind::Account(account) => books
                .balance(account)
                .map(QueryAnswer::Account)
                .map_err(EngineError::from),
            QueryKind::Slices => Ok(QueryAnswer::Slices(
                books
                    .slices()
                    .map(|(p, s)| (*p, books.money(s.balance), books.money(s.balance - s.held)))
                    .collect(),
            )),
            QueryKind::Audit => books
                .sum_by_scan()
                .map(|scanned| QueryAnswer::Audit {
                    kept: books.sum().unwrap_or(scanned),
                    scanned,
                })
                .map_err(|e| EngineError::Internal(format!("the books' sum: {e}"))),
            QueryKind::Totals => books
                .sum()
                .map(|sum| {
                    QueryAnswer::Totals(Box::new(ShardTotals {
                        shard: self.id,
                        sum,
                        in_transit: books.in_transit(),
                        customers: books.customer_count() as u64,
                        live_customers: self.live.len() as u64,
                        outgoing_transfers: books.outgoing().count() as u64,
                        transfers_remembered: books.transfers_remembered() as u64,
                        durable_lsn: ledger.durable_lsn(),
                        sagas_in_flight: self.flow.sagas_in_flight() as u64,
                        steps_owed: self.flow.owed_count() as u64,
                        requests_unanswered: books.unanswered_count() as u64,
                        refused_parent_slice_short: self.flow.short_slices(),
                        requests: books.request_count() as u64,
                        entries_requested: books.open_entry_counts().0 as u64,
                        entries_unknown: books.open_entry_counts().1 as u64,
                        entries_try_again: books.open_entry_counts().2 as u64,
                        activations: self.stats.activations,
                        passivations: self.stats.passivations,
                        snapshots: self.stats.snapshots,
                        wal: ledger.wal().stats(),
                    }))
                })
                .map_err(|e| EngineError::Internal(format!("the books' sum: {e}"))),
        };
        // Answer only once everything this answer reflects is durable.
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.and(answer));
        }));
    }
}

/// Stop taking work, let what was applied become durable, sync and close the log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    pub done: std::sync::mpsc::Sender<Result<(), String>>,
}

impl Handler<Shutdown> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Shutdown, ctx: &mut Context<Self>) {
        self.stopping = Some(msg.done);
        let failed = self.ledger.borrow_mut().flush();
        for (w, e) in failed {
            w(Err(e));
        }
        for customer in self.live.keys().copied().collect::<Vec<_>>() {
            self.passivate(customer);
        }
        self.try_finish_stopping(ctx);
    }
}
