//! Helpers of the card payment tests (issue 14): the fixture of INSTRUMENTS.md §5.6
//! (customer 1 with 500,000, card #1 with password 4827, merchant m2 taking prepaid
//! cards), payment requests by card number, and the checks that the securities firm's
//! books agree.

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{CardApplication, Engine, EngineError, PocketChargeRequest};
use omnibus_core::ids::{CardName, CardSeq, MerchantId, MerchantNo, Tag};
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::{PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{InstrumentRef, Leg, PaymentRequest, SecretText};
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::{AccountId, Money, RequestNo};

use super::{charge, customer, merchant_taking, opened};

/// The non-reflected search confirms an UNKNOWN entry at once, and retries come quickly.
pub const QUICK: &str =
    "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 10\n";

pub fn money(n: i64) -> Money {
    Money::krw(n).unwrap()
}

pub const CARD: CardId = CardId {
    customer: match omnibus_core::CustomerId::new_const(1) {
        Some(c) => c,
        None => panic!(),
    },
    seq: CardSeq(1),
};

/// The fixture of §5.6: customer 1 (alice) with 500,000, card #1 (password 4827) with
/// `pocket_won` in its pocket, and merchant m2 taking prepaid cards. Answers m2's number
/// and the card's number.
pub async fn fixture(engine: &Engine, pocket_won: i64) -> (MerchantNo, CardNumber) {
    let number = card_of(engine, 1, "ALICE", pocket_won).await;
    let (m2, _) = engine
        .onboard_merchant(merchant_taking("m2", &[InstrumentType::PrepaidCard]))
        .await
        .unwrap();
    (m2.no, number)
}

/// Customer `n` opened with 500,000 (request `C-n`), its card #1 (password 4827) named
/// `name`, with `pocket_won` charged from the balance (request `P-n`); the card's number.
/// Customer 1's requests are `C-1` and `P-1`, as §5.6 numbers them.
pub async fn card_of(engine: &Engine, n: u64, name: &str, pocket_won: i64) -> CardNumber {
    engine.open_customer(opened(n)).await.unwrap();
    engine
        .charge(charge(n, &format!("C-{n}"), 500_000))
        .await
        .unwrap();
    engine
        .issue_prepaid_card(
            customer(n),
            CardApplication {
                name: CardName::new(name).unwrap(),
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
                header: charge(n, &format!("P-{n}"), pocket_won).header,
                card: CardSeq(1),
            })
            .await
            .unwrap();
    }
    engine
        .reveal_prepaid_card(CardId {
            customer: customer(n),
            seq: CardSeq(1),
        })
        .await
        .unwrap()
}

pub fn card_payment(no: &str, won_: u64, number: CardNumber, password: &str) -> PaymentRequest {
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

pub async fn balance(engine: &Engine, account: AccountId) -> Money {
    engine.account_balance(account).await.unwrap()
}

pub fn pocket() -> AccountId {
    AccountId::pocket(customer(1), CardSeq(1))
}

pub fn declined(p: &PaymentEntry) -> Option<DeclineCode> {
    assert_eq!(p.state, PaymentState::Declined, "{p:?}");
    p.decline_code()
}

pub fn refusal_code(e: EngineError) -> RefusalCode {
    match e {
        EngineError::Refusal { code, .. } => code,
        other => panic!("a refusal, not {other:?}"),
    }
}

pub fn firm_agrees(sim: &Simulator, m2: MerchantNo, pocket_won: i64, merchant_won: i64) {
    let truth = sim.truth();
    assert_eq!(
        truth.pockets.get(&(customer(1), CardSeq(1))).copied(),
        Some(money(pocket_won))
    );
    assert_eq!(
        truth.merchants.get(&m2).copied().unwrap_or(money(0)),
        money(merchant_won)
    );
    assert!(truth.is_conserved());
}

pub fn m2() -> MerchantId {
    MerchantId::new("m2").unwrap()
}
