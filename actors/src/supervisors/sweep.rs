//! Settlement sweeps (SPEC §2: B1, B2, Y2, Y3): moving funds between the shard's slices of
//! the parent accounts so each stays between its configured low and high marks.
//!
//! Each parent account kind has `low_mark <= target <= high_mark` for the whole account;
//! a slice's marks are its share (split evenly over the shards). A slice that leaves its
//! band is moved back to its target:
//!
//! - B1: a withdrawal firm slice above its high mark sends the excess to collection;
//! - B2: a `fin_parent` slice below its low mark is refilled from collection;
//! - Y2: a `fin_parent` slice above its high mark sends the excess to collection;
//! - Y3: a deposit firm slice below its low mark is refilled from collection.
//!
//! B3 and Y1 (the settlement of `fin_parent` with the customer accounts) move no money in
//! the engine's books: the real-time A2 and X1 postings already booked it, when the
//! securities firm system executed them. Collection pays out only what it holds now above
//! its own low mark: money on its way to it (a B1 or Y2 not yet executed) is not counted,
//! so a refill is never planned that collection cannot hold. When collection falls short
//! and the same pass sends it money, the pass plans again once that money has arrived (at
//! most [`ROUNDS_MAX`] rounds). Moving money between the slices of one parent account in
//! different shards is `omnibus_core::balance` (the engine's `Balancer`).
//!
//! A sweep is executed at the bank like any outside call: it is the house's own request
//! (no customer) with one `Settlement` entry, written before the bank firm system is
//! asked to transfer, holding its amount on the debited slice while in flight, confirmed
//! by request id if the answer does not come, and booked (both legs) only when the bank
//! executed it. A refused sweep moves nothing and owes nothing: the next pass plans again.
//!
//! ## When sweeps run: on demand, and on the timer
//!
//! A pass runs every `supervisor.sweep_interval_ms`, and, with `supervisor.refill_on_demand`,
//! also as soon as a slice needs one ([`Refill`]): after each group commit the shard looks
//! at its slices ([`watch`]), and one that left its band (below its low mark, or above its
//! high mark where a sweep drains it) wakes the shard's supervisor; a request refused
//! `parent_slice_short` wakes it too. The wake-up is a permit, not a queue: however many
//! arrive while a pass runs, one more pass follows, at least `supervisor.refill_min_gap_ms`
//! after the last one. Nothing on the shard's thread waits for it. A slice still below its
//! low mark after the pass (collection could not refill it) wakes the engine's `Balancer`,
//! which moves money to it from other shards' slices of the same account above their target.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::ledger::{ParentPlan, ShardBooks};
use omnibus_core::request_log::EntryState;
use omnibus_core::{Amount, ParentAccount};
use rust_decimal::Decimal;

use super::SupervisionReport;
use crate::instruments::start_settlement;
use crate::ledger::ShardLedger;
use crate::saga::{drive, Refill, SagaRuntime};

/// Most rounds of one pass: a round that sends money to collection is followed by one
/// that can pass it on to a slice collection could not refill in full.
pub const ROUNDS_MAX: usize = 3;

/// A slice's band, in its share of the whole-account marks.
struct Band {
    low: Decimal,
    target: Decimal,
    high: Decimal,
}

fn band(plan: &ParentPlan, shard: u16, parent: ParentAccount) -> Band {
    let k = plan.kind(parent);
    Band {
        low: plan.slice_share(k.low_mark, shard),
        target: plan.slice_share(k.target, shard),
        high: plan.slice_share(k.high_mark, shard),
    }
}

/// What one round of a sweep pass does in this shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepPlan {
    /// The postings, each from one slice to another (`from`, `to`, amount).
    pub moves: Vec<(ParentAccount, ParentAccount, Amount)>,
    /// A slice below its low mark that collection cannot refill in full now.
    pub short: bool,
    /// Some of the moves send money to collection (B1, Y2), which a next round can pass on.
    pub feeds_collection: bool,
}

/// The postings that bring this shard's slices back into their bands.
pub fn plan_sweeps(flow: &SagaRuntime) -> SweepPlan {
    plan_for(&flow.books())
}

