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
//! securities firm system executed them. Collection pays out only what it holds above its
//! own low mark. Moving money between the slices of one parent account in different shards
//! is `balance.rs`.
//!
//! A sweep is executed at the bank like any outside call: it is the house's own request
//! (no customer) with one `Settlement` entry, written before the bank firm system is
//! asked to transfer, holding its amount on the debited slice while in flight, confirmed
//! by request id if the answer does not come, and booked (both legs) only when the bank
//! executed it. A refused sweep moves nothing and owes nothing: the next pass plans again.

use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::request_log::EntryState;
use omnibus_core::{Amount, ParentAccount};
use rust_decimal::Decimal;

use crate::flow::{drive, FlowContext};
use crate::supervisor::SupervisionReport;

/// A slice's band, in its share of the whole-account marks.
struct Band {
    low: Decimal,
    target: Decimal,
    high: Decimal,
}

/// The postings that bring this shard's slices back into their bands.
pub fn plan_sweeps(flow: &FlowContext) -> Vec<(ParentAccount, ParentAccount, Amount)> {
    let ledger = flow.ledger.borrow();
    let books = ledger.books();
    let plan = books.plan();
    let shard = books.shard();
    let band = |p: ParentAccount| {
        let k = plan.kind(p);
        Band {
            low: plan.slice_share(k.low_mark, shard),
            target: plan.slice_share(k.target, shard),
            high: plan.slice_share(k.high_mark, shard),
        }
    };
    let available = |p: ParentAccount| books.slice(p).map(|s| s.balance - s.held);
    let currency = books.currency();
    let amount = |value: Decimal| Amount::new(currency, value.trunc()).ok();
    let mut moves = Vec::new();
    let mut collection = available(ParentAccount::Collection).unwrap_or_default();
    let collection_low = band(ParentAccount::Collection).low;
    for (parent, _) in books.slices() {
        let parent = *parent;
        let (Some(avail), b) = (available(parent), band(parent)) else {
            continue;
        };
        match parent {
            // B1: the withdrawal firm accounts hand what they collected to collection.
            ParentAccount::WithdrawalFirm(_) if avail > b.high => {
                if let Some(a) = amount(avail - b.target) {
                    collection += a.value();
                    moves.push((parent, ParentAccount::Collection, a));
                }
            }
            // Y2: fin_parent hands its excess to collection.
            ParentAccount::FinParent if avail > b.high => {
                if let Some(a) = amount(avail - b.target) {
                    collection += a.value();
                    moves.push((parent, ParentAccount::Collection, a));
                }
            }
            _ => {}
        }
    }
    for (parent, _) in books.slices() {
        let parent = *parent;
        let (Some(avail), b) = (available(parent), band(parent)) else {
            continue;
        };
        // B2 and Y3: collection refills fin_parent and the deposit firm accounts, as far
        // as it holds money above its own low mark.
        let refill = matches!(
            parent,
            ParentAccount::FinParent | ParentAccount::DepositFirm(_)
        ) && avail < b.low;
        if refill {
            let spare = collection - collection_low;
            let want = (b.target - avail).min(spare);
            if let Some(a) = amount(want) {
                collection -= a.value();
                moves.push((ParentAccount::Collection, parent, a));
            }
        }
    }
    moves
}

/// Starts the sweeps this shard needs now and drives each through the bank firm system,
/// answering when they are final (or left UNKNOWN for the confirm pass).
pub async fn sweep_pass(flow: &Rc<FlowContext>) -> SupervisionReport {
    let moves = plan_sweeps(flow);
    let mut report = SupervisionReport::default();
    let mut started = Vec::new();
    for (from, to, amount) in moves {
        match flow.start_settlement(from, to, amount) {
            Ok((id, durable)) => started.push((id, durable)),
            Err(e) => {
                tracing::warn!(shard = flow.shard, %from, %to, %amount, error = %e, "sweep refused")
            }
        }
    }
    let drives = started.into_iter().map(|(id, durable)| {
        let flow = flow.clone();
        async move {
            if matches!(durable.await, Ok(Ok(()))) {
                drive(flow.clone(), id, None).await;
            }
            let state = flow.ledger.borrow().books().entry(id).map(|e| e.state);
            u64::from(state == Some(EntryState::Success))
        }
    });
    report.sweeps = join_all(drives).await.into_iter().sum();
    report
}
