//! Sales (issue 14; INSTRUMENTS.md §6.3, D-0.2): the customer's balance pays a merchant
//! through `SS.transfer`, in the payer's shard. Approved when done; declined when the
//! balance is short (nothing moves) or the transfer is refused; a timeout is declined too,
//! and a sale a confirm then finds done is reversed, so the payer loses nothing.

mod support;

use omnibus_actors::rails::sim::Rail;
use omnibus_actors::{Engine, EngineError, Rejection, SaleRequest};
use omnibus_core::ids::MerchantNo;
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::request_log::Told;
use omnibus_core::saga::Settled;
use omnibus_core::{AccountId, Money};
use support::*;

/// The non-reflected search confirms an UNKNOWN entry at once, and retries come quickly.
const QUICK: &str =
    "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 10\n";

fn merchant(id: &str) -> omnibus_core::payments::merchant::Merchant {
    merchant_taking(id, &[InstrumentType::Wallet])
}

/// Merchant m1, and customer 1 charged `won`, its credit landed (the balance read waits
/// for it): what most tests start from.
async fn m1_and_a_funded_customer(engine: &Engine, won_: i64) -> MerchantNo {
    let (m1, _) = engine.onboard_merchant(merchant("m1")).await.unwrap();
    engine.open_customer(opened(1)).await.unwrap();
    engine.charge(charge(1, "C-1", won_)).await.unwrap();
    assert_eq!(
        balance(engine, AccountId::customer(customer(1))).await,
        won(won_)
    );
    m1.no
}

/// After a declined sale that was done and reversed: customer 1 has its 100,000 back, the
/// merchant nothing, in the books and at the firm; S-1's entries are the sale and its
/// reversal.
async fn made_whole(engine: &Engine, sim: &omnibus_actors::rails::sim::Simulator, m1: MerchantNo) {
    assert_eq!(
        balance(engine, AccountId::customer(customer(1))).await,
        won(100_000)
    );
    assert!(balance(engine, AccountId::merchant(m1)).await.is_zero());
    let truth = sim.truth();
    assert_eq!(truth.customer(customer(1)), won(100_000));
    assert!(truth.merchants[&m1].is_zero());
    assert!(truth.is_conserved());
    let view = engine.request("S-1".parse().unwrap()).await.unwrap();
    let steps: Vec<_> = view.entries.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(steps, ["sale", "sale_reversal"]);
}

fn sale(customer: u64, request_no: &str, won: i64, merchant: MerchantNo) -> SaleRequest {
    SaleRequest {
        header: charge(customer, request_no, won).header,
        merchant,
        pocket: None,
    }
}

fn won(n: i64) -> Money {
    Money::krw(n).unwrap()
}

async fn balance(engine: &Engine, account: AccountId) -> Money {
    engine.account_balance(account).await.unwrap()
}

