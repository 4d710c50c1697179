//! Members, wallet sessions and flow B's checkouts (issue 14; INSTRUMENTS.md §5.3 b4–b9,
//! D-5.4, D-5.17; P4, P5): a member logs in with its ID and password (argon2id, five
//! failures lock it), confirms a checkout at an affiliated mall with its card's password,
//! and the mall pays it with `wallet {checkout_id}`, learning nothing of the card or the
//! customer; the full-amount rule is judged at the payment.

mod support;

use omnibus_actors::EngineError;
use omnibus_core::ids::{CardSeq, MemberId, MerchantId};
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::PaymentState;
use omnibus_core::payments::payment_request::{InstrumentRef, Leg, PaymentRequest, SecretText};
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::{AccountId, RequestNo};
use support::cards::*;
use support::*;

fn alice() -> MemberId {
    // §5.6 names the member `alice01`, seven characters: FIG. 2 asks 8 to 12.
    MemberId::new("alice001").unwrap()
}

fn m1() -> MerchantId {
    MerchantId::new("m1").unwrap()
}

fn wallet_payment(no: &str, won_: u64, checkout_id: &str) -> PaymentRequest {
    PaymentRequest {
        merchant: m1(),
        terminal: None,
        merchant_request_no: RequestNo::new(no).unwrap(),
        order_no: None,
        amount_krw: won_,
        category: omnibus_core::ids::Tag::new("books").unwrap(),
        region: None,
        legs: vec![Leg {
            instrument: InstrumentRef::Wallet {
                checkout_id: checkout_id.into(),
            },
            amount_krw: won_,
        }],
    }
}

fn code(e: EngineError) -> RefusalCode {
    refusal_code(e)
}

/// The fixture after P2 and P3: pocket 150,000; m1 an affiliated mall (takes `wallet`);
/// alice a member of customer 1.
async fn after_p3(engine: &omnibus_actors::Engine) -> omnibus_core::ids::MerchantNo {
    fixture(engine, 150_000).await;
    let (m1_entry, _) = engine
        .onboard_merchant(merchant_taking("m1", &[InstrumentType::Wallet]))
        .await
        .unwrap();
    engine
        .create_member(alice(), "Secret123", customer(1))
        .await
        .unwrap();
    m1_entry.no
}

fn secret(text: &str) -> SecretText {
    SecretText::new(text.into())
}

#[test]
fn affiliated_mall_sees_only_an_approval() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let m1_no = after_p3(&engine).await;
        // b4: the ID in any case; the password is not case-sensitive.
        let session = engine.login(alice(), "SECRET123").await.unwrap();
        // b5: the checkout, confirmed with card #1's password.
        let checkout = engine
            .checkout(
                &session.token,
                m1(),
                35_000,
                Some(CardSeq(1)),
                secret("4827"),
            )
            .await
            .unwrap();
        // b6–b9: m1 pays it.
        let paid = engine
            .pay(wallet_payment("R-4", 35_000, &checkout.checkout_id))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved, "{paid:?}");
        assert_eq!(balance(&engine, pocket()).await, money(115_000));
        assert_eq!(
            balance(&engine, AccountId::merchant(m1_no)).await,
            money(35_000)
        );
        firm_agrees(&sim, m1_no, 115_000, 35_000);
        // The same number again answers the same; the checkout is used up.
        assert_eq!(
            engine
                .pay(wallet_payment("R-4", 35_000, &checkout.checkout_id))
                .await
                .unwrap(),
            paid
        );
        let again = engine
            .pay(wallet_payment("R-4b", 35_000, &checkout.checkout_id))
            .await
            .unwrap();
        assert_eq!(declined(&again), Some(DeclineCode::InvalidCredential));
        assert_eq!(balance(&engine, pocket()).await, money(115_000));
    });
    engine.shutdown().unwrap();
}

