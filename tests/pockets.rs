//! A prepaid card's pocket (issue 14; INSTRUMENTS.md §5, D-5.6, D-5.7, D-5.18): charged
//! from the customer's balance by `SS.transfer` `customer[c]` → `pocket[c,card]`, within
//! its balance cap; a sale from the pocket pays a merchant; a transfer that times out is
//! told failed and reversed if a confirm finds it done. The securities firm's own books
//! agree with the engine's throughout.

mod support;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{
    CardApplication, Engine, EngineError, PocketChargeRequest, Rejection, SaleRequest,
};
use omnibus_core::ids::{CardName, CardSeq, MerchantNo};
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::payments::RefusalCode;
use omnibus_core::request_log::Told;
use omnibus_core::saga::Settled;
use omnibus_core::{AccountId, Money};
use support::*;

/// The non-reflected search confirms an UNKNOWN entry at once, and retries come quickly.
const QUICK: &str =
    "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 10\n";

fn won(n: i64) -> Money {
    Money::krw(n).unwrap()
}

async fn balance(engine: &Engine, account: AccountId) -> Money {
    engine.account_balance(account).await.unwrap()
}

fn pocket_charge(request_no: &str, won_: i64, card: u16) -> PocketChargeRequest {
    PocketChargeRequest {
        header: charge(1, request_no, won_).header,
        card: CardSeq(card),
    }
}

/// Customer 1 charged `won_` from its bank, with card #1 issued (pocket 0).
async fn alice(engine: &Engine, won_: i64) -> AccountId {
    engine.open_customer(opened(1)).await.unwrap();
    engine.charge(charge(1, "C-1", won_)).await.unwrap();
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
    assert_eq!(
        balance(engine, AccountId::customer(customer(1))).await,
        won(won_)
    );
    AccountId::pocket(customer(1), CardSeq(1))
}

/// The engine's books and the securities firm's agree on customer 1 and its pocket.
fn firm_agrees(sim: &Simulator, customer_won: i64, pocket_won: i64) {
    let truth = sim.truth();
    assert_eq!(truth.customer(customer(1)), won(customer_won));
    assert_eq!(
        truth
            .pockets
            .get(&(customer(1), CardSeq(1)))
            .copied()
            .unwrap_or(won(0)),
        won(pocket_won)
    );
    assert!(truth.is_conserved());
}

fn refusal_code(e: EngineError) -> RefusalCode {
    match e {
        EngineError::Refusal { code, .. } => code,
        other => panic!("a refusal, not {other:?}"),
    }
}

