//! The `Engine` handle: what a host holds.
//!
//! `Engine::start` recovers every shard from its data directory, then starts the engine's
//! own actix system on its own threads (one arbiter per shard). The handle is
//! `Send + Sync` and cheap to clone; its async methods only await a oneshot answer, so
//! they work from any tokio runtime, any other executor, or a plain thread through
//! `futures::executor::block_on`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use actix::{Actor, Addr, Arbiter, AsyncContext, Context, Handler, Message, System};
use dashmap::DashMap;
use omnibus_core::balance::{plan_slice_moves, SliceView};
use omnibus_core::books::{shard_of, ParentPlan};
use omnibus_core::reconcile::{day_statement, reconcile_log, DayStatement, ReconciliationReport};
use omnibus_core::record::CustomerOpened;
use omnibus_core::request_log::LogKind;
use omnibus_core::RequestDate;
use omnibus_core::{
    AccountId, Amount, ChargeRequest, Config, CustomerId, Money, ParentAccount, RemitRequest,
    RequestNo,
};
use tokio::sync::broadcast;
use tokio::sync::oneshot;
use tokio::sync::Notify;

use crate::api::Receipt;
use crate::api::{CustomerBalance, ParentBalance, Totals};
use crate::api::{EngineEvent, Outcome, RequestView, Signed, SigningText, Submission};
use crate::clock::{Clock, SystemClock};
use crate::error::Rejection;
use crate::error::{EngineError, StartError};
use crate::failstop::{self, Failure};
use crate::gate::{Gate, Ticket};
use crate::ledger::recovery::{recover_shard, DataDir, RecoveryReport, StorageFactory};
use crate::ledger::ShardLedger;
use crate::rails::sim::Simulator;
use crate::rails::Rails;
use crate::reply::{Collector, Reply};
use crate::shard::{BatchMessage, MoveSlice, SubmitBatch};
use crate::shard::{IssueTextRequest, PostBatch, Redeliver, SubmitRequest, Supervise, ViewRequest};
use crate::shard::{
    Open, Peers, Post, Query, QueryAnswer, QueryKind, SetStatus, ShardActor, Shutdown,
};
use crate::supervisors::SupervisionReport;

struct Running {
    system: System,
    arbiters: Vec<Arbiter>,
    thread: JoinHandle<()>,
}

impl Running {
    /// Stops every shard's arbiter (dropping its actors and, with them, its log handle,
    /// which syncs and closes the log), then the system, and joins their threads.
    fn stop(self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters {
            let _ = arbiter.join();
        }
        self.system.stop();
        let _ = self.thread.join();
    }
}

/// What an engine runs on besides its configuration: the outside systems, the clock,
/// and (for tests) the storage of its logs.
#[derive(Clone)]
pub struct EngineParts {
    pub rails: Rails,
    pub clock: Arc<dyn Clock>,
    /// `None`: each shard's log in files under `wal.dir`.
    pub storage: Option<StorageFactory>,
}

