//! Direct prepaid card payments of onboarded merchants (issue 14; INSTRUMENTS.md §5.6
//! P6, P10, P12; §6.2 the fixed order of checks; §6.4 `POST /v1/payments`; D-5.8 the
//! full-amount rule; D-5.18): APPROVED or DECLINED with the code of the first failing
//! check, nothing moved on a decline, idempotent by the merchant's request number, across
//! a restart too.

mod support;

use omnibus_actors::rails::sim::Rail;
use omnibus_core::ids::MerchantId;
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::PaymentState;
use omnibus_core::payments::prepaid_card::{CardAction, CardStatus};
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::saga::Settled;
use omnibus_core::AccountId;
use support::cards::*;
use support::*;

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
            money(115_000)
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
        assert_eq!(balance(&engine, pocket()).await, money(115_000));
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
        assert_eq!(balance(&engine, pocket()).await, money(50_000));
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
        assert_eq!(settle(&engine, sale.as_str()).await, Settled::Refunded);
        assert_eq!(balance(&engine, pocket()).await, money(50_000));
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
        assert_eq!(
            settle(&engine, b.sale.unwrap().as_str()).await,
            Settled::NothingMoved
        );
        assert_eq!(balance(&engine, pocket()).await, money(50_000));
        firm_agrees(&sim, m2, 50_000, 0);
    });
    engine.shutdown().unwrap();
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
        assert_eq!(balance(&engine, pocket()).await, money(50_000));
        firm_agrees(&sim, m2, 50_000, 0);
    });
    engine.shutdown().unwrap();
}

/// D-5.3, D-5.13: the owner suspends a card (it pays nothing and takes no charge),
/// resumes it, unlocks it after the fifth wrong password, and closes it: its pocket goes
/// back to the owner's balance, and a closed card stays closed.
#[test]
fn an_owner_suspends_resumes_unlocks_and_closes_a_card_and_closing_returns_the_pocket() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 50_000).await;
        let change = |action| engine.change_prepaid_card(CARD, action);
        assert_eq!(
            change(CardAction::Suspend).await.unwrap().card.status,
            CardStatus::Suspended
        );
        let suspended = engine
            .pay(card_payment("R-1", 1_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&suspended), Some(DeclineCode::Suspended));
        let fill = engine
            .charge_pocket(omnibus_actors::PocketChargeRequest {
                header: charge(1, "P-9", 1_000).header,
                card: omnibus_core::ids::CardSeq(1),
            })
            .await
            .unwrap_err();
        assert_eq!(refusal_code(fill), RefusalCode::InvalidState);
        let e = change(CardAction::Unlock).await.unwrap_err();
        assert_eq!(
            refusal_code(e),
            RefusalCode::InvalidState,
            "a suspended card is resumed"
        );
        assert_eq!(
            change(CardAction::Resume).await.unwrap().card.status,
            CardStatus::Active
        );
        for i in 1..=5 {
            engine
                .pay(card_payment(&format!("W-{i}"), 1_000, number, "0000"))
                .await
                .unwrap();
        }
        let unlocked = change(CardAction::Unlock).await.unwrap();
        assert_eq!(
            (unlocked.card.status, unlocked.card.failed_password_count),
            (CardStatus::Active, 0)
        );
        let paid = engine
            .pay(card_payment("R-2", 10_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved);
        // Closing: the pocket's 40,000 back to the balance (500,000 - 50,000 + 40,000).
        let closed = change(CardAction::Close).await.unwrap();
        assert_eq!(closed.card.status, CardStatus::Closed);
        assert!(closed.pocket.balance.is_zero());
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            money(490_000)
        );
        firm_agrees(&sim, m2_no, 0, 10_000);
        assert_eq!(
            change(CardAction::Close).await.unwrap(),
            closed,
            "closing again"
        );
        let e = change(CardAction::Resume).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidState);
        let after = engine
            .pay(card_payment("R-3", 1_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&after), Some(DeclineCode::Closed));
        // A refund of a closed card's payment goes to the balance (D-5.12).
        engine
            .refund_payment(m2(), paid.id, "RF-1".parse().unwrap(), 10_000)
            .await
            .unwrap();
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            money(500_000)
        );
        assert!(balance(&engine, pocket()).await.is_zero());
    });
    engine.shutdown().unwrap();
}