#[test]
fn full_amount_rule_declines_when_balance_short() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let m1_no = after_p3(&engine).await;
        let session = engine.login(alice(), "secret123").await.unwrap();
        let first = engine
            .checkout(&session.token, m1(), 35_000, None, secret("4827"))
            .await
            .unwrap();
        engine
            .pay(wallet_payment("R-4", 35_000, &first.checkout_id))
            .await
            .unwrap();
        // P5: 120,000 against a pocket of 115,000. The checkout is confirmed (b5 checks
        // the card and its password); the payment is declined (b8), with no partial
        // approval, and nothing moves.
        let checkout = engine
            .checkout(&session.token, m1(), 120_000, None, secret("4827"))
            .await
            .unwrap();
        let short = engine
            .pay(wallet_payment("R-5", 120_000, &checkout.checkout_id))
            .await
            .unwrap();
        assert_eq!(declined(&short), Some(DeclineCode::InsufficientFunds));
        assert_eq!(balance(&engine, pocket()).await, money(115_000));
        assert_eq!(
            balance(&engine, AccountId::merchant(m1_no)).await,
            money(35_000)
        );
    });
    engine.shutdown().unwrap();
}

/// b4: a wrong password is `LOGIN_FAILED` (an unknown ID too), the fifth in a row locks
/// the member (`MEMBER_LOCKED`, and then the right password is refused too); b5: a wrong
/// card password refuses the checkout `WRONG_SECRET` and counts; a checkout is bound to
/// its merchant and amount; sessions and members survive nothing they should not.
#[test]
fn logins_lock_after_five_failures_and_a_checkout_binds_its_merchant_and_amount() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        after_p3(&engine).await;
        let unknown = MemberId::new("nobody99").unwrap();
        assert_eq!(
            code(engine.login(unknown, "secret123").await.unwrap_err()),
            RefusalCode::LoginFailed
        );
        let session = engine.login(alice(), "secret123").await.unwrap();
        assert_eq!(
            code(
                engine
                    .checkout(&session.token, m1(), 1_000, None, secret("0000"))
                    .await
                    .unwrap_err()
            ),
            RefusalCode::WrongSecret
        );
        let card = engine.prepaid_card(CARD).await.unwrap();
        assert_eq!(card.card.failed_password_count, 1);
        // Bound to m1 and 1,000: another amount or merchant finds no checkout.
        let checkout = engine
            .checkout(&session.token, m1(), 1_000, None, secret("4827"))
            .await
            .unwrap();
        let other = engine
            .pay(wallet_payment("R-1", 2_000, &checkout.checkout_id))
            .await
            .unwrap();
        assert_eq!(declined(&other), Some(DeclineCode::InvalidCredential));
        assert_eq!(
            code(
                engine
                    .checkout("ws_nosuchsession", m1(), 1_000, None, secret("4827"))
                    .await
                    .unwrap_err()
            ),
            RefusalCode::NotFound
        );
        for i in 1..=5 {
            let e = engine.login(alice(), "wrongpass1").await.unwrap_err();
            let expected = if i < 5 {
                RefusalCode::LoginFailed
            } else {
                RefusalCode::MemberLocked
            };
            assert_eq!(code(e), expected, "failure {i}");
        }
        assert_eq!(
            code(engine.login(alice(), "secret123").await.unwrap_err()),
            RefusalCode::MemberLocked
        );
        assert_eq!(
            code(
                engine
                    .create_member(alice(), "secret123", customer(1))
                    .await
                    .unwrap_err()
            ),
            RefusalCode::InvalidState
        );
    });
    engine.shutdown().unwrap();
    // The member (locked) is on record after a restart.
    let engine = start(dir.path(), 2, QUICK);
    rt.block_on(async {
        assert_eq!(
            code(engine.login(alice(), "secret123").await.unwrap_err()),
            RefusalCode::MemberLocked
        );
    });
    engine.shutdown().unwrap();
}
