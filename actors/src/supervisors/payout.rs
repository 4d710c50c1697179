//! The payout supervisor (INSTRUMENTS.md §6.6, D-5.11): with each sweep pass, every
//! merchant's slice in this shard that holds money to pay is paid out by a payout of the
//! house (`instruments/payout.rs`), as `omnibus_core::payments::payout` says how much
//! and under which number. A daily payout's number is fixed by the KST day, so a pass
//! after a crash finds it on record and pays nothing twice; a realtime slice has one
//! payout in flight at a time. A payout that cannot start now (the deposit firm slice
//! cannot set its deposit aside) is tried again at the next pass. Each payout started
//! puts its merchant's settlement statement on record (`PayoutNotice`), which the
//! statements' pass delivers through the notification sink.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::join_all;
use omnibus_core::ledger::{MerchantEntry, ShardBooks};
use omnibus_core::payments::kst::{kst_day, kst_day_start_ms};
use omnibus_core::payments::merchant::PayoutSchedule;
use omnibus_core::payments::payout::{
    daily_payout_no, payable, period_payments, realtime_payout_no, reserve_share,
};
use omnibus_core::payments::payout_notice::PayoutNotice;
use omnibus_core::record::LedgerRecord;
use omnibus_core::saga::{RequestKind, HOUSE};
use omnibus_core::{AccountId, Amount, RequestNo};

use crate::instruments::start_payout;
use crate::ledger::ShardLedger;
use crate::saga::{drive, SagaRuntime};

use super::statements;

/// Starts the payouts due in this shard and drives them; answers how many started.
pub async fn payout_pass(flow: &Rc<SagaRuntime>, ledger: &Rc<RefCell<ShardLedger>>) -> u64 {
    let now = flow.now_ms();
    notice_missed_payouts(flow, ledger, now);
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
            Ok(Some(s)) => {
                // The merchant's settlement statement, delivered by the statements' pass.
                let notice = notice_of(&flow.books(), &merchant, amount, no, now);
                statements::write(flow, ledger, LedgerRecord::PayoutNoticeSet { notice });
                started.push(s)
            }
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

/// The settlement statement of a payout just started (INSTRUMENTS.md §6.6), from the
/// books as they are: the period it covers (a daily payout's, the KST day before; a
/// realtime payout's, since the slice's payout before it, or the start of the day), the
/// totals of the period's payments, the reserve kept and the amount paid.
fn notice_of(
    books: &ShardBooks,
    merchant: &MerchantEntry,
    amount: Amount,
    no: RequestNo,
    now: u64,
) -> PayoutNotice {
    let today = kst_day(now);
    let (period_from_ms, period_to_ms) = match merchant.merchant.payout_schedule {
        PayoutSchedule::Daily => (
            kst_day_start_ms(today.saturating_sub(1)),
            kst_day_start_ms(today),
        ),
        PayoutSchedule::Realtime => (
            books
                .last_payout_before(merchant.no, now)
                .unwrap_or(kst_day_start_ms(today)),
            now,
        ),
    };
    let payments = period_payments(
        books.payments(),
        merchant.no,
        period_from_ms,
        period_to_ms,
        0,
    );
    PayoutNotice {
        key: no,
        merchant: merchant.no,
        period_from_ms,
        period_to_ms,
        approvals: payments.approvals,
        approved_krw: payments.approved_krw,
        refunded_krw: payments.refunded_krw,
        reserve_kept_krw: reserve_share(&merchant.merchant, books.plan().shards())
            .try_into()
            .unwrap_or_default(),
        paid_krw: amount.value().try_into().unwrap_or_default(),
        created_at_ms: now,
        attempts: 0,
        last_attempt_ms: 0,
        delivered_at_ms: 0,
    }
}

/// Puts on record the settlement statement of each payout of today and yesterday (KST)
/// whose request the books still hold and that has none: a crash can fall between a
/// payout's acceptance and its notice's record, and the payout is then still open (or
/// settled since) when the engine is back. A payout already settled and gone to the
/// archive by then is not looked up (a disk read on the shard thread); its statement
/// is still read on request.
fn notice_missed_payouts(flow: &SagaRuntime, ledger: &RefCell<ShardLedger>, now: u64) {
    let since_ms = kst_day_start_ms(kst_day(now).saturating_sub(1));
    let missed: Vec<PayoutNotice> = {
        let books = flow.books();
        books
            .merchants()
            .flat_map(|m| {
                books
                    .payouts_of(m.no, since_ms, u64::MAX)
                    .filter(|no| books.payout_notice(*no).is_none())
                    .filter_map(|no| books.request(HOUSE, no))
                    .map(|r| (m.clone(), r.accepted))
                    .collect::<Vec<_>>()
            })
            .map(|(m, accepted)| {
                notice_of(
                    &books,
                    &m,
                    accepted.amount,
                    accepted.request_no,
                    accepted.at_ms,
                )
            })
            .collect()
    };
    for notice in missed {
        tracing::info!(shard = flow.shard(), payout = %notice.key, "a payout's settlement statement missed by a crash is put on record");
        statements::write(flow, ledger, LedgerRecord::PayoutNoticeSet { notice });
    }
}
