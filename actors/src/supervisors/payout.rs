//! The payout supervisor (INSTRUMENTS.md §6.6, D-5.11): with each sweep pass, every
//! merchant's slice in this shard that holds money to pay is paid out by a payout of the
//! house (`instruments/payout.rs`), as `omnibus_core::payments::payout` says how much
//! and under which number. A daily payout's number is fixed by the KST day, so a pass
//! after a crash finds it on record and pays nothing twice; a realtime slice has one
//! payout in flight at a time. A payout that cannot start now (the deposit firm slice
//! cannot set its deposit aside) is tried again at the next pass.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::payments::kst::kst_day;
use omnibus_core::payments::merchant::PayoutSchedule;
use omnibus_core::payments::payout::{daily_payout_no, payable, realtime_payout_no, reserve_share};
use omnibus_core::saga::RequestKind;
use omnibus_core::{AccountId, Amount, RequestNo};

use crate::instruments::start_payout;
use crate::ledger::ShardLedger;
use crate::saga::{drive, SagaRuntime};

/// Starts the payouts due in this shard and drives them; answers how many started.
pub async fn payout_pass(flow: &Rc<SagaRuntime>, ledger: &Rc<RefCell<ShardLedger>>) -> u64 {
    let now = flow.now_ms();
    let due: Vec<_> = {
        let books = flow.books();
        let shards = books.plan().shards();
        let in_flight: Vec<_> = books
            .named_requests()
            .filter(|(r, _)| r.accepted.kind == RequestKind::Payout)
            .filter_map(|(_, named)| named.merchant)
            .collect();
        books
            .merchants()
            .filter_map(|m| {
                let no = match m.merchant.payout_schedule {
                    PayoutSchedule::Daily => daily_payout_no(m.no, kst_day(now), flow.shard()),
                    PayoutSchedule::Realtime if in_flight.contains(&m.no) => return None,
                    PayoutSchedule::Realtime => realtime_payout_no(m.no, books.next_entry_id().0),
                };
                let no = RequestNo::new(&no).ok()?;
                // On record, settled or not, archived or not: the index keeps it.
                if books.payout_on_record(m.no, no) {
                    return None;
                }
                let slice = books.merchant_slice(m.no).ok()?;
                // Money owed by refunds to be tried again stays.
                let owed = books.owed_debits_from(AccountId::merchant(m.no));
                let pays = payable(
                    &m.merchant,
                    slice.balance - slice.held - owed,
                    reserve_share(&m.merchant, shards),
                    books.merchant_day_net(m.no, kst_day(now)),
                );
                let amount = Amount::new(books.currency(), pays).ok()?;
                Some((m.clone(), amount, no))
            })
            .collect()
    };
    let mut started = Vec::new();
    for (merchant, amount, no) in due {
        match start_payout(flow, ledger, &merchant, amount, no) {
            Ok(Some(s)) => started.push(s),
            Ok(None) => {
                tracing::debug!(shard = flow.shard(), merchant = %merchant.merchant.id, "payout waits: the deposit firm slice cannot set it aside now")
            }
            Err(e) => {
                tracing::warn!(shard = flow.shard(), merchant = %merchant.merchant.id, error = %e, "payout not started")
            }
        }
    }
    let count = started.len() as u64;
    join_all(started.into_iter().map(|(id, durable)| {
        let flow = flow.clone();
        async move {
            if matches!(durable.await, Ok(Ok(()))) {
                drive(flow, id, None).await;
            }
        }
    }))
    .await;
    count
}
