//! The shard actor: one per shard, on the shard's own arbiter thread.
//!
//! It is the shard's router (every request for the shard's customers arrives here: raw
//! postings go to the actor owning the debited account, charges and remittances to the
//! customer's account actor), the owner of the shard's ledger (it
//! hands batches to the WAL writer and answers callers when the writer reports them
//! durable), the activator and passivator of customer account actors, the end point of
//! transfers between shards, and the taker of snapshots.
//!
//! - `mod.rs`: the [`ShardActor`] and its wiring when it starts.
//! - `protocol.rs`: the messages the engine sends a shard (data only).
//! - `router.rs`: their handlers: raw postings to the actor owning the debited account,
//!   charges, remittances and signing texts to the customer's account actor.
//! - `residency.rs`: activation and passivation of customer account actors.
//! - `transfers.rs`: postings between shards (the source's and the destination's side).
//! - `snapshots.rs`: the books' cut, handed to the WAL off the shard's thread.
//! - `queries.rs`: balances, totals, request views and reconciliation pages.
//! - `holds.rs`: two-phase holds: create, post, void, the holds queries, and the
//!   periodic expiry pass.
//! - `lifecycle.rs`: flushing to the WAL, durability, shutdown.
//! - `merchants.rs`: the merchants every shard holds: writing one, listing them.
//! - `cards.rs`: the prepaid cards of the shard's customers: issuing and reading one.
//! - `payments.rs`: `payment_log`: authorizing a card payment, recording and reading one.
//! - `relay.rs`: the virtual-account relay of the partners whose shard this is.

mod api_keys;
mod archiving;
mod cards;
mod division_payments;
mod divisions;
mod holds;
mod lifecycle;
mod members;
mod merchants;
mod payments;
mod protocol;
mod queries;
mod relay;
mod residency;
mod router;
mod snapshots;
mod transfers;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context};
use omnibus_core::{Config, CustomerId, ParentAccount, RequestNo};
use tokio::sync::broadcast;

use crate::accounts::{CustomerActor, Deliveries, ParentSliceActor};
use crate::api::EngineEvent;
use crate::clock::Clock;
use crate::instruments::{Instruments, STEP_CALLS};
use crate::ledger::ShardLedger;
use crate::rails::Rails;
use crate::saga::{self, Refill, SagaRuntime};
use crate::supervisors::{Prune, SupervisorActor};

pub use self::protocol::{
    ActivateDivision, AuthorizeCardPayment, AuthorizeDivisionPayment, BatchMessage, CardQuery,
    CardUse, ChangeCard, ChangeDivision, ChangeDivisionPin, CreateHold, DivisionAuthorizations,
    DivisionQuery, HoldsQuery, HoldsWanted, IssueCard, IssueDivisions, IssueTextRequest,
    MemberQuery, MerchantsQuery, MoveSlice, NewDivision, Open, PaymentQuery, Peers, Post,
    PostBatch, PostHold, Query, QueryAnswer, QueryKind, RecordPayment, SetApiKey, SetMember,
    SetMerchant, SetStatus, Shutdown, SubmitBatch, SubmitRequest, Supervise, ViewRequest, VoidHold,
};
pub use self::relay::{RelayAnswer, RelayCommand, RelayOp};
pub use self::transfers::Redeliver;
use self::transfers::Transfers;

/// A live customer account actor and what the shard knows about its use.
struct Live {
    addr: Addr<CustomerActor>,
    last_used_tick: u64,
    /// Charges and remittances handed to the actor and not yet answered by it or handed
    /// on: counted up here as they are sent, down by the actor (`residency.rs`).
    in_flight: Rc<Cell<u32>>,
}

