//! The saga runtime: requests carried out as sagas of request-log entries (SPEC §3, §4,
//! §5a). It knows steps, rails, timeouts and answers; it never names a product (a charge,
//! a remittance, a payment instruction, a sweep): what a step asks of its rail comes from
//! the instruments through [`RailCalls`], and what follows a step from the request's
//! instrument in the core (`omnibus_core::instruments`, pure functions).
//!
//! A request is validated and accepted by its customer's account actor (through the
//! instruments); from then on it moves entry by entry. For each entry the runtime writes
//! the entry (REQUESTED) and waits until it is durable, makes the outside call, waits at
//! most the rail's timeout, then reflects the answer (or the timeout) into the entry. What
//! follows (the next entry, what the customer is told) comes from
//! `omnibus_core::instruments::plan_after`, the same pure function a late answer, a supervisor's
//! confirmation and a restart use.
//!
//! The records of one move (the entry's event, the next entry, the answer) are applied in
//! one synchronous step, so they share one group commit; the caller is answered, and the
//! next call is made, only once they are durable. The answer is given at the earliest
//! durable point that fixes it: with the result that decides it, or with the entry of a
//! step whose every result tells the same (`omnibus_core::saga::fixed_answer`; a charge's
//! credit), one call and one group commit earlier.
//!
//! - `mod.rs`: [`SagaRuntime`], one per shard, and what it is built from.
//! - `calls.rs`: rail calls, their timeouts and the calls in flight per rail; the
//!   [`RailCalls`] seam to the instruments.
//! - `start.rs`: accepting a request and writing an entry; putting on record one that
//!   waited its turn past its deadline and never starts.
//! - `advance.rs`: an entry's event and whatever follows from it.
//! - `driver.rs`: driving a flow entry by entry, late answers, the restart.
//! - `callers.rs`: callers waiting for an answer, and answers past the deadline.
//! - `owed.rs`: steps a request owes whose entry could not be created yet.
//! - `events.rs`: state changes published once durable.
//! - `refill.rs`: the on-demand refill trigger a short parent slice raises.
//! - `turns.rs`: a customer's turn that lasts past an early answer.

mod advance;
mod callers;
mod calls;
mod driver;
mod events;
mod owed;
mod refill;
mod start;
mod turns;

use std::cell::{Cell, Ref, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use omnibus_core::ledger::ShardBooks;
use omnibus_core::saga::EntryId;
use omnibus_core::{Config, CustomerId, RequestNo};
use tokio::sync::{broadcast, oneshot};

use crate::api::{EngineEvent, Outcome};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::ledger::ShardLedger;
use crate::rails::Rails;
use crate::reply::Reply;

pub use self::advance::advance_when_room;
pub use self::calls::{Live, RailCalls};
pub use self::driver::{drive, resume_after_restart};
pub use self::refill::Refill;
pub use self::start::{not_carried_out, start};

/// A request's key within its shard: a request number is the customer's.
pub type RequestKey = (CustomerId, RequestNo);

/// A shard's saga runtime (was `FlowContext`), shared by its actors on the shard's thread.
/// Its fields are its own: the instruments, the supervisors and the shard reach the books
/// and the log through their own handles, and the runtime only through its methods.
pub struct SagaRuntime {
    shard: u16,
    ledger: Rc<RefCell<ShardLedger>>,
    rails: Rails,
    /// What each step asks of its rail (the instruments).
    calls: &'static dyn RailCalls,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    events: broadcast::Sender<EngineEvent>,
    /// Callers waiting for a request's answer (the first submission and any resubmission).
    callers: RefCell<HashMap<RequestKey, Vec<Reply<Outcome>>>>,
    /// Flows being driven live, and late answers being waited for.
    sagas: Cell<usize>,
    late: Cell<usize>,
    /// Requests that may owe a step whose entry could not be created.
    owed: RefCell<BTreeSet<RequestKey>>,
    /// Events raised by the step being applied, published once it is durable.
    pending_events: RefCell<Vec<EngineEvent>>,
    /// Requests refused at acceptance because a parent slice could not fund them.
    short_slices: Cell<u64>,
    /// Calls to each outside system waiting for their answer within their timeout, by
    /// request log (bounded by `rails.<rail>.in_flight_max` for new requests).
    calls_in_flight: Rc<[Cell<usize>; 3]>,
    /// Asks for a refill of the shard's parent slices now (`refill.rs`).
    refill: Rc<Refill>,
    /// Customers whose request was answered before the result of the step that fixed its
    /// answer, and who waits for that result (`turns.rs`). At most one per customer, and
    /// `actors.callers_per_request_max` readers each.
    turns: RefCell<HashMap<CustomerId, turns::HeldTurn>>,
}

impl SagaRuntime {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shard: u16,
        ledger: Rc<RefCell<ShardLedger>>,
        rails: Rails,
        calls: &'static dyn RailCalls,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        events: broadcast::Sender<EngineEvent>,
        refill: Rc<Refill>,
    ) -> Self {
        Self {
            short_slices: Cell::new(0),
            calls_in_flight: Rc::new([Cell::new(0), Cell::new(0), Cell::new(0)]),
            refill,
            shard,
            ledger,
            rails,
            calls,
            clock,
            config,
            events,
            callers: RefCell::new(HashMap::new()),
            sagas: Cell::new(0),
            late: Cell::new(0),
            owed: RefCell::new(BTreeSet::new()),
            pending_events: RefCell::new(Vec::new()),
            turns: RefCell::new(HashMap::new()),
        }
    }

    pub fn shard(&self) -> u16 {
        self.shard
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The outside systems (the supervisors' notices go to the sink through them).
    pub fn rails(&self) -> &Rails {
        &self.rails
    }

    /// The shard's books, to read: every change goes through the runtime's steps.
    pub fn books(&self) -> Ref<'_, ShardBooks> {
        Ref::map(self.ledger.borrow(), ShardLedger::books)
    }

    /// Flows driven live right now.
    pub fn sagas_in_flight(&self) -> usize {
        self.sagas.get()
    }

    /// Counts a flow among those in flight (bounded by `actors.sagas_in_flight_max`), from
    /// before its acceptance (a signed remittance's key check) until [`Self::flow_ended`].
    pub fn flow_started(&self) {
        self.sagas.set(self.sagas.get() + 1);
    }

    pub fn flow_ended(&self) {
        self.sagas.set(self.sagas.get() - 1);
    }

    /// Requests refused at acceptance because a parent slice could not fund them.
    pub fn short_slices(&self) -> u64 {
        self.short_slices.get()
    }

    /// A oneshot that fires once everything applied so far is durable.
    pub fn durable(&self) -> Barrier {
        let (tx, rx) = oneshot::channel();
        self.ledger.borrow_mut().after_durable(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx
    }
}

/// Records one step of a flow writes at most: an entry's event, the next entry, the answer.
pub const STEP_RECORDS: usize = 3;
/// Records an acceptance writes at most: the request, its first entry, an answer.
pub const ACCEPT_RECORDS: usize = 3;

/// Fires once every record applied before it was taken is durable.
pub type Barrier = oneshot::Receiver<Result<(), EngineError>>;

/// What `advance` moved: the next entry (to be driven once durable), and the barrier.
pub struct Moved {
    pub next: Option<EntryId>,
    pub durable: Barrier,
}
