//! Which payout settled a payment, and which one each refund and cancel netted into
//! (INSTRUMENTS.md §6.5); the settlement statement each payout sends its merchant through
//! the notification sink (§6.6).

mod support;

use std::sync::Arc;

use omnibus_actors::rails::Recipient;
use omnibus_actors::{Engine, EngineParts, ManualClock};
use omnibus_core::payments::kst::{kst_day, kst_day_start_ms};
use support::cards::*;
use support::payout_days::*;
use support::*;

/// Review finding 7 (2026-12-02): a payment's payout is looked up in the shard's index of
/// payouts, which forgets a payout with the settled requests once it is older than the
/// retention window (`actors.idempotency_retention_days`). A payment settled before that
/// was given the first payout still on record: a later one, that never carried it. It is
/// now told nothing rather than something wrong (§6.5: `payout_id` is left out).
#[test]
fn a_payment_settled_longer_ago_than_the_retention_window_is_never_given_a_later_payout() {
    const DAY: u64 = 24 * HOUR;
    let dir = tempfile::tempdir().unwrap();
    let d = day_d_ten_am();
    let (engine, _sim, clock) = start_at(dir.path(), d);
    let rt = runtime();
    rt.block_on(async {
        let (_, number) = fixture(&engine, 150_000).await;
        let paid = engine
            .pay(card_payment("R-1", 35_000, number, "4827"))
            .await
            .unwrap();
        assert!(paid.approved_at_ms > 0, "{paid:?}");
        payouts_of_day(&engine, &clock, kst_day(d) + 1).await;
        let first = engine.payment_settlement(&paid).await.unwrap().unwrap();
        // 35 days on, another payment, paid out the next day; the prune forgets what the
        // engine accepted more than 30 days before, the first payout among it.
        clock.set_ms(d + 35 * DAY);
        let later = engine
            .pay(card_payment("R-2", 10_000, number, "4827"))
            .await
            .unwrap();
        assert!(later.approved_at_ms > 0, "{later:?}");
        payouts_of_day(&engine, &clock, kst_day(d) + 36).await;
        let second = engine.payment_settlement(&later).await.unwrap().unwrap();
        assert_ne!(second.payout_id, first.payout_id);
        let told = engine.payment_settlement(&paid).await.unwrap();
        assert_eq!(told, None, "the first payment was given {told:?}");
    });
    engine.shutdown().unwrap();
}

