//! Failures are loud (issue 11, item 8): a panic on an engine's thread stops the engine;
//! every later call answers an internal error naming the cause, and `health` reports it.

mod support;

use std::sync::Arc;

use omnibus_actors::rails::{
    AccountInquiry, AccountVerdict, Answer, BankFirm, Confirmed, Deposit, RailError, RailFuture,
    RailRequestId, Settlement, Statement, Withdrawal,
};
use omnibus_actors::{Engine, EngineError, EngineParts, SystemClock};
use support::*;

/// A bank adapter with a bug: every withdrawal panics, on the shard's thread.
struct PanickingBank(Arc<dyn BankFirm>);

impl BankFirm for PanickingBank {
    fn withdraw(&self, _: Withdrawal) -> RailFuture<Answer> {
        panic!("a bug in the bank adapter");
    }
    fn deposit(&self, deposit: Deposit) -> RailFuture<Answer> {
        self.0.deposit(deposit)
    }
    fn settle(&self, settlement: Settlement) -> RailFuture<Answer> {
        self.0.settle(settlement)
    }
    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed> {
        self.0.confirm(id)
    }
    fn statement(&self) -> RailFuture<Statement> {
        self.0.statement()
    }
    fn verify_account(
        &self,
        inquiry: AccountInquiry,
    ) -> RailFuture<Result<AccountVerdict, RailError>> {
        self.0.verify_account(inquiry)
    }
}

#[test]
fn a_panic_on_a_shard_thread_stops_the_engine_and_every_call_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 2, "");
    let sim = omnibus_actors::rails::sim::Simulator::new(&config);
    let mut rails = sim.rails();
    rails.bank_firm = Arc::new(PanickingBank(rails.bank_firm.clone()));
    let engine =
        Engine::start_with(config, EngineParts::new(rails, Arc::new(SystemClock))).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        assert!(engine.health().is_ok());
        let charged = engine.charge(charge(1, "BOOM", 1_000)).await;
        assert!(
            matches!(&charged, Err(EngineError::Internal(cause)) if cause.contains("a bug in the bank adapter")),
            "{charged:?}"
        );
        let health = engine.health().unwrap_err();
        assert!(health.contains("a bug in the bank adapter"), "{health}");
        // Every later call, on any shard, is refused naming the cause: nothing more moves.
        let later = engine.customer_balance(customer(1)).await;
        assert!(matches!(later, Err(EngineError::Internal(_))), "{later:?}");
    });
}

#[test]
fn the_conservation_sum_kept_as_records_apply_agrees_with_adding_every_account_up() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, "");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for n in 1..=6 {
            engine.open_customer(opened(n)).await.unwrap();
            engine
                .charge(charge(n, &format!("C-{n}"), 5_000 * n as i64))
                .await
                .unwrap();
            engine
                .remit(remit(n, &format!("X-{n}"), 1_000))
                .await
                .unwrap();
        }
        let totals = engine.totals().await.unwrap();
        assert!(totals.sum.is_zero(), "{totals:?}");
        for (shard, (kept, scanned)) in engine.audit().await.unwrap().into_iter().enumerate() {
            assert_eq!(kept, scanned, "shard {shard}");
            assert!(kept.is_zero());
        }
    });
    engine.shutdown().unwrap();
}