#[test]
fn charge_from_balance_moves_between_own_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let pocket = alice(&engine, 500_000).await;
        let charged = engine
            .charge_pocket(pocket_charge("P-1", 50_000, 1))
            .await
            .unwrap();
        assert_eq!(charged.told, Told::Succeeded, "{charged:?}");
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            won(450_000)
        );
        assert_eq!(balance(&engine, pocket).await, won(50_000));
        firm_agrees(&sim, 450_000, 50_000);
        // A resubmission answers the same; the number for another card is refused.
        assert_eq!(
            engine
                .charge_pocket(pocket_charge("P-1", 50_000, 1))
                .await
                .unwrap(),
            charged
        );
        let other = engine
            .charge_pocket(pocket_charge("P-1", 50_000, 2))
            .await
            .unwrap_err();
        assert!(
            matches!(
                other,
                EngineError::Rejected(Rejection::RequestNoReused { .. })
            ),
            "{other:?}"
        );
        assert_eq!(settle(&engine, "P-1").await, Settled::PaidOut);
        // A card that does not exist: refused, nothing on record.
        let unknown = engine
            .charge_pocket(pocket_charge("P-2", 1_000, 9))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(unknown), RefusalCode::NotFound);
        // More than the balance: told failed, nothing moved.
        let short = engine
            .charge_pocket(pocket_charge("P-3", 450_001, 1))
            .await
            .unwrap();
        assert_eq!(short.told, Told::Failed);
        assert_eq!(balance(&engine, pocket).await, won(50_000));
        firm_agrees(&sim, 450_000, 50_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_pocket_charge_over_the_balance_cap_is_refused_and_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[payments]\npocket_balance_cap_krw = 100_000\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let pocket = alice(&engine, 500_000).await;
        let first = engine
            .charge_pocket(pocket_charge("P-1", 60_000, 1))
            .await
            .unwrap();
        assert_eq!(first.told, Told::Succeeded);
        let over = engine
            .charge_pocket(pocket_charge("P-2", 50_000, 1))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(over), RefusalCode::OverBalanceCap);
        // Refused before it was on record: the number is free for another try.
        let exact = engine
            .charge_pocket(pocket_charge("P-2", 40_000, 1))
            .await
            .unwrap();
        assert_eq!(exact.told, Told::Succeeded);
        assert_eq!(balance(&engine, pocket).await, won(100_000));
        firm_agrees(&sim, 400_000, 100_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_pocket_charge_that_times_out_is_told_failed_and_reversed_once_a_confirm_finds_it_done() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[rails.securities_firm]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let pocket = alice(&engine, 100_000).await;
        sim.set_rates(Rail::SecuritiesFirm, always("lost"));
        let timed_out = engine
            .charge_pocket(pocket_charge("P-1", 20_000, 1))
            .await
            .unwrap();
        assert_eq!((timed_out.told, timed_out.timed_out), (Told::Failed, true));
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        assert_eq!(settle(&engine, "P-1").await, Settled::Refunded);
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            won(100_000)
        );
        assert!(balance(&engine, pocket).await.is_zero());
        firm_agrees(&sim, 100_000, 0);
        let view = engine.request("P-1".parse().unwrap()).await.unwrap();
        let steps: Vec<_> = view.entries.iter().map(|e| e.step.as_str()).collect();
        assert_eq!(steps, ["pocket_charge", "pocket_charge_reversal"]);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_sale_from_the_pocket_pays_the_merchant_and_a_restart_keeps_every_balance() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    let m1 = rt.block_on(async {
        let pocket = alice(&engine, 500_000).await;
        let (m1, _) = engine
            .onboard_merchant(merchant_taking("m2", &[InstrumentType::PrepaidCard]))
            .await
            .unwrap();
        engine
            .charge_pocket(pocket_charge("P-1", 150_000, 1))
            .await
            .unwrap();
        let paid = engine
            .sale(SaleRequest {
                header: charge(1, "S-1", 115_000).header,
                merchant: m1.no,
                pocket: Some(CardSeq(1)),
            })
            .await
            .unwrap();
        assert_eq!(paid.told, Told::Succeeded, "{paid:?}");
        assert_eq!(balance(&engine, pocket).await, won(35_000));
        assert_eq!(
            balance(&engine, AccountId::merchant(m1.no)).await,
            won(115_000)
        );
        assert_eq!(sim.truth().merchants[&m1.no], won(115_000));
        firm_agrees(&sim, 350_000, 35_000);
        // More than the pocket holds: told failed, nothing moved.
        let short = engine
            .sale(SaleRequest {
                header: charge(1, "S-2", 35_001).header,
                merchant: m1.no,
                pocket: Some(CardSeq(1)),
            })
            .await
            .unwrap();
        assert_eq!(short.told, Told::Failed);
        assert_eq!(balance(&engine, pocket).await, won(35_000));
        m1.no
    });
    engine.shutdown().unwrap();
    let engine = start(dir.path(), 2, QUICK);
    rt.block_on(async {
        let pocket = AccountId::pocket(customer(1), CardSeq(1));
        assert_eq!(balance(&engine, pocket).await, won(35_000));
        assert_eq!(
            balance(&engine, AccountId::merchant(m1)).await,
            won(115_000)
        );
        let _: MerchantNo = m1;
    });
    engine.shutdown().unwrap();
}

