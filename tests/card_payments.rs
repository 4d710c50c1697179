//! Direct prepaid card payments of onboarded merchants (issue 14; INSTRUMENTS.md §5.6
//! P6, P10, P12; §6.2 the fixed order of checks; §6.4 `POST /v1/payments`; D-5.8 the
//! full-amount rule; D-5.18): APPROVED or DECLINED with the code of the first failing
//! check, nothing moved on a decline, idempotent by the merchant's request number, across
//! a restart too.

mod support;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{CardApplication, Engine, EngineError, PocketChargeRequest};
use omnibus_core::ids::{CardName, CardSeq, MerchantId, MerchantNo, Tag};
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::{PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{InstrumentRef, Leg, PaymentRequest, SecretText};
use omnibus_core::payments::prepaid_card::{CardId, CardStatus};
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::saga::Settled;
use omnibus_core::{AccountId, Money, RequestNo};
use support::*;

/// The non-reflected search confirms an UNKNOWN entry at once, and retries come quickly.
const QUICK: &str =
    "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 10\n";

fn won(n: i64) -> Money {
    Money::krw(n).unwrap()
}

const CARD: CardId = CardId {
    customer: match omnibus_core::CustomerId::new_const(1) {
        Some(c) => c,
        None => panic!(),
    },
    seq: CardSeq(1),
};

/// The fixture of §5.6: customer 1 (alice) with 500,000, card #1 (password 4827) with
/// `pocket_won` in its pocket, and merchant m2 taking prepaid cards. Answers m2's number
/// and the card's number.
async fn fixture(engine: &Engine, pocket_won: i64) -> (MerchantNo, CardNumber) {
    engine.open_customer(opened(1)).await.unwrap();
    engine.charge(charge(1, "C-1", 500_000)).await.unwrap();
    engine
        .issue_prepaid_card(
            customer(1),
            CardApplication {
                name: CardName::new("ALICE").unwrap(),
                password: SecretText::new("4827".into()),
                physical: false,
                notify_by_email: true,
            },
        )
        .await
        .unwrap();
    if pocket_won > 0 {
        engine
            .charge_pocket(PocketChargeRequest {
                header: charge(1, "P-1", pocket_won).header,
                card: CardSeq(1),
            })
            .await
            .unwrap();
    }
    let (m2, _) = engine
        .onboard_merchant(merchant_taking("m2", &[InstrumentType::PrepaidCard]))
        .await
        .unwrap();
    let number = engine.reveal_prepaid_card(CARD).await.unwrap();
    (m2.no, number)
}

fn card_payment(no: &str, won_: u64, number: CardNumber, password: &str) -> PaymentRequest {
    PaymentRequest {
        merchant: MerchantId::new("m2").unwrap(),
        terminal: None,
        merchant_request_no: RequestNo::new(no).unwrap(),
        order_no: None,
        amount_krw: won_,
        category: Tag::new("books").unwrap(),
        region: None,
        legs: vec![Leg {
            instrument: InstrumentRef::PrepaidCard {
                number,
                password: SecretText::new(password.into()),
            },
            amount_krw: won_,
        }],
    }
}

async fn balance(engine: &Engine, account: AccountId) -> Money {
    engine.account_balance(account).await.unwrap()
}

fn pocket() -> AccountId {
    AccountId::pocket(customer(1), CardSeq(1))
}

fn declined(p: &PaymentEntry) -> Option<DeclineCode> {
    assert_eq!(p.state, PaymentState::Declined, "{p:?}");
    p.decline_code()
}

fn refusal_code(e: EngineError) -> RefusalCode {
    match e {
        EngineError::Refusal { code, .. } => code,
        other => panic!("a refusal, not {other:?}"),
    }
}

fn firm_agrees(sim: &Simulator, m2: MerchantNo, pocket_won: i64, merchant_won: i64) {
    let truth = sim.truth();
    assert_eq!(
        truth.pockets.get(&(customer(1), CardSeq(1))).copied(),
        Some(won(pocket_won))
    );
    assert_eq!(
        truth.merchants.get(&m2).copied().unwrap_or(won(0)),
        won(merchant_won)
    );
    assert!(truth.is_conserved());
}

#[test]
fn exact_balance_is_approved() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    let (m2, number) = rt.block_on(fixture(&engine, 115_000));
    let paid = rt.block_on(async {
        let paid = engine
            .pay(card_payment("R-6", 115_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved, "{paid:?}");
        assert!(paid.approved_at_ms > 0);
        assert_eq!(paid.id.approval_no().len(), 8);
        assert!(balance(&engine, pocket()).await.is_zero());
        assert_eq!(
            balance(&engine, AccountId::merchant(m2)).await,
            won(115_000)
        );
        firm_agrees(&sim, m2, 0, 115_000);
        // Sent again: the same answer, nothing moves again. The same number with another
        // amount: refused, nothing recorded.
        let again = engine
            .pay(card_payment("R-6", 115_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(again, paid);
        let other = engine
            .pay(card_payment("R-6", 1_000, number, "4827"))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(other), RefusalCode::IdempotencyConflict);
        // The merchant's own lookup by its number.
        let looked_up = engine
            .payment_by_request(MerchantId::new("m2").unwrap(), "R-6".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(looked_up, paid);
        let unknown = engine
            .payment_by_request(MerchantId::new("m2").unwrap(), "R-99".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(refusal_code(unknown), RefusalCode::NotFound);
        paid
    });
    engine.shutdown().unwrap();
    // After a restart the number still answers the payment on record.
    let engine = start(dir.path(), 2, QUICK);
    rt.block_on(async {
        let again = engine
            .pay(card_payment("R-6", 115_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(again, paid);
        assert_eq!(engine.payment(paid.id).await.unwrap(), paid);
        assert!(balance(&engine, pocket()).await.is_zero());
    });
    engine.shutdown().unwrap();
}

#[test]
fn the_full_amount_rule_declines_a_direct_card_payment_over_the_pocket() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2, number) = fixture(&engine, 115_000).await;
        let short = engine
            .pay(card_payment("R-5", 120_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&short), Some(DeclineCode::InsufficientFunds));
        assert_eq!(balance(&engine, pocket()).await, won(115_000));
        assert!(balance(&engine, AccountId::merchant(m2)).await.is_zero());
        firm_agrees(&sim, m2, 115_000, 0);
        // The decline is on record under its number.
        let again = engine
            .pay(card_payment("R-5", 120_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(again, short);
    });
    engine.shutdown().unwrap();
}

#[test]
fn card_password_locks_after_five_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2, number) = fixture(&engine, 50_000).await;
        for i in 1..=5 {
            let wrong = engine
                .pay(card_payment(&format!("R-10-{i}"), 10_000, number, "0000"))
                .await
                .unwrap();
            assert_eq!(declined(&wrong), Some(DeclineCode::WrongSecret), "try {i}");
            let card = engine.prepaid_card(CARD).await.unwrap();
            let locked = if i == 5 {
                CardStatus::Locked
            } else {
                CardStatus::Active
            };
            assert_eq!(
                (card.card.status, card.card.failed_password_count),
                (locked, i)
            );
        }
        // The right password now: declined LOCKED, the status being checked first, and
        // the try does not count.
        let right = engine
            .pay(card_payment("R-10-6", 10_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&right), Some(DeclineCode::Locked));
        assert_eq!(
            engine
                .prepaid_card(CARD)
                .await
                .unwrap()
                .card
                .failed_password_count,
            5
        );
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        firm_agrees(&sim, m2, 50_000, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_right_password_resets_the_count_of_wrong_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 1, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (_, number) = fixture(&engine, 50_000).await;
        for i in 1..=4 {
            engine
                .pay(card_payment(&format!("W-{i}"), 1_000, number, "1234"))
                .await
                .unwrap();
        }
        let paid = engine
            .pay(card_payment("OK-1", 1_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved);
        let card = engine.prepaid_card(CARD).await.unwrap();
        assert_eq!(
            (card.card.status, card.card.failed_password_count),
            (CardStatus::Active, 0)
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn approval_timeout_is_declined_then_reversed() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[rails.securities_firm]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let (m2, number) = fixture(&engine, 50_000).await;
        // (a) The transfer was done, its answer lost: DECLINED TIMEOUT, then reversed.
        sim.set_rates(Rail::SecuritiesFirm, always("lost"));
        let a = engine
            .pay(card_payment("R-12a", 20_000, number, "4827"))
            .await
            .unwrap();
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        assert_eq!(declined(&a), Some(DeclineCode::Timeout));
        let sale = a.sale.unwrap();
        settle(&engine, sale, Settled::Refunded).await;
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        assert!(balance(&engine, AccountId::merchant(m2)).await.is_zero());
        firm_agrees(&sim, m2, 50_000, 0);
        // (b) It was not done: DECLINED TIMEOUT, the entry FAIL, nothing moves.
        sim.set_rates(Rail::SecuritiesFirm, always("timeout"));
        let b = engine
            .pay(card_payment("R-12b", 20_000, number, "4827"))
            .await
            .unwrap();
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        assert_eq!(declined(&b), Some(DeclineCode::Timeout));
        settle(&engine, b.sale.unwrap(), Settled::NothingMoved).await;
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        firm_agrees(&sim, m2, 50_000, 0);
    });
    engine.shutdown().unwrap();
}

async fn settle(engine: &Engine, request_no: RequestNo, expected: Settled) {
    for _ in 0..200 {
        engine.supervise_once().await.unwrap();
        let view = engine.request(request_no).await.unwrap();
        if view.outcome != Settled::Pending {
            assert_eq!(view.outcome, expected, "{view:?}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{request_no} did not settle");
}

#[test]
fn each_check_declines_with_its_own_code_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        2,
        &format!("{QUICK}[payments]\nsale_max_krw = 30_000\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let (m2, number) = fixture(&engine, 50_000).await;
        // Step 2: a number no card has (Luhn-valid).
        let stranger = CardNumber::issue("942100", 1).unwrap();
        let unknown = engine
            .pay(card_payment("D-1", 1_000, stranger, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&unknown), Some(DeclineCode::InvalidCredential));
        assert_eq!(unknown.card, None, "no card named");
        // Step 7: over sale_max_krw.
        let over = engine
            .pay(card_payment("D-2", 30_001, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&over), Some(DeclineCode::OverSaleMax));
        // Step 1: a merchant that does not take prepaid cards.
        engine
            .onboard_merchant(merchant_taking("m3", &[InstrumentType::Wallet]))
            .await
            .unwrap();
        let mut elsewhere = card_payment("D-3", 1_000, number, "4827");
        elsewhere.merchant = MerchantId::new("m3").unwrap();
        let not_allowed = engine.pay(elsewhere).await.unwrap();
        assert_eq!(
            declined(&not_allowed),
            Some(DeclineCode::MerchantNotAllowed)
        );
        // Refusals: nothing recorded. An unknown merchant; a zero amount.
        let mut nobody = card_payment("D-4", 1_000, number, "4827");
        nobody.merchant = MerchantId::new("m9").unwrap();
        assert_eq!(
            refusal_code(engine.pay(nobody).await.unwrap_err()),
            RefusalCode::NotFound
        );
        let zero = engine
            .pay(card_payment("D-5", 0, number, "4827"))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(zero), RefusalCode::InvalidRequest);
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        firm_agrees(&sim, m2, 50_000, 0);
    });
    engine.shutdown().unwrap();
}

fn m2() -> MerchantId {
    MerchantId::new("m2").unwrap()
}

/// P11's postings, over a direct card payment (flow B's checkout is not built yet): a
/// same-day cancel pays the merchant's 35,000 back into the pocket.
#[test]
fn same_day_cancel_restores_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 150_000).await;
        let paid = engine
            .pay(card_payment("R-4", 35_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(balance(&engine, pocket()).await, won(115_000));
        let cancelled = engine.cancel_payment(m2(), paid.id).await.unwrap();
        assert_eq!(cancelled.state, PaymentState::Cancelled);
        assert_eq!(cancelled.refunded_krw, 35_000);
        assert_eq!(balance(&engine, pocket()).await, won(150_000));
        assert!(balance(&engine, AccountId::merchant(m2_no)).await.is_zero());
        firm_agrees(&sim, m2_no, 150_000, 0);
        // Again: the same answer, nothing moves again.
        assert_eq!(
            engine.cancel_payment(m2(), paid.id).await.unwrap(),
            cancelled
        );
        assert_eq!(balance(&engine, pocket()).await, won(150_000));
        // A declined payment cannot be cancelled; another merchant cannot see this one.
        let short = engine
            .pay(card_payment("R-5", 900_000, number, "4827"))
            .await
            .unwrap();
        let e = engine.cancel_payment(m2(), short.id).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidState);
        engine
            .onboard_merchant(merchant_taking("m3", &[InstrumentType::PrepaidCard]))
            .await
            .unwrap();
        let e = engine
            .cancel_payment(MerchantId::new("m3").unwrap(), paid.id)
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::NotFound);
        // The cancel's request is the payer's, and settles as refunded.
        let view = engine
            .request(format!("CX-{:016X}", paid.id.0).parse().unwrap())
            .await
            .unwrap();
        assert_eq!(view.entries[0].step.as_str(), "merchant_refund");
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_cancel_on_a_later_kst_day_is_refused_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1, QUICK);
    let sim = Simulator::new(&config);
    let clock = std::sync::Arc::new(omnibus_actors::ManualClock::new(now_ms()));
    let engine = Engine::start_with(
        config,
        omnibus_actors::EngineParts::new(sim.rails(), clock.clone()),
    )
    .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 50_000).await;
        let paid = engine
            .pay(card_payment("R-1", 20_000, number, "4827"))
            .await
            .unwrap();
        clock.advance_ms(24 * 3_600_000);
        let e = engine.cancel_payment(m2(), paid.id).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::CancelWindowClosed);
        assert_eq!(balance(&engine, pocket()).await, won(30_000));
        assert_eq!(
            balance(&engine, AccountId::merchant(m2_no)).await,
            won(20_000)
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_cancel_over_the_pocket_cap_overflows_to_the_main_balance() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        2,
        &format!("{QUICK}[payments]\npocket_balance_cap_krw = 100_000\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 100_000).await;
        let paid = engine
            .pay(card_payment("R-1", 35_000, number, "4827"))
            .await
            .unwrap();
        // The pocket is filled again to 90,000: only 10,000 of the cancel fits.
        engine
            .charge_pocket(PocketChargeRequest {
                header: charge(1, "P-2", 25_000).header,
                card: CardSeq(1),
            })
            .await
            .unwrap();
        let cancelled = engine.cancel_payment(m2(), paid.id).await.unwrap();
        assert_eq!(cancelled.state, PaymentState::Cancelled);
        assert_eq!(balance(&engine, pocket()).await, won(100_000));
        // 500,000 - 100,000 - 25,000 + 25,000 of overflow.
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            won(400_000)
        );
        assert!(balance(&engine, AccountId::merchant(m2_no)).await.is_zero());
        firm_agrees(&sim, m2_no, 100_000, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn merchant_cancels_by_request_number_after_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 50_000).await;
        // (a) Approved, but m2's client timed out before reading the answer.
        engine
            .pay(card_payment("R-14", 20_000, number, "4827"))
            .await
            .unwrap();
        let seen = engine
            .payment_by_request(m2(), "R-14".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(seen.state, PaymentState::Approved);
        let cancelled = engine
            .cancel_by_request(m2(), "R-14".parse().unwrap())
            .await
            .unwrap();
        let omnibus_actors::CancelByRequest::Cancelled(p) = &cancelled else {
            panic!("{cancelled:?}");
        };
        assert_eq!(p.state, PaymentState::Cancelled);
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        assert_eq!(
            engine
                .cancel_by_request(m2(), "R-14".parse().unwrap())
                .await
                .unwrap(),
            cancelled,
            "a second cancel-by-request gets the same answer"
        );
        // (b) R-15 never reached the engine: the cancel answers NOT_APPROVED, and R-15
        // arriving later is declined CANCELLED_BY_MERCHANT.
        let early = engine
            .cancel_by_request(m2(), "R-15".parse().unwrap())
            .await
            .unwrap();
        assert!(
            matches!(early, omnibus_actors::CancelByRequest::NotApproved(_)),
            "{early:?}"
        );
        let late = engine
            .pay(card_payment("R-15", 20_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&late), Some(DeclineCode::CancelledByMerchant));
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        assert!(balance(&engine, AccountId::merchant(m2_no)).await.is_zero());
        firm_agrees(&sim, m2_no, 50_000, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn refund_over_pocket_cap_overflows_to_main_balance() {
    // P9b's postings over a direct card payment: the pocket at 1,990,000 under a cap of
    // 2,000,000, the merchant holding the 35,000 of an approved payment; a full refund
    // puts 10,000 in the pocket and 25,000 in the customer's balance.
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 0).await;
        engine.charge(charge(1, "C-2", 2_000_000)).await.unwrap();
        let fill = |no: &str, won_: i64| PocketChargeRequest {
            header: charge(1, no, won_).header,
            card: CardSeq(1),
        };
        engine.charge_pocket(fill("P-1", 2_000_000)).await.unwrap();
        let paid = engine
            .pay(card_payment("R-9b", 35_000, number, "4827"))
            .await
            .unwrap();
        engine.charge_pocket(fill("P-2", 25_000)).await.unwrap();
        assert_eq!(balance(&engine, pocket()).await, won(1_990_000));
        let c = AccountId::customer(customer(1));
        assert_eq!(balance(&engine, c).await, won(475_000));
        let refunded = engine
            .refund_payment(m2(), paid.id, "RF-1".parse().unwrap(), 35_000)
            .await
            .unwrap();
        assert_eq!(refunded.state, PaymentState::Refunded);
        assert_eq!(balance(&engine, pocket()).await, won(2_000_000));
        assert_eq!(balance(&engine, c).await, won(500_000));
        assert!(balance(&engine, AccountId::merchant(m2_no)).await.is_zero());
        firm_agrees(&sim, m2_no, 2_000_000, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn refunds_are_partial_never_more_than_the_payment_and_idempotent_by_their_number() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 50_000).await;
        let paid = engine
            .pay(card_payment("R-1", 30_000, number, "4827"))
            .await
            .unwrap();
        let refund =
            |no: &str, won_: u64| engine.refund_payment(m2(), paid.id, no.parse().unwrap(), won_);
        let first = refund("RF-1", 10_000).await.unwrap();
        assert_eq!(
            (first.state, first.refunded_krw),
            (PaymentState::PartiallyRefunded, 10_000)
        );
        assert_eq!(
            refund("RF-1", 10_000).await.unwrap(),
            first,
            "the same again"
        );
        let e = refund("RF-1", 9_000).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::IdempotencyConflict);
        let e = refund("RF-2", 20_001).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::RefundExceedsPayment);
        // A refund ends a payment's cancel.
        let e = engine.cancel_payment(m2(), paid.id).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidState);
        let last = refund("RF-2", 20_000).await.unwrap();
        assert_eq!(
            (last.state, last.refunded_krw),
            (PaymentState::Refunded, 30_000)
        );
        assert_eq!(last.refunds.len(), 2);
        let e = refund("RF-3", 1).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidState);
        assert_eq!(balance(&engine, pocket()).await, won(50_000));
        assert!(balance(&engine, AccountId::merchant(m2_no)).await.is_zero());
        firm_agrees(&sim, m2_no, 50_000, 0);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_refund_the_merchant_cannot_fund_is_refused_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 50_000).await;
        let paid = engine
            .pay(card_payment("R-1", 30_000, number, "4827"))
            .await
            .unwrap();
        // The merchant's money leaves (a payout, here raw) before the refund comes.
        engine
            .post(
                AccountId::merchant(m2_no),
                AccountId::parent(omnibus_core::ParentAccount::FinParent),
                krw(25_000),
            )
            .await
            .unwrap();
        let e = engine
            .refund_payment(m2(), paid.id, "RF-1".parse().unwrap(), 10_000)
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::RefundExceedsMerchantBalance);
        assert_eq!(balance(&engine, pocket()).await, won(20_000));
        assert_eq!(engine.payment(paid.id).await.unwrap().refunded_krw, 0);
        let _ = sim;
    });
    engine.shutdown().unwrap();
}
