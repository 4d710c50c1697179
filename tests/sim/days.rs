//! The simulation's days (issue 14; INSTRUMENTS.md D-5.10, §6.6): the engine runs on a
//! clock that is the system's plus an offset the simulation moves forward, now and then
//! by 6 to 30 hours (at most three times a seed), so that KST days end among the
//! operations. Next-day statements then fall due at 09:00 and go out through a sink that
//! refuses every delivery on some days and loses its answers on others, and the daily
//! merchant (m1) is paid out D+1; all under the seed's rail faults and crashes, drawn
//! from a random stream of their own. At the end the sink heals and the clock moves past
//! 09:00 of the next day. Once the supervisors are quiescent:
//!
//! - every day a pocket moved, before today, has its statement on record and delivered,
//!   and the sink holds its notice under its key (the sink keeps one per key, however
//!   often it was asked: the engine's part is asking until one delivery is answered);
//! - the sink took no notice for a day the pocket did not move;
//! - each card's days chain: the first opens at 0, each opens where the one before
//!   closed, and the last (today's when the pocket moved today) closes at the pocket's
//!   balance in the books.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Clock, Engine, EngineError, SystemClock};
use omnibus_core::ids::CardSeq;
use omnibus_core::payments::kst::{date_of_day, kst_day};
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::payments::RefusalCode;
use omnibus_core::statement::{statement_due_ms, statement_key};
use omnibus_core::{AccountId, CustomerId, RequestDate};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The system's clock plus an offset that only grows.
#[derive(Debug, Default)]
pub struct SimClock {
    offset_ms: AtomicU64,
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        SystemClock.now_ms() + self.offset_ms.load(Ordering::Acquire)
    }
}

/// The most days a seed moves its clock: with the last move, at most five KST days
/// pass, inside the seven the books keep of each pocket (`POCKET_DAYS_KEPT`).
const JUMPS_MAX: u64 = 3;

pub struct Days {
    rng: StdRng,
    pub clock: Arc<SimClock>,
    first_day: u32,
    /// Times the clock moved, the last move included.
    pub jumps: u64,
}

impl Days {
    pub fn new(seed: u64) -> Days {
        let clock = Arc::new(SimClock::default());
        Days {
            rng: StdRng::seed_from_u64(seed ^ 0xda75_da75),
            first_day: kst_day(clock.now_ms()),
            clock,
            jumps: 0,
        }
    }

    /// Maybe time passes before an operation; the sink's mood for the new stretch.
    pub fn step(&mut self, sim: &Simulator) {
        if self.jumps >= JUMPS_MAX || self.rng.random_range(0..40) != 0 {
            return;
        }
        let hours = self.rng.random_range(6..=30);
        self.clock
            .offset_ms
            .fetch_add(hours * 3_600_000, Ordering::AcqRel);
        self.jumps += 1;
        sim.set_notices_refused(self.rng.random_range(0..4) == 0);
        sim.set_notice_answers_lost(self.rng.random_range(0..4) == 0);
    }

    /// The end: the sink heals and the clock moves a minute past 09:00 of the next day,
    /// so that every day before is due.
    pub fn last(&mut self, sim: &Simulator) {
        sim.set_notices_refused(false);
        sim.set_notice_answers_lost(false);
        let now = self.clock.now_ms();
        let due = statement_due_ms(kst_day(now)) + 60_000;
        self.clock.offset_ms.fetch_add(due - now, Ordering::AcqRel);
        self.jumps += 1;
    }

    /// Runs the supervisors until a pass delivers no statement twice in a row (each pass
    /// after the sink's longest backoff in the simulation, 4 ms).
    pub fn deliver(&self, rt: &tokio::runtime::Runtime, engine: &Engine, seed: u64) {
        let mut quiet = 0;
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(5));
            let report = rt.block_on(engine.supervise_once()).unwrap();
            quiet = if report.notices == 0 { quiet + 1 } else { 0 };
            if quiet == 2 {
                return;
            }
        }
        panic!("seed {seed}: the statements kept being delivered for 40 passes");
    }

    /// The checks of the module's notes for the first card of each of `customers`;
    /// answers how many statements were checked.
    pub fn check(
        &self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        sim: &Simulator,
        customers: &[u64],
        seed: u64,
    ) -> u64 {
        let today = kst_day(self.clock.now_ms());
        let delivered = sim.notices();
        let mut checked = 0;
        for customer in customers {
            let c = CustomerId::new(*customer).unwrap();
            let card = CardId {
                customer: c,
                seq: CardSeq(1),
            };
            let mut closing = rust_decimal::Decimal::ZERO;
            let mut moved_days = 0;
            for day in self.first_day..=today {
                let key = statement_key(c, CardSeq(1), day);
                let at_sink: Vec<u32> = delivered
                    .iter()
                    .filter(|(n, _)| n.key == key)
                    .map(|(_, asked)| *asked)
                    .collect();
                let d = date_of_day(day);
                let date: RequestDate = format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
                    .parse()
                    .unwrap();
                match rt.block_on(engine.card_statement(card, date)) {
                    Ok(s) => {
                        assert_eq!(
                            s.statement.opening, closing,
                            "seed {seed}: {key} opens at {}, the day before closed at {closing}",
                            s.statement.opening
                        );
                        closing = s.statement.closing();
                        if day < today {
                            moved_days += 1;
                            let notice = s.notice.as_ref().unwrap_or_else(|| {
                                panic!("seed {seed}: {key} is due and not on record")
                            });
                            assert!(
                                notice.delivered_at_ms > 0,
                                "seed {seed}: {key} is due and not delivered: {notice:?}"
                            );
                            assert_eq!(
                                at_sink.len(),
                                1,
                                "seed {seed}: {key} delivered, the sink does not have it"
                            );
                            checked += 1;
                        }
                    }
                    Err(EngineError::Refusal {
                        code: RefusalCode::NotFound,
                        ..
                    }) => {
                        assert!(
                            at_sink.is_empty(),
                            "seed {seed}: the sink took {key}, a day the pocket did not move"
                        );
                    }
                    Err(e) => panic!("seed {seed}: the statement {key}: {e}"),
                }
            }
            let sent = delivered
                .iter()
                .filter(|(n, _)| n.to == omnibus_actors::rails::Recipient::Customer(c))
                .count();
            assert_eq!(
                sent, moved_days,
                "seed {seed}: the sink took {sent} statements of customer {customer}, {moved_days} days moved"
            );
            let booked = rt
                .block_on(engine.account_balance(AccountId::pocket(c, CardSeq(1))))
                .unwrap();
            assert_eq!(
                booked.value(),
                closing,
                "seed {seed}: customer {customer}'s pocket holds {booked}, its last day closed at {closing}"
            );
        }
        checked
    }
}