pub struct ShardActor {
    id: u16,
    shards: u16,
    config: Arc<Config>,
    ledger: Rc<RefCell<ShardLedger>>,
    /// The shard's saga runtime, and the instruments that start flows on it.
    saga: Rc<SagaRuntime>,
    instruments: Rc<Instruments>,
    /// Raised when a parent slice leaves its band; the supervisors' sweep waits on it.
    refill: Rc<Refill>,
    /// The engine-wide request-number registry, handed to the supervisors' prune.
    registry: Arc<dashmap::DashMap<RequestNo, CustomerId>>,
    supervisor: Option<Addr<SupervisorActor>>,
    live: HashMap<CustomerId, Live>,
    parents: HashMap<ParentAccount, Addr<ParentSliceActor>>,
    peers: Vec<Addr<ShardActor>>,
    /// This shard's address as its account actors see it: where their jobs send a
    /// transfer's durable debit. Set when the shard starts.
    deliveries: Option<Deliveries>,
    /// Transfers to other shards on their way, and their callers.
    transfers: Transfers,
    /// A coarse clock for passivation, advanced by the passivation timer.
    tick: u64,
    snapshot_running: bool,
    /// A clean shutdown's snapshot was taken (or is being written): see `lifecycle.rs`.
    shutdown_snapshot: bool,
    stopping: Option<std::sync::mpsc::Sender<Result<(), String>>>,
    stats: ShardStats,
    /// Settled requests on their way to the archive (`archiving.rs`).
    archiving: archiving::Archiving,
}

/// Counters a shard keeps for metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub activations: u64,
    pub passivations: u64,
    pub snapshots: u64,
    /// The longest the shard's thread spent cutting a snapshot (microseconds): the part
    /// of a snapshot that stops the shard; copying out and serializing run elsewhere.
    pub snapshot_pause_max_us: u64,
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
        let refill = Rc::new(Refill::new(config.supervisor.refill_on_demand));
        let authentication = rails.authentication.clone();
        let saga = Rc::new(SagaRuntime::new(
            id,
            ledger.clone(),
            rails,
            &STEP_CALLS,
            clock,
            config.clone(),
            events,
            refill.clone(),
        ));
        let instruments = Rc::new(Instruments::new(
            saga.clone(),
            ledger.clone(),
            authentication,
        ));
        Self {
            id,
            shards,
            config,
            ledger,
            saga,
            instruments,
            refill,
            registry,
            supervisor: None,
            live: HashMap::new(),
            parents: HashMap::new(),
            peers: Vec::new(),
            deliveries: None,
            transfers: Transfers::default(),
            tick: 0,
            snapshot_running: false,
            shutdown_snapshot: false,
            stopping: None,
            stats: ShardStats::default(),
            archiving: archiving::Archiving::default(),
        }
    }

    /// Connects the shard's refill trigger to the engine's `Balancer`
    /// (`supervisors/sweep.rs`).
    pub(crate) fn with_balancer(self, balancer: Arc<tokio::sync::Notify>) -> Self {
        self.refill.connect_balancer(balancer);
        self
    }

    /// Where jobs send a transfer's durable debit: this shard.
    fn deliveries(&self) -> &Deliveries {
        self.deliveries
            .as_ref()
            .expect("the shard's address is known once it started")
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
        let resumed = saga::resume_after_restart(&self.saga);
        let owed = self.saga.scan_owed();
        if resumed + owed > 0 {
            tracing::info!(
                shard = self.id,
                unknown = resumed,
                owed,
                "calls in flight at the crash are UNKNOWN, to be confirmed; owed steps will be retried"
            );
        }
        self.supervisor = Some(
            SupervisorActor::new(
                self.saga.clone(),
                self.ledger.clone(),
                self.refill.clone(),
                Prune::new(self.registry.clone()),
            )
            .start(),
        );
        // Callers past their deadline, and requests a crash left unanswered, are answered
        // within a tenth of the deadline (at most a second late).
        let deadline_tick_ms = (self.config.actors.answer_deadline_ms / 10).clamp(1, 1_000);
        ctx.run_interval(Duration::from_millis(deadline_tick_ms), |shard, _| {
            shard.saga.answer_overdue();
        });
        // Transfers to other shards not yet acknowledged are delivered again, until they
        // are (a destination that was overloaded or restarting drops a delivery).
        let retry_ms = self.config.actors.transfer_retry_ms;
        ctx.run_interval(Duration::from_millis(retry_ms), move |shard, _| {
            shard.redeliver_overdue(retry_ms);
        });
        // Holds that fell due (while the engine was down, too) expire now and every
        // `actors.hold_expiry_interval_ms`.
        self.start_hold_expiry(ctx);
        // Settled requests leave memory for the archive every `archive.interval_ms`.
        self.start_archiving(ctx);
        // Four ticks make one idle period.
        let tick_ms = (self.config.actors.passivate_idle_ms / 4).max(1);
        ctx.run_interval(Duration::from_millis(tick_ms), |shard, _| {
            shard.tick += 1;
            shard.passivate_idle();
        });
    }
}
