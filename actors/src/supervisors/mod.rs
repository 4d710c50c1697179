//! The supervisors (SPEC §5): timers that move every open request-log entry to a final
//! state and make sure no won is lost.
//!
//! - **Non-reflected search** (seed FIG. 13, 14): UNKNOWN entries old enough to have had
//!   their late answer (`window_min_age_ms`) are confirmed with their rail, by request id,
//!   and moved on exactly as the SPEC §4 table says. Entries older than the window
//!   (`window_max_age_ms`) are confirmed too, and counted as overdue.
//! - **Reprocessing** (FIG. 15): FAIL_TRY_AGAIN charge credits, after S112 (confirm the last
//!   attempt was not executed after all: no double payment), S113 (the securities
//!   subscription is valid) and S114 (failures within `reprocess_failures_max`); a failed
//!   check gives up, and giving up refunds the linked account.
//! - **Recovery and refunds**: FAIL_TRY_AGAIN recoveries and refunds are retried, with a
//!   backoff doubling from `retry_backoff_min_ms` to `retry_backoff_max_ms`, until they
//!   succeed; steps a request owes but whose entry could not be created are created.
//! - **Sweeps**: see `sweep.rs`; besides their timer they run on demand, when a parent
//!   slice leaves its band. With them, once a day, the **prune** (`prune.rs`), and at
//!   each timed pass the merchants' **payouts** (`payout.rs`) and the cards' next-day
//!   **statements** (`statements.rs`).
//!
//! Every action a supervisor takes is a record in the WAL before the outside call it
//! leads to (a confirmation's event, a retry's new REQUESTED attempt, a recovery's entry),
//! so a crash in the middle of a supervisor step leaves an entry that the next pass, after
//! the restart, finishes correctly.
//!
//! - `mod.rs`: [`SupervisorActor`], its timers, one pass of each kind at a time.
//! - `report.rs`: [`SupervisionReport`].
//! - `payments.rs`: payments left REQUESTED (a crash, a caller gone), finished.
//! - `confirm.rs`, `reprocess.rs`, `recovery.rs`, `sweep.rs`, `prune.rs`, `expiry.rs`: one
//!   pass each.
//!
//! The supervisors are hosted by their shard (started by it, on its thread, handed the
//! on-demand refill trigger and `supervise_once`), so they sit below it in the layers and
//! never name it. They work through the saga runtime (every entry they move goes through
//! its `advance`) and the instruments (a sweep is a settlement). The engine-wide balancer,
//! which asks every shard by address, is the engine's (`engine/balancer.rs`): among the
//! supervisors it would have to name the shard from below.

mod confirm;
mod expiry;
mod payments;
mod payout;
mod prune;
mod recovery;
mod relay;
pub use relay::start_credits_of;
mod report;
mod reprocess;
mod statements;
mod sweep;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, Handler, Message};
use omnibus_core::request_log::Event;
use omnibus_core::saga::EntryId;
use tokio::sync::oneshot;

use crate::ledger::ShardLedger;
use crate::saga::{advance_when_room, drive, Moved, Refill, SagaRuntime};

pub use self::prune::Prune;
pub use self::report::SupervisionReport;
pub use self::sweep::watch;

/// The shard's supervisors.
pub struct SupervisorActor {
    parts: Parts,
}

/// What every pass of a shard's supervisors works with, cloned (reference counts only)
/// into each pass.
#[derive(Clone)]
struct Parts {
    /// The saga runtime every entry a pass moves goes through.
    flow: Rc<SagaRuntime>,
    /// The shard's ledger, which the sweeps' settlements and the prune write to.
    ledger: Rc<RefCell<ShardLedger>>,
    /// The on-demand refill trigger the sweep pass waits on.
    refill: Rc<Refill>,
    prune: Rc<Prune>,
    /// The cards' expiries (`expiry.rs`).
    expiry: Rc<expiry::Expiry>,
    /// Entries a pass is working on, so two passes never act on one entry at once.
    busy: Rc<RefCell<HashSet<EntryId>>>,
    running: Rc<Passes>,
}

/// Which passes are running: each kind runs at most once at a time. A sweep pass asked
/// for while another runs (by the timer, on demand, by `SuperviseNow`) waits for it and
/// then runs, rather than being skipped: what it was asked for may be after the other
/// pass planned.
#[derive(Default)]
struct Passes {
    confirm: Cell<bool>,
    reprocess: Cell<bool>,
    recovery: Cell<bool>,
    sweep: tokio::sync::Mutex<()>,
}

impl SupervisorActor {
    pub fn new(
        flow: Rc<SagaRuntime>,
        ledger: Rc<RefCell<ShardLedger>>,
        refill: Rc<Refill>,
        prune: Prune,
    ) -> Self {
        Self {
            parts: Parts {
                flow,
                ledger,
                refill,
                prune: Rc::new(prune),
                expiry: Rc::default(),
                busy: Rc::default(),
                running: Rc::default(),
            },
        }
    }
}

#[derive(Clone, Copy)]
enum Pass {
    Confirm,
    Reprocess,
    Recovery,
    Sweep,
}

impl Passes {
    /// The running flag of a pass other than the sweep (which has its lock).
    fn flag(&self, pass: Pass) -> &Cell<bool> {
        match pass {
            Pass::Confirm => &self.confirm,
            Pass::Reprocess => &self.reprocess,
            Pass::Recovery => &self.recovery,
            Pass::Sweep => unreachable!("the sweep pass has its lock, not a flag"),
        }
    }
}