impl EngineParts {
    /// The given rails and clock, logs in files.
    pub fn new(rails: Rails, clock: Arc<dyn Clock>) -> EngineParts {
        EngineParts {
            rails,
            clock,
            storage: None,
        }
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

/// Shards of the request-number registry (a power of two).
const REGISTRY_SHARDS: usize = 256;

struct Inner {
    config: Arc<Config>,
    rails: Rails,
    /// Which customer each request number belongs to: a request number is executed at most
    /// once engine-wide (SPEC §6.3), and `request(no)` finds its shard.
    registry: Arc<DashMap<RequestNo, CustomerId>>,
    events: broadcast::Sender<EngineEvent>,
    shards: Vec<Addr<ShardActor>>,
    gates: Vec<Arc<Gate>>,
    round_robin: AtomicUsize,
    running: Mutex<Option<Running>>,
    recovery: Vec<RecoveryReport>,
    /// Set when a panic on one of the engine's threads stopped it (`failstop`).
    failure: Arc<Failure>,
    /// Each shard's log failure, once its log failed (the shard refuses all work then).
    poisoned: Vec<Arc<OnceLock<String>>>,
    /// Held while slices are moved between shards (the `Balancer`'s runs and
    /// `supervise_once`), so that two plans never move the same money.
    rebalancing: Arc<tokio::sync::Mutex<()>>,
}

/// Moves funds between the slices of each parent account (across shards) so that no
/// slice stays below its low mark while another holds more than its target; answers
/// how many moves were made once each is credited.
async fn rebalance_slices(
    shards: &[Addr<ShardActor>],
    config: &Config,
    count: u16,
) -> Result<u64, EngineError> {
    let mut views = Vec::new();
    for (shard, addr) in shards.iter().enumerate() {
        let (tx, rx) = oneshot::channel();
        addr.do_send(Query {
            kind: QueryKind::Slices,
            reply: Reply::One(tx),
        });
        let QueryAnswer::Slices(slices) = rx.await.map_err(|_| EngineError::ShuttingDown)?? else {
            unreachable!("a slices query answers with slices");
        };
        for (parent, _, available) in slices {
            views.push(SliceView {
                shard: shard as u16,
                parent,
                available: available.value(),
            });
        }
    }
    let plan = ParentPlan::from_config(config, count);
    let moves = plan_slice_moves(&plan, &views, config.supervisor.batch_max as usize);
    let mut waits = Vec::new();
    for m in &moves {
        let (tx, rx) = oneshot::channel();
        shards[m.from_shard as usize].do_send(MoveSlice {
            parent: m.parent,
            dest_shard: m.to_shard,
            amount: m.amount,
            reply: Reply::One(tx),
        });
        waits.push(rx);
    }
    let mut made = 0;
    for (m, wait) in moves.iter().zip(waits) {
        match wait.await {
            Ok(Ok(_)) => made += 1,
            Ok(Err(e)) => {
                tracing::warn!(parent = %m.parent, from = m.from_shard, to = m.to_shard, error = %e, "slice move refused")
            }
            Err(_) => return Err(EngineError::ShuttingDown),
        }
    }
    Ok(made)
}

/// Runs `rebalance_slices` on the engine's system thread: every
/// `supervisor.sweep_interval_ms`, and, with `supervisor.refill_on_demand`, whenever a
/// shard raises `wake` (a request found a slice short, or a slice stayed below its low
/// mark after the shard's own sweeps), at least `supervisor.refill_min_gap_ms` apart.
/// Raises that arrive while a run is going make one more run, not one each.
struct Balancer {
    shards: Vec<Addr<ShardActor>>,
    config: Arc<Config>,
    wake: Arc<Notify>,
    /// One rebalancing at a time, this actor's or `Engine::supervise_once`'s.
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

impl Actor for Balancer {
    type Context = actix::Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = std::time::Duration::from_millis(self.config.supervisor.sweep_interval_ms);
        ctx.run_interval(every, |balancer, _| balancer.wake.notify_one());
        let (shards, config, wake, one_at_a_time) = (
            self.shards.clone(),
            self.config.clone(),
            self.wake.clone(),
            self.one_at_a_time.clone(),
        );
        let gap = std::time::Duration::from_millis(config.supervisor.refill_min_gap_ms);
        let runs = async move {
            let count = shards.len() as u16;
            loop {
                wake.notified().await;
                let made = {
                    let _one = one_at_a_time.lock().await;
                    rebalance_slices(&shards, &config, count).await
                };
                match made {
                    Ok(0) => {}
                    Ok(moves) => tracing::debug!(moves, "parent slices rebalanced between shards"),
                    Err(e) => tracing::debug!(error = %e, "slice rebalancing stopped"),
                }
                tokio::time::sleep(gap).await;
            }
        };
        ctx.spawn(actix::fut::wrap_future::<_, Self>(runs));
    }
}

/// The handle a host holds. Clone it freely.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Recovers the data directory of `config` and starts the engine on the in-process
    /// simulators of the outside systems (`[simulator]` in the configuration), restored
    /// from `<wal.dir>/simulator/` ([`Simulator::open`]), and the system clock. Blocks
    /// until every shard is serving; call it before entering an async runtime, or from
    /// `spawn_blocking`.
    pub fn start(config: Config) -> Result<Engine, StartError> {
        let simulator = Simulator::open(&config)?;
        Self::start_with(
            config,
            EngineParts::new(simulator.rails(), Arc::new(SystemClock)),
        )
    }

    /// As [`Engine::start`], on the given outside systems and clock.
    pub fn start_with(config: Config, parts: EngineParts) -> Result<Engine, StartError> {
        config
            .validate()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let config = Arc::new(config);
        let data = DataDir::open(&config)?;
        let shards = data.shards;
        let plan = ParentPlan::from_config(&config, shards);
        tracing::info!(dir = %data.root.display(), shards, "recovering");
        let recovered = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..shards)
                .map(|shard| {
                    let (config, data, plan) = (&config, &data, plan.clone());
                    let storage = parts.storage.as_ref();
                    scope.spawn(move || recover_shard(config, data, shard, plan, storage))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("recovery thread panicked"))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let recovery: Vec<RecoveryReport> = recovered.iter().map(|r| r.report.clone()).collect();
        // Many small shards: the registry grows with every request, and growing a shard
        // rehashes it under its lock, stalling every caller that hashes there (the same
        // reasoning as the books' segmented maps, `omnibus_core::segmap`).
        let registry = Arc::new(DashMap::with_shard_amount(REGISTRY_SHARDS));
        for r in &recovered {
            // The house's own requests (sweeps) are not customers' request numbers.
            for request in r
                .books
                .requests()
                .filter(|r| r.accepted.kind != omnibus_core::flow::RequestKind::Settlement)
            {
                if let Some(other) =
                    registry.insert(request.accepted.request_no, request.accepted.customer)
                {
                    tracing::warn!(request = %request.accepted.request_no, customer = %other, "a request number is on record for two customers");
                }
            }
        }
        let (events, _) = broadcast::channel(config.actors.events_buffer as usize);
        let system_events = events.clone();
        let system_registry = registry.clone();
        for r in &recovery {
            tracing::info!(
                shard = r.shard,
                snapshot_lsn = r.snapshot_lsn,
                records = r.records_replayed,
                customers = r.customers,
                ms = r.elapsed_ms,
                "shard recovered"
            );
        }

        let host_rails = parts.rails.clone();
        let failure = Arc::new(Failure::default());
        let poisoned: Vec<Arc<OnceLock<String>>> = (0..shards).map(|_| Arc::default()).collect();
        let system_poisoned = poisoned.clone();
        let balancer_wake = Arc::new(Notify::new());
        let rebalancing = Arc::new(tokio::sync::Mutex::new(()));
        let system_rebalancing = rebalancing.clone();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let system_config = config.clone();
        let thread = std::thread::Builder::new()
            .name("omnibus-system".into())
            .spawn(move || {
                let runner = System::new();
                let (addrs, arbiters) = runner.block_on(async move {
                    let mut addrs = Vec::new();
                    let mut arbiters = Vec::new();
                    for (shard, r) in recovered.into_iter().enumerate() {
                        let shard = shard as u16;
                        let arbiter = Arbiter::new();
                        let config = system_config.clone();
                        let queue = config.wal.queue_records_max as usize;
                        let chunk_limits = crate::ledger::ChunkLimits {
                            records_max: config.wal.batch_records_max as usize,
                            bytes_max: config.wal.batch_bytes_max as usize,
                        };
                        let (rails, clock, events) = (
                            parts.rails.clone(),
                            parts.clock.clone(),
                            system_events.clone(),
                        );
                        let shard_registry = system_registry.clone();
                        let poisoned = system_poisoned[shard as usize].clone();
                        let shard_balancer = balancer_wake.clone();
                        let addr = ShardActor::start_in_arbiter(&arbiter.handle(), move |_| {
                            let mut ledger = ShardLedger::new(
                                shard,
                                r.books,
                                r.wal,
                                r.next_lsn,
                                queue,
                                chunk_limits,
                                poisoned,
                            );
                            for (actor, seq) in r.actor_seqs {
                                ledger.replayed_seq(actor, seq);
                            }
                            ShardActor::new(
                                shard,
                                shards,
                                config,
                                ledger,
                                rails,
                                clock,
                                events,
                                shard_registry,
                            )
                            .with_balancer(shard_balancer)
                        });
                        addrs.push(addr);
                        arbiters.push(arbiter);
                    }
                    Balancer {
                        shards: addrs.clone(),
                        config: system_config.clone(),
                        wake: balancer_wake,
                        one_at_a_time: system_rebalancing,
                    }
                    .start();
                    (addrs, arbiters)
                });
                let _ = started_tx.send((addrs, arbiters, System::current()));
                if let Err(e) = runner.run() {
                    tracing::error!(error = %e, "the actor system stopped with an error");
                }
            })
            .map_err(|e| StartError::System(e.to_string()))?;
        let (addrs, arbiters, system) = started_rx.recv().map_err(|_| {
            StartError::System("the actor system thread exited while starting".into())
        })?;
        failstop::watch(&system, &failure);
        for addr in &addrs {
            addr.do_send(Peers(addrs.clone()));
        }
        for addr in &addrs {
            addr.do_send(Redeliver);
        }
        tracing::info!(shards, "engine started");
        Ok(Engine {
            inner: Arc::new(Inner {
                rails: host_rails,
                gates: (0..shards)
                    .map(|_| Gate::new(config.actors.mailbox_capacity as usize))
                    .collect(),
                registry,
                events,
                config,
                shards: addrs,
                round_robin: AtomicUsize::new(0),
                running: Mutex::new(Some(Running {
                    system,
                    arbiters,
                    thread,
                })),
                recovery,
                failure,
                poisoned,
                rebalancing,
            }),
        })
    }

    /// Whether the engine serves: `Err` naming the cause when it stopped (a panic on one of
    /// its threads) or a shard's log failed (that shard refuses all work until a restart).
    pub fn health(&self) -> Result<(), String> {
        if let Some(cause) = self.inner.failure.cause() {
            return Err(format!("the engine stopped: {cause}"));
        }
        for (shard, poisoned) in self.inner.poisoned.iter().enumerate() {
            if let Some(cause) = poisoned.get() {
                return Err(format!(
                    "shard {shard}'s write-ahead log failed ({cause}); it refuses all work until the engine is restarted"
                ));
            }
        }
        Ok(())
    }

    /// `Internal` naming the cause if the engine stopped for a failure.
    fn check_running(&self) -> Result<(), EngineError> {
        match self.inner.failure.cause() {
            Some(cause) => Err(EngineError::Internal(format!(
                "the engine stopped: {cause}"
            ))),
            None => Ok(()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn shard_count(&self) -> u16 {
        self.inner.shards.len() as u16
    }

    /// Requests admitted to each shard and not yet handled by it (bounded by
    /// `actors.mailbox_capacity`).
    pub fn queued_requests(&self) -> Vec<usize> {
        self.inner.gates.iter().map(|g| g.queued()).collect()
    }

    /// What recovery found in each shard when the engine started.
    pub fn recovery_reports(&self) -> &[RecoveryReport] {
        &self.inner.recovery
    }

    pub fn shard_of(&self, customer: CustomerId) -> u16 {
        shard_of(customer, self.shard_count())
    }

    async fn ask<T, M>(
        &self,
        shard: u16,
        make: impl FnOnce(Reply<T>) -> M,
    ) -> Result<T, EngineError>
    where
        M: actix::Message<Result = ()> + Send + 'static,
        ShardActor: actix::Handler<M> + actix::Handler<Admitted<M>>,
    {
        self.check_running()?;
        let ticket = self.inner.gates[shard as usize].enter(1)?;
        let (tx, rx) = oneshot::channel();
        // Admission is the gate's job; the send itself never parks. A stopped shard drops
        // the message, and with it the reply, which the caller sees as shutting down.
        self.inner.shards[shard as usize].do_send(Admitted {
            message: make(Reply::One(tx)),
            _ticket: ticket,
        });
        match rx.await {
            Ok(answer) => answer,
            // A shard that stopped answering: stopped for a failure, or shut down.
            Err(_) => Err(self
                .check_running()
                .err()
                .unwrap_or(EngineError::ShuttingDown)),
        }
    }

    /// Opens a customer financial company account, registering its linked bank account,
    /// its validity and its signature key. Answers once the opening is durable.
    pub async fn open_customer(&self, opened: CustomerOpened) -> Result<Receipt, EngineError> {
        // A weak (small-order) or malformed ed25519 key would let a signature made with no
        // private key verify: refused at registration (SPEC §5a, S6).
        if let Some(key) = opened.signing_key {
            omnibus_core::signing::check_public_key(&key.public_key).map_err(Rejection::Signing)?;
        }
        self.ask(self.shard_of(opened.customer), |reply| Open {
            opened,
            reply,
        })
        .await
    }

    /// Changes a customer's validity: tradable (S31, S71) and securities subscription (S32, S113).
    pub async fn set_customer_status(
        &self,
        customer: CustomerId,
        tradable: bool,
        subscription_valid: bool,
    ) -> Result<Receipt, EngineError> {
        self.ask(self.shard_of(customer), |reply| SetStatus {
            customer,
            tradable,
            subscription_valid,
            reply,
        })
        .await
    }

    /// Posts `amount` from `debit` to `credit` (double entry), answering once it is durable.
    /// Between a customer and a parent account it stays in the customer's shard (the
    /// parent's slice there); between customers of two shards it is a transfer, answered
    /// once the destination has credited it.
    pub async fn post(
        &self,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
    ) -> Result<Receipt, EngineError> {
        let home = |a: AccountId| match a {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                Some(self.shard_of(customer))
            }
            _ => None,
        };
        let shard = home(debit).or(home(credit)).unwrap_or_else(|| {
            (self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % self.inner.shards.len())
                as u16
        });
        self.ask(shard, |reply| Post {
            debit,
            credit,
            amount,
            reply,
        })
        .await
    }

    /// Posts many postings at once: one message per shard, one answer for the whole batch
    /// once every posting in it is durable (or refused). Each posting is still its own
    /// atomic record with its own result, in the order given; a refused posting does not
    /// affect the others. This is how a caller keeps thousands of postings in flight
    /// without a round trip each.
    pub async fn post_batch(
        &self,
        postings: &[(AccountId, AccountId, Amount)],
    ) -> Vec<Result<Receipt, EngineError>> {
        let (collector, done) = Collector::new(postings.len());
        let mut by_shard: Vec<Vec<(usize, AccountId, AccountId, Amount)>> =
            vec![Vec::new(); self.inner.shards.len()];
        for (index, (debit, credit, amount)) in postings.iter().enumerate() {
            by_shard[self.posting_shard(*debit, *credit) as usize]
                .push((index, *debit, *credit, *amount));
        }
        self.send_batches(by_shard, |items| PostBatch {
            items,
            collector: collector.clone(),
        });
        drop(collector);
        done.await.unwrap_or_else(|_| {
            postings
                .iter()
                .map(|_| Err(EngineError::ShuttingDown))
                .collect()
        })
    }

    /// The shard a posting goes to: the home of its debit, else of its credit, else any.
    fn posting_shard(&self, debit: AccountId, credit: AccountId) -> u16 {
        let home = |a: AccountId| match a {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                Some(self.shard_of(customer))
            }
            _ => None,
        };
        home(debit).or(home(credit)).unwrap_or_else(|| {
            (self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % self.inner.shards.len())
                as u16
        })
    }

    /// A charge (balance increase, SPEC §3): A1 then A2, answered per the SPEC §4 table.
    pub async fn charge(&self, request: ChargeRequest) -> Result<Outcome, EngineError> {
        self.submit(Submission::Charge(request)).await
    }

    /// A remittance up to the usage limit: SS deduction (X1), then BS deposit (X2), with a
    /// deficit charged first if the balance is short. An amount over the limit is refused
    /// here (`Rejection::SignatureRequired`): use `signing_text` and `remit_signed`.
    pub async fn remit(&self, request: RemitRequest) -> Result<Outcome, EngineError> {
        self.submit(Submission::Remit(request)).await
    }

    /// The transaction original text to sign for an over-limit remittance (S2, S3). It
    /// expires after `signing.original_text_ttl_ms` and serves one submission.
    pub async fn signing_text(&self, request: RemitRequest) -> Result<SigningText, EngineError> {
        let shard = self.shard_of(request.header.customer);
        self.ask(shard, |reply| IssueTextRequest { request, reply })
            .await
    }

    /// An over-limit remittance with the terminal's signature over its issued text (S5):
    /// the key is looked up by certificate serial (S6), confirmed by the authentication
    /// server (S7), and the payment instruction goes to the financial company server.
    pub async fn remit_signed(
        &self,
        request: RemitRequest,
        signed: Signed,
    ) -> Result<Outcome, EngineError> {
        self.submit(Submission::RemitSigned(request, signed)).await
    }

    async fn submit(&self, submission: Submission) -> Result<Outcome, EngineError> {
        let (customer, request_no) = (submission.customer(), submission.request_no());
        let claimed = self.claim(customer, request_no)?;
        let result = self
            .ask(self.shard_of(customer), |reply| SubmitRequest {
                submission,
                reply,
            })
            .await;
        self.release_claim(claimed, customer, request_no, &result);
        result
    }

    /// Many charges and remittances at once: one message per shard, one answer for all,
    /// once each is answered. Each request is still its own flow with its own outcome, in
    /// the order given, exactly as if submitted alone (idempotency included); this only
    /// spares the caller a round trip per request. (A signed remittance's text is fetched
    /// with `signing_text` beforehand, as for `remit_signed`.)
    pub async fn submit_batch(
        &self,
        submissions: Vec<Submission>,
    ) -> Vec<Result<Outcome, EngineError>> {
        let (collector, done) = Collector::new(submissions.len());
        let mut claims = Vec::with_capacity(submissions.len());
        let mut by_shard: Vec<Vec<(usize, Submission)>> = vec![Vec::new(); self.inner.shards.len()];
        for (index, submission) in submissions.into_iter().enumerate() {
            let (customer, request_no) = (submission.customer(), submission.request_no());
            match self.claim(customer, request_no) {
                Ok(claimed) => {
                    claims.push((claimed, customer, request_no));
                    by_shard[self.shard_of(customer) as usize].push((index, submission));
                }
                Err(e) => {
                    claims.push((false, customer, request_no));
                    Reply::Slot(collector.clone(), index).send(Err(e));
                }
            }
        }
        self.send_batches(by_shard, |items| SubmitBatch {
            items,
            collector: collector.clone(),
        });
        drop(collector);
        let results = done.await.unwrap_or_else(|_| {
            claims
                .iter()
                .map(|_| Err(EngineError::ShuttingDown))
                .collect()
        });
        for ((claimed, customer, request_no), result) in claims.iter().zip(&results) {
            self.release_claim(*claimed, *customer, *request_no, result);
        }
        results
    }

    /// Sends each shard its part of a batch, through the shard's gate (one ticket per
    /// item); a part the gate refuses is answered with the refusal, item by item.
    fn send_batches<I, M>(&self, by_shard: Vec<Vec<I>>, make: impl Fn(Vec<I>) -> M)
    where
        M: BatchMessage + actix::Message<Result = ()> + Send + 'static,
        ShardActor: actix::Handler<Admitted<M>>,
    {
        for (shard, items) in by_shard.into_iter().enumerate() {
            if items.is_empty() {
                continue;
            }
            let weight = items.len();
            let message = make(items);
            match self.inner.gates[shard].enter(weight) {
                Ok(ticket) => self.inner.shards[shard].do_send(Admitted {
                    message,
                    _ticket: ticket,
                }),
                Err(error) => message.fail(error),
            }
        }
    }

    /// Claims a request number for a customer in the engine-wide registry: `Ok(true)` if
    /// this call claimed it, `Ok(false)` if the customer already held it.
    fn claim(&self, customer: CustomerId, request_no: RequestNo) -> Result<bool, EngineError> {
        match self.inner.registry.entry(request_no) {
            dashmap::Entry::Occupied(owner) if *owner.get() != customer => {
                Err(Rejection::RequestNoReused { request_no }.into())
            }
            dashmap::Entry::Occupied(_) => Ok(false),
            dashmap::Entry::Vacant(vacant) => {
                vacant.insert(customer);
                Ok(true)
            }
        }
    }

    /// Every error but a storage failure means nothing is on record for the request: a
    /// number this call claimed is free again.
    fn release_claim<T>(
        &self,
        claimed: bool,
        customer: CustomerId,
        request_no: RequestNo,
        result: &Result<T, EngineError>,
    ) {
        if claimed && matches!(result, Err(e) if !matches!(e, EngineError::Storage { .. })) {
            self.inner
                .registry
                .remove_if(&request_no, |_, owner| *owner == customer);
        }
    }

    /// A request with all its request-log entries and their states.
    pub async fn request(&self, request_no: RequestNo) -> Result<RequestView, EngineError> {
        let customer = *self
            .inner
            .registry
            .get(&request_no)
            .ok_or(Rejection::UnknownRequest(request_no))?;
        self.ask(self.shard_of(customer), |reply| ViewRequest {
            customer,
            request_no,
            reply,
        })
        .await?
        .ok_or_else(|| Rejection::UnknownRequest(request_no).into())
    }

    /// A stream of state changes (requests accepted, entries changing state, customers
    /// answered), each published once durable. A subscriber that falls more than
    /// `actors.events_buffer` events behind loses the oldest (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// Runs every supervisor pass (non-reflected search, reprocessing, recovery and
    /// refunds, sweeps) once on every shard, now, and answers when their work has settled.
    /// The supervisors also run on their own timers; this is for operators and tests.
    pub async fn supervise_once(&self) -> Result<SupervisionReport, EngineError> {
        let mut waits = Vec::new();
        for shard in &self.inner.shards {
            let (reply, wait) = oneshot::channel();
            shard.do_send(Supervise { reply });
            waits.push(wait);
        }
        let mut report = SupervisionReport::default();
        for wait in waits {
            report.add(&wait.await.map_err(|_| EngineError::ShuttingDown)?);
        }
        let _one = self.inner.rebalancing.lock().await;
        report.sweeps +=
            rebalance_slices(&self.inner.shards, &self.inner.config, self.shard_count()).await?;
        Ok(report)
    }

    /// A customer's balance, as of everything durable.
    pub async fn customer_balance(
        &self,
        customer: CustomerId,
    ) -> Result<CustomerBalance, EngineError> {
        match self
            .ask(self.shard_of(customer), |reply| Query {
                kind: QueryKind::Customer(customer),
                reply,
            })
            .await?
        {
            QueryAnswer::Customer(view) => Ok(*view),
            other => unreachable!("a customer query answers with a customer, got {other:?}"),
        }
    }

    /// Any account's balance as the engine books it: a customer's own accounts (its
    /// financial company account, its linked account) in its shard; a parent account or
    /// an external aggregate summed over every shard.
    pub async fn account_balance(&self, account: AccountId) -> Result<Money, EngineError> {
        let shards: Vec<u16> = match account {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                vec![self.shard_of(customer)]
            }
            _ => (0..self.shard_count()).collect(),
        };
        let mut total = Money::zero(self.inner.config.engine.currency);
        for shard in shards {
            let QueryAnswer::Account(balance) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Account(account),
                    reply,
                })
                .await?
            else {
                unreachable!("an account query answers with a balance");
            };
            total = total
                .checked_add(balance)
                .map_err(|e| EngineError::Internal(format!("a sum over the shards: {e}")))?;
        }
        Ok(total)
    }

    /// The reconciliation report (SPEC §5): every request log matched against its rail's
    /// statement, for one request date or for every day, every mismatch listed.
    pub async fn reconciliation(
        &self,
        date: Option<RequestDate>,
    ) -> Result<ReconciliationReport, EngineError> {
        let entries = self.all_entries().await?;
        let mut logs = Vec::new();
        for log in [
            LogKind::BankFirmRequestLog,
            LogKind::SecuritiesFirmRequestLog,
            LogKind::PaymentInstructionLog,
        ] {
            let lines = self.rail_statement(log).await?;
            logs.push(reconcile_log(log, &entries, &lines, date));
        }
        Ok(ReconciliationReport { date, logs })
    }

    /// One rail's statement of the day (SPEC §5): its executed requests whose entries
    /// carry that request date, and any line no entry of the engine accounts for.
    pub async fn statement(
        &self,
        log: LogKind,
        date: RequestDate,
    ) -> Result<DayStatement, EngineError> {
        let entries = self.all_entries().await?;
        let lines = self.rail_statement(log).await?;
        Ok(day_statement(log, &entries, &lines, date))
    }

    /// Every request-log entry of every shard, with its request's date.
    async fn all_entries(
        &self,
    ) -> Result<Vec<(omnibus_core::flow::LogEntry, RequestDate)>, EngineError> {
        let mut entries = Vec::new();
        for shard in 0..self.shard_count() {
            let mut from_seq = 1;
            loop {
                let QueryAnswer::Entries {
                    entries: mut page,
                    next_seq,
                } = self
                    .ask(shard, |reply| Query {
                        kind: QueryKind::Entries { from_seq },
                        reply,
                    })
                    .await?
                else {
                    unreachable!("an entries query answers with entries");
                };
                entries.append(&mut page);
                match next_seq {
                    Some(next) => from_seq = next,
                    None => break,
                }
            }
        }
        Ok(entries)
    }

    /// The statement of the rail a request log records calls to.
    async fn rail_statement(
        &self,
        log: LogKind,
    ) -> Result<Vec<omnibus_core::reconcile::StatementLine>, EngineError> {
        let rails = &self.inner.rails;
        let statement = match log {
            LogKind::BankFirmRequestLog => rails.bank_firm.statement().await,
            LogKind::SecuritiesFirmRequestLog => rails.securities_firm.statement().await,
            LogKind::PaymentInstructionLog => rails.financial_company.statement().await,
        };
        statement.map_err(|e| {
            EngineError::RailUnavailable(format!("cannot get the {log} statement: {e}"))
        })
    }

    /// Every parent account's balance: total and per slice.
    pub async fn parent_balances(&self) -> Result<Vec<ParentBalance>, EngineError> {
        let mut out: Vec<ParentBalance> = Vec::new();
        for shard in 0..self.shard_count() {
            let QueryAnswer::Slices(slices) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Slices,
                    reply,
                })
                .await?
            else {
                unreachable!("a slices query answers with slices");
            };
            for (parent, balance, _) in slices {
                match out.iter_mut().find(|p| p.parent == parent) {
                    Some(p) => {
                        p.total = p.total.checked_add(balance).map_err(|e| {
                            EngineError::Internal(format!("a sum over the shards: {e}"))
                        })?;
                        p.slices.push(balance);
                    }
                    None => out.push(ParentBalance {
                        parent,
                        total: balance,
                        slices: vec![balance],
                    }),
                }
            }
        }
        Ok(out)
    }

    /// One parent account's balance: total and per slice.
    pub async fn parent_balance(
        &self,
        parent: ParentAccount,
    ) -> Result<ParentBalance, EngineError> {
        self.parent_balances()
            .await?
            .into_iter()
            .find(|p| p.parent == parent)
            .ok_or(EngineError::Refused(
                omnibus_core::books::BooksError::UnknownParent(parent),
            ))
    }

    /// Each shard's conservation sum as kept while records apply, and as added up account
    /// by account; the two must agree. Walks every customer on each shard's thread: for
    /// audits and tests, not for a metrics scrape.
    pub async fn audit(&self) -> Result<Vec<(Money, Money)>, EngineError> {
        let mut sums = Vec::new();
        for shard in 0..self.shard_count() {
            let QueryAnswer::Audit { kept, scanned } = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Audit,
                    reply,
                })
                .await?
            else {
                unreachable!("an audit query answers with sums");
            };
            sums.push((kept, scanned));
        }
        Ok(sums)
    }

    /// The conservation check over every shard.
    pub async fn totals(&self) -> Result<Totals, EngineError> {
        let currency = self.inner.config.engine.currency;
        let mut totals = Totals {
            sum: Money::zero(currency),
            in_transit: Money::zero(currency),
            customers: 0,
            shards: Vec::new(),
        };
        for shard in 0..self.shard_count() {
            let QueryAnswer::Totals(t) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Totals,
                    reply,
                })
                .await?
            else {
                unreachable!("a totals query answers with totals");
            };
            let add = |a: Money, b: Money| {
                a.checked_add(b)
                    .map_err(|e| EngineError::Internal(format!("a sum over the shards: {e}")))
            };
            totals.sum = add(totals.sum, t.sum)?;
            totals.in_transit = add(totals.in_transit, t.in_transit)?;
            totals.customers += t.customers;
            totals.shards.push(*t);
        }
        Ok(totals)
    }

    /// Stops the engine abruptly, as a crash would: no draining, no flush of the records
    /// applied but not yet handed to the write-ahead log, flows cut wherever they are.
    /// Only what the WAL writer already had is written. For crash and simulation tests;
    /// a restart on the same directory recovers exactly what was acknowledged.
    pub fn halt(&self) {
        let Some(running) = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return;
        };
        running.stop();
        tracing::warn!("engine halted");
    }

    /// Stops taking work, lets every applied record become durable, syncs and closes each
    /// shard's log, and stops the actor system. Blocks; idempotent.
    pub fn shutdown(&self) -> Result<(), EngineError> {
        let Some(running) = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return Ok(());
        };
        let mut first_error = None;
        let waits: Vec<_> = self
            .inner
            .shards
            .iter()
            .map(|addr| {
                let (done, wait) = std::sync::mpsc::channel();
                addr.do_send(Shutdown { done });
                wait
            })
            .collect();
        for (shard, wait) in waits.into_iter().enumerate() {
            match wait.recv() {
                Ok(Ok(())) => {}
                Ok(Err(cause)) => {
                    first_error.get_or_insert(EngineError::Storage {
                        shard: shard as u16,
                        cause,
                    });
                }
                Err(_) => {}
            }
        }
        running.stop();
        tracing::info!("engine stopped");
        first_error.map_or(Ok(()), Err)
    }
}