/// D-5.13 with D-0.2: a card is not closed while a payment's outcome is unknown. Its sale
/// may have been done, and its reversal then credits the pocket: after the pocket's release
/// that money would land in a closed card's pocket, out of the customer's reach.
#[test]
fn a_card_is_not_closed_while_a_payment_of_it_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[rails.securities_firm]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let (m2, number) = fixture(&engine, 50_000).await;
        sim.set_rates(Rail::SecuritiesFirm, always("lost"));
        let a = engine
            .pay(card_payment("R-13", 20_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&a), Some(DeclineCode::Timeout));
        // The rail stays silent until the close is asked, so that the prompt confirm of
        // the timed-out sale cannot settle it first (a race that made this test flaky).
        let refused = engine
            .change_prepaid_card(CARD, CardAction::Close)
            .await
            .unwrap_err();
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        assert_eq!(refusal_code(refused), RefusalCode::InvalidState);
        assert_eq!(
            settle(&engine, a.sale.unwrap().as_str()).await,
            Settled::Refunded
        );
        let closed = engine
            .change_prepaid_card(CARD, CardAction::Close)
            .await
            .unwrap();
        assert_eq!(closed.card.status, CardStatus::Closed);
        assert!(balance(&engine, pocket()).await.is_zero());
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            money(500_000),
            "the whole pocket is back in the balance"
        );
        firm_agrees(&sim, m2, 0, 0);
    });
    engine.shutdown().unwrap();
}

/// D-5.2 with D-5.13 and D-5.12: a card expires five years on, at the end of its issue's
/// KST month. From that instant it is declined `EXPIRED` and refused charges, a refund of
/// its payment goes to the owner's balance, and the expiry supervisor puts it on record
/// EXPIRED and moves its pocket's money to the owner's balance; the securities firm agrees.
#[test]
fn a_card_expires_after_five_years_and_its_pocket_goes_back_to_its_owner() {
    use omnibus_actors::PocketChargeRequest;
    use omnibus_core::ids::CardSeq;
    use support::payout_days::*;
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim, clock) = start_at(dir.path(), day_d_ten_am());
    let rt = runtime();
    rt.block_on(async {
        let (m2_no, number) = fixture(&engine, 50_000).await;
        let expires = engine
            .prepaid_card(CARD)
            .await
            .unwrap()
            .card
            .expires_at_ms();
        assert!(expires > day_d_ten_am() + 5 * 365 * 24 * HOUR);
        // The last instant of its validity: approved.
        clock.set_ms(expires - 1);
        let paid = engine
            .pay(card_payment("R-1", 10_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved, "{paid:?}");
        // Its expiry: declined, and no charge.
        clock.set_ms(expires);
        let late = engine
            .pay(card_payment("R-2", 1_000, number, "4827"))
            .await
            .unwrap();
        assert_eq!(declined(&late), Some(DeclineCode::Expired));
        let mut header = charge(1, "P-2", 1_000).header;
        header.request_date = date(omnibus_core::payments::kst::kst_day(expires));
        let e = engine
            .charge_pocket(PocketChargeRequest {
                header,
                card: CardSeq(1),
            })
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidState);
        // A refund now goes to the owner's balance (D-5.12), not the expired pocket.
        engine
            .refund_payment(m2(), paid.id, "RF-1".parse().unwrap(), 4_000)
            .await
            .unwrap();
        assert_eq!(balance(&engine, pocket()).await, money(40_000));
        // The expiry pass: EXPIRED on record, the pocket's 40,000 back to the balance.
        let mut expired = 0;
        for _ in 0..10 {
            expired += engine.supervise_once().await.unwrap().cards_expired;
        }
        assert_eq!(expired, 1);
        let card = engine.prepaid_card(CARD).await.unwrap();
        assert_eq!(card.card.status, CardStatus::Expired);
        assert!(balance(&engine, pocket()).await.is_zero());
        // 500,000 - 50,000 + 4,000 + 40,000.
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            money(494_000)
        );
        let truth = sim.truth();
        assert_eq!(
            truth.pockets.get(&(customer(1), CardSeq(1))),
            Some(&money(0))
        );
        assert!(truth.is_conserved());
        let _ = m2_no;
    });
    engine.shutdown().unwrap();
}