fn plan_for(books: &ShardBooks) -> SweepPlan {
    let plan = books.plan();
    let shard = books.shard();
    let available = |p: ParentAccount| books.slice(p).map(|s| s.balance - s.held);
    let currency = books.currency();
    let amount = |value: Decimal| Amount::new(currency, value.trunc()).ok();
    let mut out = SweepPlan::default();
    // Slices in a fixed order (fin_parent first: every charge needs it), whatever order
    // the books keep them in.
    let mut slices: Vec<ParentAccount> = books.slices().map(|(p, _)| *p).collect();
    slices.sort_by_key(|p| (*p != ParentAccount::FinParent, *p));
    for &parent in &slices {
        let (Some(avail), b) = (available(parent), band(plan, shard, parent)) else {
            continue;
        };
        // B1: the withdrawal firm accounts hand what they collected to collection.
        // Y2: fin_parent hands its excess to collection.
        let drains = matches!(
            parent,
            ParentAccount::WithdrawalFirm(_) | ParentAccount::FinParent
        ) && avail > b.high;
        if drains {
            if let Some(a) = amount(avail - b.target) {
                out.feeds_collection = true;
                out.moves.push((parent, ParentAccount::Collection, a));
            }
        }
    }
    // B2 and Y3: collection refills fin_parent and the deposit firm accounts, as far as it
    // holds money now above its own low mark.
    let collection_low = band(plan, shard, ParentAccount::Collection).low;
    let mut spare = available(ParentAccount::Collection).unwrap_or_default() - collection_low;
    for &parent in &slices {
        let (Some(avail), b) = (available(parent), band(plan, shard, parent)) else {
            continue;
        };
        let refill = matches!(
            parent,
            ParentAccount::FinParent | ParentAccount::DepositFirm(_)
        ) && avail < b.low;
        if !refill {
            continue;
        }
        let need = b.target - avail;
        let give = need.min(spare).trunc();
        if let Some(a) = amount(give) {
            spare -= a.value();
            out.moves.push((ParentAccount::Collection, parent, a));
        }
        if give < need {
            out.short = true;
        }
    }
    out
}

/// Whether a slice that collection refills (fin_parent, a deposit firm account) or
/// collection itself is below its low mark: what another shard's slices may make good.
pub fn below_low_mark(books: &ShardBooks) -> bool {
    let (plan, shard) = (books.plan(), books.shard());
    let below = books.slices().any(|(parent, s)| {
        matches!(
            parent,
            ParentAccount::FinParent | ParentAccount::DepositFirm(_) | ParentAccount::Collection
        ) && s.balance - s.held < band(plan, shard, *parent).low
    });
    below
}

/// Whether a slice has left its band in a way a sweep pass acts on: fin_parent, a deposit
/// firm account or collection below its low mark, a withdrawal firm account or fin_parent
/// above its high mark.
fn out_of_band(books: &ShardBooks) -> bool {
    let (plan, shard) = (books.plan(), books.shard());
    books.slices().any(|(parent, s)| {
        let available = s.balance - s.held;
        let b = band(plan, shard, *parent);
        match parent {
            ParentAccount::FinParent => available < b.low || available > b.high,
            ParentAccount::DepositFirm(_) | ParentAccount::Collection => available < b.low,
            ParentAccount::WithdrawalFirm(_) => available > b.high,
            ParentAccount::FinDeposit => false,
        }
    })
}

/// Called by the shard after each group commit: a slice out of its band asks for a sweep
/// pass now (with `supervisor.refill_on_demand`). A few comparisons per slice; never waits.
pub fn watch(refill: &Refill, ledger: &RefCell<ShardLedger>) {
    if !refill.enabled() {
        return;
    }
    if out_of_band(ledger.borrow().books()) {
        refill.raise();
    }
}

/// Runs the sweeps this shard needs now, in rounds (see the module's documentation), and
/// answers when they are final (or left UNKNOWN for the confirm pass).
pub async fn sweep_pass(
    flow: &Rc<SagaRuntime>,
    ledger: &RefCell<ShardLedger>,
) -> SupervisionReport {
    let mut report = SupervisionReport::default();
    for _ in 0..ROUNDS_MAX {
        let plan = plan_sweeps(flow);
        if plan.moves.is_empty() {
            break;
        }
        let made = execute(flow, ledger, plan.moves).await;
        report.sweeps += made;
        if !(plan.short && plan.feeds_collection && made > 0) {
            break;
        }
    }
    report
}

/// Starts each sweep and drives it through the bank firm system; answers how many the
/// bank executed.
async fn execute(
    flow: &Rc<SagaRuntime>,
    ledger: &RefCell<ShardLedger>,
    moves: Vec<(ParentAccount, ParentAccount, Amount)>,
) -> u64 {
    let mut started = Vec::new();
    for (from, to, amount) in moves {
        match start_settlement(flow, ledger, from, to, amount) {
            Ok((id, durable)) => started.push((id, durable)),
            Err(e) => {
                tracing::warn!(shard = flow.shard(), %from, %to, %amount, error = %e, "sweep refused")
            }
        }
    }
    let drives = started.into_iter().map(|(id, durable)| {
        let flow = flow.clone();
        async move {
            if matches!(durable.await, Ok(Ok(()))) {
                drive(flow.clone(), id, None).await;
            }
            let state = flow.books().entry(id).map(|e| e.state);
            u64::from(state == Some(EntryState::Success))
        }
    });
    join_all(drives).await.into_iter().sum()
}
