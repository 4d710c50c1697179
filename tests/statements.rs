//! The next-day statement of a prepaid card (issue 14; INSTRUMENTS.md §5.4, D-5.10, P7):
//! at 09:00 KST the day after, every pocket that moved gets its day's statement (opening
//! balance, charges, approvals, cancels and refunds, closing balance) through the
//! notification sink, each delivery put on record before the sink is asked and asked
//! again until the sink takes it.

mod support;

use std::sync::Arc;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Engine, EngineParts, ManualClock, PocketChargeRequest};
use omnibus_core::ids::{CardSeq, MerchantId};
use omnibus_core::payments::kst::{date_of_day, kst_day, kst_day_start_ms};
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::statement::{signed, LineKind};
use omnibus_core::RequestDate;
use rust_decimal::Decimal;
use support::cards::*;
use support::*;

const HOUR: u64 = 3_600_000;

fn date(day: u32) -> RequestDate {
    let d = date_of_day(day);
    RequestDate::from_ymd(d.year as u32, d.month, d.day).unwrap()
}

/// P2–P6 on day D (P4 and P5 through flow B: a member's checkout at m1, paid with
/// `wallet {checkout_id}`), then the statement of D at 09:00 on D+1.
#[test]
fn next_day_statement_lists_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let d = support::payout_days::day_d_ten_am();
    let day = kst_day(d);
    let first = config(dir.path(), 2, QUICK);
    let sim = Simulator::new(&first);
    let clock = Arc::new(ManualClock::new(d));
    let engine = Engine::start_with(first, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (_, number) = fixture(&engine, 0).await;
        engine
            .onboard_merchant(merchant_taking("m1", &[InstrumentType::Wallet]))
            .await
            .unwrap();
        let alice = omnibus_core::ids::MemberId::new("alice001").unwrap();
        engine
            .create_member(alice, "secret123", customer(1))
            .await
            .unwrap();
        let fill = |no: &str, won_: i64| PocketChargeRequest {
            header: charge(1, no, won_).header,
            card: CardSeq(1),
        };
        // P2, P3.
        engine.fill_pocket(fill("P-2", 100_000)).await.unwrap();
        settle(&engine, "P-2").await;
        engine.charge_pocket(fill("P-3", 50_000)).await.unwrap();
        // P4, P5 at m1 through the wallet; P6 at m2 with the card.
        let session = engine.login(alice, "secret123").await.unwrap();
        for (no, won_) in [("R-4", 35_000u64), ("R-5", 120_000)] {
            let checkout = engine
                .checkout(
                    &session.token,
                    MerchantId::new("m1").unwrap(),
                    won_,
                    None,
                    omnibus_core::payments::payment_request::SecretText::new("4827".into()),
                )
                .await
                .unwrap();
            let mut p = card_payment(no, won_, number, "4827");
            p.merchant = MerchantId::new("m1").unwrap();
            p.legs[0].instrument = omnibus_core::payments::payment_request::InstrumentRef::Wallet {
                checkout_id: checkout.checkout_id,
            };
            let paid = engine.pay(p).await.unwrap();
            if no == "R-5" {
                assert!(declined(&paid).is_some(), "{paid:?}");
            } else {
                assert!(paid.approved_at_ms > 0, "{paid:?}");
            }
        }
        assert!(
            engine
                .pay(card_payment("R-6", 115_000, number, "4827"))
                .await
                .unwrap()
                .approved_at_ms
                > 0
        );
        assert!(balance(&engine, pocket()).await.is_zero());
        // Before 09:00 on D+1: the day as it stands, no notice yet.
        clock.set_ms(kst_day_start_ms(day + 1) + 8 * HOUR);
        engine.supervise_once().await.unwrap();
        assert!(card_notices(&sim).is_empty());
        let so_far = engine.card_statement(CARD, date(day)).await.unwrap();
        assert!(so_far.notice.is_none());
        // 09:00, with the sink down: the notice is made and its delivery on record.
        sim.set_notices_refused(true);
        clock.set_ms(kst_day_start_ms(day + 1) + 9 * HOUR);
        assert_eq!(engine.supervise_once().await.unwrap().notices, 0);
        let pending = engine.card_statement(CARD, date(day)).await.unwrap();
        let notice = pending.notice.expect("made at 09:00");
        assert_eq!((notice.attempts, notice.delivered()), (1, false));
        // The sink back, and the retry's wait passed: delivered, once.
        sim.set_notices_refused(false);
        clock.advance_ms(60_000);
        assert_eq!(engine.supervise_once().await.unwrap().notices, 1);
        assert_eq!(engine.supervise_once().await.unwrap().notices, 0);
        let sent = engine.card_statement(CARD, date(day)).await.unwrap();
        let notice = sent.notice.clone().unwrap();
        assert!(notice.delivered());
        assert_eq!(notice.attempts, 2);
        // P7: opening 0; charges +100,000 and +50,000; approvals −35,000 and −115,000;
        // closing 0. (The declined attempt moved nothing, and is not a line.)
        let s = &sent.statement;
        assert_eq!(s.opening, Decimal::ZERO);
        let lines: Vec<(LineKind, Decimal)> = s
            .lines
            .iter()
            .map(|l| (LineKind::of(l.step), signed(l)))
            .collect();
        assert_eq!(
            lines,
            [
                (LineKind::Charge, Decimal::from(100_000)),
                (LineKind::Charge, Decimal::from(50_000)),
                (LineKind::Approval, Decimal::from(-35_000)),
                (LineKind::Approval, Decimal::from(-115_000)),
            ]
        );
        assert_eq!(s.closing(), Decimal::ZERO);
        let delivered = card_notices(&sim);
        assert_eq!(delivered.len(), 1);
        let (message, asked) = &delivered[0];
        assert_eq!(*asked, 1);
        assert_eq!(message.key, notice.key);
        // Masked: the last 4 digits only.
        let digits = number.to_string();
        assert!(!message.text.contains(&digits), "{}", message.text);
        assert!(message.text.contains(&format!("****{}", &digits[12..])));
        assert!(message.text.contains("closing 0"), "{}", message.text);
    });
    engine.shutdown().unwrap();
    // After a restart: delivered stays delivered; nothing is sent again.
    let engine = Engine::start_with(
        config(dir.path(), 2, QUICK),
        EngineParts::new(
            sim.rails(),
            Arc::new(ManualClock::new(kst_day_start_ms(day + 1) + 10 * HOUR)),
        ),
    )
    .unwrap();
    rt.block_on(async {
        assert_eq!(engine.supervise_once().await.unwrap().notices, 0);
        let sent = engine.card_statement(CARD, date(day)).await.unwrap();
        assert!(sent.notice.unwrap().delivered());
        assert_eq!(card_notices(&sim).len(), 1);
        let e = engine
            .card_statement(CARD, date(day + 1))
            .await
            .unwrap_err();
        assert_eq!(
            refusal_code(e),
            omnibus_core::payments::RefusalCode::NotFound
        );
    });
    engine.shutdown().unwrap();
}

/// What the sink holds for customers: the cards' statements (the merchants' settlement
/// statements of the payouts go through it too).
fn card_notices(sim: &Simulator) -> Vec<(omnibus_actors::rails::NoticeMessage, u32)> {
    sim.notices()
        .into_iter()
        .filter(|(m, _)| matches!(m.to, omnibus_actors::rails::Recipient::Customer(_)))
        .collect()
}
