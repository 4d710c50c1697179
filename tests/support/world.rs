//! A test world: an engine on simulated rails with customer 1 (linked at bank 004,
//! signature key 9_001) opened, the simulator for faults and the outside truth, and a
//! runtime to drive them. Shared by the SPEC §4 and supervisor tests.

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Engine, SupervisionReport};
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::{AccountNo, BankCode, Money, ParentAccount};

pub struct World {
    pub engine: Engine,
    pub sim: Simulator,
    pub key: ed25519_dalek::SigningKey,
    pub rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl World {
    /// An engine of `shards` shards with `extra` configuration (see `super::config`);
    /// customer 1 opened, and charged `funded` won on healthy rails if positive.
    pub fn new(shards: u32, extra: &str, funded: i64) -> World {
        let dir = tempfile::tempdir().unwrap();
        let (engine, sim) = super::start_sim(dir.path(), shards, extra);
        World::on(engine, sim, dir, funded)
    }

    /// The same, on an engine already started on `dir`.
    pub fn on(engine: Engine, sim: Simulator, dir: tempfile::TempDir, funded: i64) -> World {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (opened, key) = super::opened_with_key(1);
        rt.block_on(async {
            engine.open_customer(opened).await.unwrap();
            if funded > 0 {
                assert_eq!(
                    engine
                        .charge(super::charge(1, "FUND", funded))
                        .await
                        .unwrap()
                        .told,
                    Told::Succeeded
                );
                // Told with the credit's entry, before its result (issue 13): a read of
                // the balance waits for the credit, so the tests' faults come after it.
                assert_eq!(super::won(&engine, 1).await, funded);
            }
        });
        World {
            engine,
            sim,
            key,
            rt,
            _dir: dir,
        }
    }

    /// Waits until customer 1's last request has its outcome: a charge is answered with its
    /// credit's entry, before the credit's result (issue 13), and a read of the balance
    /// waits for that result. Tests that change the rails' behaviour after a charge call
    /// this first, so the change is not seen by the credit still in flight.
    pub fn after_turn(&self) {
        self.rt
            .block_on(self.engine.customer_balance(super::customer(1)))
            .unwrap();
    }

    /// Each entry of a request: its step and state.
    pub fn entries(&self, request_no: &str) -> Vec<(Step, EntryState)> {
        let view = self
            .rt
            .block_on(self.engine.request(request_no.parse().unwrap()))
            .unwrap();
        view.entries.iter().map(|e| (e.step, e.state)).collect()
    }

    /// Customer 1's balance in the engine, what is available of it, and at the
    /// securities firm.
    pub fn engine_won(&self) -> i64 {
        self.rt.block_on(super::won(&self.engine, 1))
    }

    pub fn available_won(&self) -> i64 {
        self.rt
            .block_on(self.engine.customer_balance(super::customer(1)))
            .unwrap()
            .available
            .value()
            .try_into()
            .unwrap()
    }

    pub fn truth_won(&self) -> i64 {
        self.sim
            .truth()
            .customer(super::customer(1))
            .value()
            .try_into()
            .unwrap()
    }

    /// Customer 1's linked account at the bank.
    pub fn linked_truth(&self) -> Money {
        self.sim.truth().linked(
            BankCode::new("004").unwrap(),
            AccountNo::new("110-000000001").unwrap(),
        )
    }

    pub fn parent_won(&self, parent: ParentAccount) -> i64 {
        self.rt
            .block_on(self.engine.parent_balance(parent))
            .unwrap()
            .total
            .value()
            .try_into()
            .unwrap()
    }

    pub fn supervise(&self) -> SupervisionReport {
        self.rt.block_on(self.engine.supervise_once()).unwrap()
    }

    /// Supervises until every entry is final and nothing is owed (at most 20 passes).
    pub fn settle(&self) -> SupervisionReport {
        let mut total = SupervisionReport::default();
        for _ in 0..20 {
            let r = self.supervise();
            total.add(&r);
            if r.settled() {
                return total;
            }
        }
        panic!("not settled after 20 passes: {total:?}");
    }

    /// Checks both sides still balance, then shuts the engine down.
    pub fn finish(self) {
        let totals = self.rt.block_on(self.engine.totals()).unwrap();
        assert!(
            totals.sum.is_zero(),
            "the engine's books balance: {totals:?}"
        );
        assert!(
            self.sim.truth().is_conserved(),
            "the outside world's money is conserved"
        );
        self.engine.shutdown().unwrap();
    }
}