/// Runs one pass of `pass` unless one is already running.
async fn run_pass(parts: Parts, pass: Pass) -> SupervisionReport {
    let Parts {
        flow,
        ledger,
        prune,
        expiry,
        busy,
        running,
        ..
    } = parts;
    if let Pass::Sweep = pass {
        let _one_at_a_time = running.sweep.lock().await;
        let mut report = sweep::sweep_pass(&flow, &ledger).await;
        report.payouts = payout::payout_pass(&flow, &ledger).await;
        report.notices = statements::statement_pass(&flow, &ledger).await;
        report.payout_notices = statements::payout_notice_pass(&flow, &ledger).await;
        report.pruned = prune.run(&flow, &ledger).await;
        report.cards_expired = expiry.run(&flow, &ledger);
        report.payments_finished = payments::finish_requested(&flow, &ledger);
        report.leases_expired = relay::expire_leases(&flow, &ledger);
        report.va_credits_started = relay::credit_pass(&flow, &ledger).await;
        report.va_credits_due = flow.books().va_credits_due().count() as u64;
        return report;
    }
    if running.flag(pass).replace(true) {
        return SupervisionReport::default();
    }
    let report = match pass {
        Pass::Confirm => confirm::confirm_pass(&flow, &busy).await,
        Pass::Reprocess => reprocess::reprocess_pass(&flow, &busy).await,
        Pass::Recovery => recovery::recovery_pass(&flow, &busy).await,
        Pass::Sweep => unreachable!("the sweep pass returned above"),
    };
    running.flag(pass).set(false);
    report
}

/// Sweep passes raised on demand (`supervisor.refill_on_demand`, see `sweep.rs`): one
/// each time the shard's refill trigger is raised, at least `supervisor.refill_min_gap_ms`
/// apart. A slice still below its low mark afterwards (collection could not refill it)
/// asks the engine's `Balancer` for money from other shards' slices.
async fn refill_on_demand(parts: Parts) {
    let Parts {
        flow,
        ledger,
        refill,
        running,
        ..
    } = parts;
    let gap = Duration::from_millis(flow.config().supervisor.refill_min_gap_ms);
    loop {
        refill.wanted().await;
        let report = {
            let _one_at_a_time = running.sweep.lock().await;
            sweep::sweep_pass(&flow, &ledger).await
        };
        if report.sweeps > 0 {
            tracing::debug!(
                shard = flow.shard(),
                sweeps = report.sweeps,
                "parent slices refilled on demand"
            );
        }
        if sweep::below_low_mark(&flow.books()) {
            refill.raise_balancer();
        }
        tokio::time::sleep(gap).await;
    }
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let s = self.parts.flow.config().supervisor.clone();
        for (pass, every_ms) in [
            (Pass::Confirm, s.non_reflected_interval_ms),
            (Pass::Reprocess, s.reprocess_interval_ms),
            (Pass::Recovery, s.recovery_interval_ms),
            (Pass::Sweep, s.sweep_interval_ms),
        ] {
            ctx.run_interval(Duration::from_millis(every_ms), move |actor, _| {
                let parts = actor.parts.clone();
                actix::spawn(async move {
                    let report = run_pass(parts, pass).await;
                    if report.overdue > 0 {
                        tracing::warn!(
                            overdue = report.overdue,
                            "UNKNOWN entries older than the supervisor window were confirmed"
                        );
                    }
                });
            });
        }
        if self.parts.refill.enabled() {
            let on_demand = refill_on_demand(self.parts.clone());
            ctx.spawn(actix::fut::wrap_future::<_, Self>(on_demand));
        }
    }
}

/// Run every pass once, now, and answer when their work has settled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SuperviseNow {
    pub reply: oneshot::Sender<SupervisionReport>,
}

impl Handler<SuperviseNow> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: SuperviseNow, _: &mut Context<Self>) {
        let parts = self.parts.clone();
        actix::spawn(async move {
            let mut report = SupervisionReport::default();
            // In order: confirmations first (they settle what the others depend on).
            for pass in [Pass::Confirm, Pass::Reprocess, Pass::Recovery, Pass::Sweep] {
                let r = run_pass(parts.clone(), pass).await;
                report.add(&r);
            }
            let flow = &parts.flow;
            let books = flow.books();
            let (requested, unknown, try_again) = books.open_entry_counts();
            report.open_requested = requested as u64;
            report.open_unknown = unknown as u64;
            report.open_try_again = try_again as u64;
            report.owed = flow.owed_count(&books) as u64;
            drop(books);
            let _ = msg.reply.send(report);
        });
    }
}

/// Marks an entry busy for the life of the guard.
struct BusyGuard {
    busy: Rc<RefCell<HashSet<EntryId>>>,
    id: EntryId,
}

impl BusyGuard {
    fn take(busy: &Rc<RefCell<HashSet<EntryId>>>, id: EntryId) -> Option<BusyGuard> {
        busy.borrow_mut().insert(id).then(|| BusyGuard {
            busy: busy.clone(),
            id,
        })
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.borrow_mut().remove(&self.id);
    }
}

/// Applies `event` and drives whatever follows, until nothing follows live.
async fn move_on(
    flow: &Rc<SagaRuntime>,
    id: EntryId,
    event: Event,
    drive_entry_itself: bool,
) -> bool {
    let Some(Moved { next, durable, .. }) = advance_when_room(flow, id, event).await else {
        return false;
    };
    if !matches!(durable.await, Ok(Ok(()))) {
        return false;
    }
    if drive_entry_itself {
        drive(flow.clone(), id, None).await;
    }
    if let Some(next) = next {
        drive(flow.clone(), next, None).await;
    }
    true
}

fn sum(reports: Vec<SupervisionReport>) -> SupervisionReport {
    reports
        .iter()
        .fold(SupervisionReport::default(), |mut total, r| {
            total.add(r);
            total
        })
}
