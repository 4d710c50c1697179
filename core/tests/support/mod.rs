//! What the core's state-machine property tests share: the books' log as the WAL holds it
//! (encoded payloads) with its snapshot cuts, books rebuilt from either, and the runner
//! that drives random operation sequences and checks every listed outcome was reached.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;

use omnibus_core::config::Config;
use omnibus_core::ledger::{
    decode_snapshot, encode_snapshot, BooksSnapshot, Lsn, ParentPlan, ShardBooks,
};
use omnibus_core::record::codec::{decode, Encoder};
use omnibus_core::record::LedgerRecord;
use omnibus_core::Amount;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

pub fn krw(won: i64) -> Amount {
    Amount::krw(won).unwrap()
}

/// One shard's parent plan on the embedded configuration.
pub fn plan() -> ParentPlan {
    ParentPlan::from_config(&Config::embedded(), 1)
}

/// `PROPTEST_CASES`, or 512.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

/// The records applied so far as encoded payloads, and the snapshot cuts taken.
#[derive(Default)]
pub struct Durable {
    log: Vec<(Lsn, Vec<u8>)>,
    cuts: Vec<(Lsn, Vec<u8>)>,
    encoder: Encoder,
}

impl Durable {
    /// Logs `record`, applied at `lsn`; answers it as decoded from its payload (checked
    /// equal to it).
    pub fn append(&mut self, lsn: Lsn, record: &LedgerRecord) -> LedgerRecord {
        let payload = self.encoder.encode(record).to_vec();
        let decoded = decode(&payload).unwrap();
        assert_eq!(&decoded, record);
        self.log.push((lsn, payload));
        decoded
    }

    /// Every record logged, decoded, in order.
    pub fn records(&self) -> impl Iterator<Item = LedgerRecord> + '_ {
        self.log.iter().map(|(_, payload)| decode(payload).unwrap())
    }

    /// Takes a snapshot cut of `books` as a snapshot file would hold it.
    pub fn cut(&mut self, books: &ShardBooks) {
        self.cuts.push((
            books.last_lsn(),
            encode_snapshot(&books.cut().into_snapshot()),
        ));
    }

    /// Books replayed from the whole log.
    pub fn rebuild_from_log(&self) -> ShardBooks {
        let mut books = ShardBooks::new(0, plan());
        for (lsn, payload) in &self.log {
            books.apply(*lsn, &decode(payload).unwrap()).unwrap();
        }
        books
    }

    /// Books loaded from the last cut, then the records after it.
    pub fn rebuild_from_cut(&self) -> ShardBooks {
        let (at, bytes) = self.cuts.last().expect("a cut is taken at the start");
        let snapshot: BooksSnapshot = decode_snapshot(bytes).unwrap();
        let mut books = ShardBooks::from_snapshot(plan(), snapshot).unwrap();
        for (lsn, payload) in self.log.iter().filter(|(lsn, _)| lsn > at) {
            books.apply(*lsn, &decode(payload).unwrap()).unwrap();
        }
        books
    }
}

/// A model under test: built fresh per case, stepped by each operation, checked after
/// each, and counting the outcomes it met.
pub trait Model {
    type Op: Debug;
    fn new() -> Self;
    fn step(&mut self, op: &Self::Op);
    fn check(&mut self);
    fn into_tally(self) -> BTreeMap<&'static str, u64>;
}

/// Runs `cases()` random sequences of 1 to 79 operations through a fresh model each,
/// checking it after every step, then requires every one of `outcomes` to have been
/// reached over the whole run.
pub fn run_model<M: Model>(op: impl Strategy<Value = M::Op>, outcomes: &[&str]) {
    let tally = std::cell::RefCell::new(BTreeMap::<&'static str, u64>::new());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(cases()));
    let started = std::time::Instant::now();
    runner
        .run(&prop::collection::vec(op, 1..80), |ops| {
            let mut world = M::new();
            world.check();
            for op in &ops {
                world.step(op);
                world.check();
            }
            for (what, n) in world.into_tally() {
                *tally.borrow_mut().entry(what).or_default() += n;
            }
            Ok(())
        })
        .unwrap();
    let tally = tally.into_inner();
    eprintln!(
        "{} cases in {:.1} s: {tally:?}",
        cases(),
        started.elapsed().as_secs_f64()
    );
    for what in outcomes {
        assert!(tally.contains_key(what), "no case reached: {what}");
    }
}