#[test]
fn an_approved_sale_moves_the_payers_balance_to_the_merchant_and_the_firm_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let m1 = m1_and_a_funded_customer(&engine, 100_000).await;
        let (m2, _) = engine.onboard_merchant(merchant("m2")).await.unwrap();
        let c = AccountId::customer(customer(1));
        let paid = engine.sale(sale(1, "S-1", 35_000, m1)).await.unwrap();
        assert_eq!(paid.told, Told::Succeeded, "approved: {paid:?}");
        assert_eq!(balance(&engine, c).await, won(65_000));
        assert_eq!(balance(&engine, AccountId::merchant(m1)).await, won(35_000));
        // The securities firm's own books say the same.
        let truth = sim.truth();
        assert_eq!(truth.customer(customer(1)), won(65_000));
        assert_eq!(truth.merchants[&m1], won(35_000));
        // A resubmission is answered as before; the same number for another merchant is
        // refused.
        let again = engine.sale(sale(1, "S-1", 35_000, m1)).await.unwrap();
        assert_eq!(again, paid);
        let other = engine
            .sale(sale(1, "S-1", 35_000, m2.no))
            .await
            .unwrap_err();
        assert!(
            matches!(
                other,
                EngineError::Rejected(Rejection::RequestNoReused { .. })
            ),
            "{other:?}"
        );
        assert_eq!(settle(&engine, "S-1").await, Settled::PaidOut);
        // Approved for good: the merchant's credit is no longer set aside, so all of it
        // can be paid back (a refund, raw here).
        engine
            .post(
                AccountId::merchant(m1),
                c,
                omnibus_core::Amount::krw(35_000).unwrap(),
            )
            .await
            .unwrap();
        assert!(engine.totals().await.unwrap().sum.is_zero());
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_sale_the_balance_cannot_pay_is_declined_and_nothing_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let m1 = m1_and_a_funded_customer(&engine, 50_000).await;
        let short = engine.sale(sale(1, "S-1", 50_001, m1)).await.unwrap();
        assert_eq!(short.told, Told::Failed);
        assert_eq!(
            balance(&engine, AccountId::customer(customer(1))).await,
            won(50_000)
        );
        assert!(balance(&engine, AccountId::merchant(m1)).await.is_zero());
        assert!(sim.truth().merchants.is_empty(), "nothing reached the firm");
        // A merchant the engine does not know is refused before anything is on record.
        let unknown = engine
            .sale(sale(1, "S-2", 1, MerchantNo(99)))
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, EngineError::Refusal { .. }),
            "{unknown:?}"
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_sale_that_times_out_is_declined_and_reversed_once_a_confirm_finds_it_done() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[rails.securities_firm]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let m1 = m1_and_a_funded_customer(&engine, 100_000).await;
        // The firm executes the transfer and its answer is lost.
        sim.set_rates(Rail::SecuritiesFirm, always("lost"));
        let timed_out = engine.sale(sale(1, "S-1", 20_000, m1)).await.unwrap();
        assert_eq!(
            (timed_out.told, timed_out.timed_out),
            (Told::Failed, true),
            "a merchant is never told approved on an unknown outcome: {timed_out:?}"
        );
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        // The confirm finds it done: the sale is booked, then reversed.
        assert_eq!(settle(&engine, "S-1").await, Settled::Refunded);
        made_whole(&engine, &sim, m1).await;
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_sale_done_after_its_caller_was_told_declined_at_the_deadline_is_reversed() {
    // The caller's deadline (50 ms) comes before the firm's answer (200 ms, within the
    // rail's timeout): the caller is told failed while the transfer is in flight. The
    // transfer then answers done: it must not stand (the merchant was told no).
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        &format!("{QUICK}[actors]\nanswer_deadline_ms = 50\n[rails.securities_firm]\ntimeout_ms = 2_000\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let m1 = m1_and_a_funded_customer(&engine, 100_000).await;
        let mut slow = healthy();
        slow.latency_us_min = 200_000;
        slow.latency_us_max = 200_000;
        sim.set_rates(Rail::SecuritiesFirm, slow);
        let told = engine.sale(sale(1, "S-1", 20_000, m1)).await.unwrap();
        assert_eq!(told.told, Told::Failed, "told at the deadline: {told:?}");
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        assert_eq!(settle(&engine, "S-1").await, Settled::Refunded);
        made_whole(&engine, &sim, m1).await;
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_timed_out_sale_is_confirmed_at_once_not_after_the_search_window() {
    // D-0.2: no supervisor pass here, and the non-reflected search's window is its
    // default 15 minutes: only the prompt confirm can settle the sale within seconds.
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        "[rails.securities_firm]\ntimeout_ms = 100\n[payments]\nconfirm_backoff_ms = 50\n",
    );
    let rt = runtime();
    rt.block_on(async {
        let m1 = m1_and_a_funded_customer(&engine, 100_000).await;
        // Executed, and the answer lost.
        sim.set_rates(Rail::SecuritiesFirm, always("lost"));
        let told = engine.sale(sale(1, "S-1", 20_000, m1)).await.unwrap();
        assert_eq!((told.told, told.timed_out), (Told::Failed, true));
        sim.set_rates(Rail::SecuritiesFirm, healthy());
        let start = std::time::Instant::now();
        loop {
            let view = engine.request("S-1".parse().unwrap()).await.unwrap();
            if view.outcome == Settled::Refunded {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "not confirmed and reversed promptly: {view:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        made_whole(&engine, &sim, m1).await;
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_sale_in_flight_at_a_crash_is_declined_and_reversed_soon_after_the_restart() {
    // The firm takes 500 ms to answer; the engine crashes before it does. After the
    // restart the sale is a timeout (declined) and, done at the firm, is reversed within
    // seconds, not after the non-reflected search's 15-minute window. (The restart also
    // confirms such an entry promptly, D-0.2; but this test passes without that too: the
    // entry reaches SUCCESS 1 ms after the restart's timeout, by a path not yet traced.)
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        1,
        "[rails.securities_firm]\ntimeout_ms = 5_000\n[payments]\nconfirm_backoff_ms = 50\n",
    );
    let sim = omnibus_actors::rails::sim::Simulator::new(&config);
    let start = || {
        let parts = omnibus_actors::EngineParts::new(
            sim.rails(),
            std::sync::Arc::new(omnibus_actors::SystemClock),
        );
        for _ in 0..100 {
            match Engine::start_with(config.clone(), parts.clone()) {
                Ok(engine) => return engine,
                // The halted engine's log lock goes with its writer thread.
                Err(e) if e.to_string().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("restart failed: {e}"),
            }
        }
        panic!("the data directory stayed locked");
    };
    let engine = start();
    let rt = runtime();
    let m1 = rt.block_on(m1_and_a_funded_customer(&engine, 100_000));
    let mut slow = healthy();
    slow.latency_us_min = 500_000;
    slow.latency_us_max = 500_000;
    sim.set_rates(Rail::SecuritiesFirm, slow);
    let in_flight = engine.clone();
    rt.spawn(async move { in_flight.sale(sale(1, "S-1", 20_000, m1)).await });
    std::thread::sleep(std::time::Duration::from_millis(150));
    engine.halt();
    drop(engine);
    sim.set_rates(Rail::SecuritiesFirm, healthy());
    let engine = start();
    rt.block_on(async {
        let begun = std::time::Instant::now();
        loop {
            let view = engine.request("S-1".parse().unwrap()).await.unwrap();
            if view.outcome == Settled::Refunded {
                let answer = view.answer.expect("answered");
                assert_eq!((answer.told, answer.timed_out), (Told::Failed, true));
                break;
            }
            assert!(
                begun.elapsed() < std::time::Duration::from_secs(10),
                "not confirmed and reversed promptly after the restart: {view:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        made_whole(&engine, &sim, m1).await;
    });
    engine.shutdown().unwrap();
}