/// The steps and legs of a request's entries, as `(step, debit, credit, won)`.
async fn legs(engine: &Engine, request_no: &str) -> Vec<(String, AccountId, AccountId, Money)> {
    let view = engine.request(request_no.parse().unwrap()).await.unwrap();
    view.entries
        .iter()
        .map(|e| {
            (
                e.step.as_str().to_string(),
                e.debit,
                e.credit,
                won(0).checked_add_amount(e.amount).unwrap(),
            )
        })
        .collect()
}

/// P2: a charge of the card from the linked account is a charge whose A2 credits the
/// pocket: A1 `linked[c] → withdrawal_firm[K]`, A2 `fin_parent → pocket[c,#1]`, and the
/// pocket keeps it across a restart (the acceptance names the pocket on record).
#[test]
fn charge_from_bank_fills_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    let linked_before = rt.block_on(async {
        let pocket = alice(&engine, 500_000).await;
        let linked_before = sim
            .truth()
            .linked(opened(1).linked_bank, opened(1).linked_account);
        let filled = engine
            .fill_pocket(pocket_charge("P-2", 100_000, 1))
            .await
            .unwrap();
        assert_eq!(filled.told, Told::Succeeded, "{filled:?}");
        assert_eq!(settle(&engine, "P-2").await, Settled::Credited);
        let k = omnibus_core::BankCode::new("004").unwrap();
        assert_eq!(
            legs(&engine, "P-2").await,
            [
                (
                    "charge_withdrawal".to_string(),
                    AccountId::linked(customer(1)),
                    AccountId::parent(omnibus_core::ParentAccount::WithdrawalFirm(k)),
                    won(100_000)
                ),
                (
                    "charge_credit".to_string(),
                    AccountId::parent(omnibus_core::ParentAccount::FinParent),
                    pocket,
                    won(100_000)
                ),
            ]
        );
        assert_eq!(balance(&engine, pocket).await, won(100_000));
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            won(500_000)
        );
        firm_agrees(&sim, 500_000, 100_000);
        assert_eq!(
            sim.truth()
                .linked(opened(1).linked_bank, opened(1).linked_account),
            linked_before.checked_sub(won(100_000)).unwrap()
        );
        // A resubmission answers the same; the number with another card is refused.
        assert_eq!(
            engine
                .fill_pocket(pocket_charge("P-2", 100_000, 1))
                .await
                .unwrap(),
            filled
        );
        let other = engine
            .fill_pocket(pocket_charge("P-2", 100_000, 2))
            .await
            .unwrap_err();
        assert!(
            matches!(
                other,
                EngineError::Rejected(Rejection::RequestNoReused { .. })
            ),
            "{other:?}"
        );
        linked_before
    });
    engine.shutdown().unwrap();
    let engine = start(dir.path(), 2, QUICK);
    rt.block_on(async {
        let pocket = AccountId::pocket(customer(1), CardSeq(1));
        assert_eq!(balance(&engine, pocket).await, won(100_000));
        let _ = linked_before;
    });
    engine.shutdown().unwrap();
}

/// P9: the pocket at 1,950,000 under the cap of 2,000,000; a charge of 100,000 from the
/// linked account is refused `OVER_BALANCE_CAP`, one of 50,000 fills it to the cap.
#[test]
fn balance_cap_refuses_overfill() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let bank = opened(1).linked_bank;
        sim.set_linked_balance(bank, opened(1).linked_account, won(5_000_000));
        let pocket = alice(&engine, 500_000).await;
        let filled = engine
            .fill_pocket(pocket_charge("P-0", 1_950_000, 1))
            .await
            .unwrap();
        assert_eq!(filled.told, Told::Succeeded);
        settle(&engine, "P-0").await;
        assert_eq!(balance(&engine, pocket).await, won(1_950_000));
        let over = engine
            .fill_pocket(pocket_charge("P-1", 100_000, 1))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(over), RefusalCode::OverBalanceCap);
        let fits = engine
            .fill_pocket(pocket_charge("P-9", 50_000, 1))
            .await
            .unwrap();
        assert_eq!(fits.told, Told::Succeeded);
        settle(&engine, "P-9").await;
        assert_eq!(balance(&engine, pocket).await, won(2_000_000));
        firm_agrees(&sim, 500_000, 2_000_000);
    });
    engine.shutdown().unwrap();
}