/// §6.5: "each refund and cancel carries its own `settled_at` and `payout_id`, set by the
/// payout it nets into". A daily merchant's same-day cancel nets with its sale before any
/// payout (neither carried by one); a refund of the next day nets into the payout of the
/// day after it. A payment whose day paid nothing is not given a later payout.
#[test]
fn each_refund_and_cancel_carries_the_payout_it_nets_into() {
    let dir = tempfile::tempdir().unwrap();
    let d = day_d_ten_am();
    let (engine, _sim, clock) = start_at(dir.path(), d);
    let rt = runtime();
    rt.block_on(async {
        let (_, number) = fixture(&engine, 150_000).await;
        let kept = engine
            .pay(card_payment("R-1", 35_000, number, "4827"))
            .await
            .unwrap();
        let cancelled = engine
            .pay(card_payment("R-2", 20_000, number, "4827"))
            .await
            .unwrap();
        clock.advance_ms(HOUR);
        let cancelled = engine.cancel_payment(m2(), cancelled.id).await.unwrap();
        // D+1, 00:05: the payout of day D pays the 35,000 left.
        payouts_of_day(&engine, &clock, kst_day(d) + 1).await;
        let day_d = engine.payment_settlements(&kept).await.unwrap();
        let first = day_d.payment.clone().expect("the D+1 payout settled R-1");
        // The same-day cancel netted with its sale in the slice: no payout carried either.
        let of_cancelled = engine.payment_settlements(&cancelled).await.unwrap();
        assert_eq!(of_cancelled.payment, None);
        let (cancelled_at_ms, cancel) = of_cancelled.cancel.expect("a cancel on record");
        assert_eq!(cancelled_at_ms, d + HOUR);
        assert_eq!(cancel, None);
        // D+1: a sale, then a refund of 5,000 of R-1, funded by it.
        clock.set_ms(kst_day_start_ms(kst_day(d) + 1) + 9 * HOUR);
        engine
            .pay(card_payment("R-3", 10_000, number, "4827"))
            .await
            .unwrap();
        let refund_no = omnibus_core::RequestNo::new("RF-1").unwrap();
        let refunded = engine
            .refund_payment(m2(), kept.id, refund_no, 5_000)
            .await
            .unwrap();
        let before = engine.payment_settlements(&refunded).await.unwrap();
        assert_eq!(before.payment, Some(first.clone()));
        assert_eq!(before.refunds, vec![None], "not netted yet");
        // D+2, 00:05: the payout of D+1 pays 5,000 (10,000 less the refund).
        payouts_of_day(&engine, &clock, kst_day(d) + 2).await;
        let after = engine.payment_settlements(&refunded).await.unwrap();
        assert_eq!(after.payment, Some(first.clone()));
        let second = after.refunds[0].clone().expect("the D+2 payout");
        assert_ne!(second.payout_id, first.payout_id);
        let views = engine.payouts(m2(), date(kst_day(d) + 2)).await.unwrap();
        assert_eq!(views.len(), 1, "{views:?}");
        assert_eq!(views[0].payout_id, second.payout_id);
        // Its statement: D+1's sale of 10,000, less the refund of a day D payment.
        assert_eq!(views[0].payments.net_krw(), 10_000);
        assert_eq!(views[0].carried_krw(), -5_000);
        // D+2: a sale whose whole money funds the refund of a D payment: D+3 pays
        // nothing, and a later payout (D+4's) did not carry it.
        clock.set_ms(kst_day_start_ms(kst_day(d) + 2) + 9 * HOUR);
        let spent = engine
            .pay(card_payment("R-4", 4_000, number, "4827"))
            .await
            .unwrap();
        let refund_no = omnibus_core::RequestNo::new("RF-2").unwrap();
        engine
            .refund_payment(m2(), kept.id, refund_no, 4_000)
            .await
            .unwrap();
        for (day, hour) in [(3, 0), (3, 9), (4, 0)] {
            clock.set_ms(kst_day_start_ms(kst_day(d) + day) + hour * HOUR + 5 * 60_000);
            if (day, hour) == (3, 9) {
                engine
                    .pay(card_payment("R-5", 3_000, number, "4827"))
                    .await
                    .unwrap();
            }
            for _ in 0..20 {
                engine.supervise_once().await.unwrap();
            }
        }
        assert!(engine
            .payouts(m2(), date(kst_day(d) + 3))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            engine
                .payouts(m2(), date(kst_day(d) + 4))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(engine.payment_settlement(&spent).await.unwrap(), None);
    });
    engine.shutdown().unwrap();
}

/// §6.6: "Every merchant gets one [settlement statement] per payout", through the
/// notification sink, each delivery on record and retried. A sink that refuses is asked
/// again after the backoff; once it took the statement, nothing is sent again, also
/// after a restart.
#[test]
fn each_payout_sends_its_merchant_a_settlement_statement() {
    let dir = tempfile::tempdir().unwrap();
    let d = day_d_ten_am();
    let (engine, sim, clock) = start_with(
        dir.path(),
        d,
        "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 60_000\nretry_backoff_max_ms = 60_000\n",
    );
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 150_000).await;
        let paid = engine
            .pay(card_payment("R-1", 35_000, number, "4827"))
            .await
            .unwrap();
        assert!(paid.approved_at_ms > 0, "{paid:?}");
        // D+1, 00:05: the payout of day D, while the sink refuses.
        sim.set_notices_refused(true);
        clock.set_ms(kst_day_start_ms(kst_day(d) + 1) + 5 * 60_000);
        let report = engine.supervise_once().await.unwrap();
        assert_eq!(report.payouts, 1, "{report:?}");
        for _ in 0..5 {
            engine.supervise_once().await.unwrap();
        }
        assert!(sim.notices().is_empty(), "the sink refused");
        sim.set_notices_refused(false);
        // Asked again after the backoff, and delivered once.
        clock.advance_ms(61_000);
        let mut delivered = 0;
        for _ in 0..5 {
            delivered += engine.supervise_once().await.unwrap().payout_notices;
        }
        assert_eq!(delivered, 1);
        let views = engine.payouts(m2(), date(kst_day(d) + 1)).await.unwrap();
        let payout_id = views[0].payout_id;
        let notices = sim.notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        let (message, asked) = &notices[0];
        assert_eq!(*asked, 1);
        assert_eq!(message.key, payout_id);
        assert_eq!(message.to, Recipient::Merchant(m2_no));
        assert!(
            message.text.contains("approvals 1 for 35000 won"),
            "{}",
            message.text
        );
        assert!(message.text.contains("paid 35000 won"), "{}", message.text);
        // The card number never reaches a merchant's notice.
        assert!(!message.text.contains(&number.to_string()));
    });
    engine.shutdown().unwrap();
    let engine = Engine::start_with(
        config(dir.path(), 2, QUICK),
        EngineParts::new(
            sim.rails(),
            Arc::new(ManualClock::new(clock_now(d) + 10 * HOUR)),
        ),
    )
    .unwrap();
    rt.block_on(async {
        let report = engine.supervise_once().await.unwrap();
        assert_eq!(report.payout_notices, 0, "{report:?}");
        // The card's own statement of day D went out at 09:00; the payout's was not sent again.
        let to_merchants = sim
            .notices()
            .into_iter()
            .filter(|(m, _)| matches!(m.to, Recipient::Merchant(_)))
            .map(|(_, asked)| asked)
            .collect::<Vec<_>>();
        assert_eq!(to_merchants, [1]);
    });
    engine.shutdown().unwrap();
}