/// D-5.6: a charge from the linked account holds its headroom under the cap from its
/// acceptance, also while its A1 is unknown and before its credit has an entry; a charge
/// completed late (the confirm finds A1 done) therefore still fits.
#[test]
fn a_charge_from_the_bank_holds_its_headroom_until_it_is_credited_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!(
            "{QUICK}[payments]\npocket_balance_cap_krw = 100_000\n[rails.bank_firm]\ntimeout_ms = 100\n"
        ),
    );
    let rt = runtime();
    rt.block_on(async {
        let pocket = alice(&engine, 500_000).await;
        sim.set_rates(Rail::BankFirm, always("lost"));
        let timed_out = engine
            .fill_pocket(pocket_charge("P-1", 60_000, 1))
            .await
            .unwrap();
        assert!(timed_out.timed_out, "{timed_out:?}");
        sim.set_rates(Rail::BankFirm, healthy());
        // 60,000 may still arrive: 50,000 more would pass the cap.
        let over = engine
            .charge_pocket(pocket_charge("P-2", 50_000, 1))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(over), RefusalCode::OverBalanceCap);
        let over = engine
            .fill_pocket(pocket_charge("P-3", 50_000, 1))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(over), RefusalCode::OverBalanceCap);
        // The confirm finds A1 done: the charge goes on, and the pocket holds it.
        assert_eq!(settle(&engine, "P-1").await, Settled::Credited);
        assert_eq!(balance(&engine, pocket).await, won(60_000));
        firm_agrees(&sim, 500_000, 60_000);
        let fits = engine
            .fill_pocket(pocket_charge("P-4", 40_000, 1))
            .await
            .unwrap();
        assert_eq!(fits.told, Told::Succeeded);
    });
    engine.shutdown().unwrap();
}

/// D-5.13: a card is not closed while money is on its way into its pocket (a charge from
/// the bank whose A1 is unknown): that money would land in a closed card's pocket after
/// the release. Once it is credited, closing releases all of it to the balance.
#[test]
fn a_card_is_not_closed_while_a_charge_is_on_its_way_into_its_pocket() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[rails.bank_firm]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let pocket = alice(&engine, 500_000).await;
        let card = omnibus_core::payments::prepaid_card::CardId {
            customer: customer(1),
            seq: CardSeq(1),
        };
        sim.set_rates(Rail::BankFirm, always("lost"));
        let timed_out = engine
            .fill_pocket(pocket_charge("P-1", 60_000, 1))
            .await
            .unwrap();
        assert!(timed_out.timed_out, "{timed_out:?}");
        sim.set_rates(Rail::BankFirm, healthy());
        let close = omnibus_core::payments::prepaid_card::CardAction::Close;
        let refused = engine.change_prepaid_card(card, close).await.unwrap_err();
        assert_eq!(refusal_code(refused), RefusalCode::InvalidState);
        assert_eq!(settle(&engine, "P-1").await, Settled::Credited);
        assert_eq!(balance(&engine, pocket).await, won(60_000));
        let closed = engine.change_prepaid_card(card, close).await.unwrap();
        assert_eq!(
            closed.card.status,
            omnibus_core::payments::prepaid_card::CardStatus::Closed
        );
        assert!(balance(&engine, pocket).await.is_zero());
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            won(560_000)
        );
        firm_agrees(&sim, 560_000, 0);
    });
    engine.shutdown().unwrap();
}
