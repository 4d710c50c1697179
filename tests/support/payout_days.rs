//! Helpers of the payout and settlement tests (issue 14, INSTRUMENTS.md §6.5, §6.6): an
//! engine on a manual clock at 10:00 KST of a day D to come, the KST dates of its days,
//! and the realtime merchant m1.

use std::sync::Arc;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Engine, EngineParts, ManualClock};
use omnibus_core::ids::MerchantId;
use omnibus_core::payments::kst::{date_of_day, kst_day, kst_day_start_ms};
use omnibus_core::payments::merchant::{InstrumentType, PayoutSchedule};
use omnibus_core::RequestDate;

use super::cards::*;
use super::*;

pub const HOUR: u64 = 3_600_000;

/// A day D at 10:00 KST, some days from now.
pub fn day_d_ten_am() -> u64 {
    // The KST date that is tomorrow's UTC date: its 10:00 KST (01:00 UTC) is 10 to 34
    // hours ahead, and its UTC date one day after today's, within the engine's request
    // date window of the tests' `today()` (UTC). KST's tomorrow was two UTC days ahead
    // from 15:00 UTC on, and the tests failed then.
    kst_day_start_ms((now_ms() / 86_400_000) as u32 + 1) + 10 * HOUR
}

pub fn date(day: u32) -> RequestDate {
    let d = date_of_day(day);
    RequestDate::from_ymd(d.year as u32, d.month, d.day).unwrap()
}

pub fn start_at(dir: &std::path::Path, at_ms: u64) -> (Engine, Simulator, Arc<ManualClock>) {
    start_with(dir, at_ms, QUICK)
}

/// [`start_at`] with its own `extra` configuration.
pub fn start_with(
    dir: &std::path::Path,
    at_ms: u64,
    extra: &str,
) -> (Engine, Simulator, Arc<ManualClock>) {
    let config = config(dir, 2, extra);
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(at_ms));
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    (engine, sim, clock)
}

/// Merchant m1, taking prepaid cards, paid out in real time keeping `reserve_krw` back.
pub async fn realtime_m1(engine: &Engine, reserve_krw: u64) -> omnibus_core::ledger::MerchantEntry {
    let mut m1_merchant = merchant_taking("m1", &[InstrumentType::PrepaidCard]);
    m1_merchant.payout_schedule = PayoutSchedule::Realtime;
    m1_merchant.payout_reserve_krw = reserve_krw;
    engine.onboard_merchant(m1_merchant).await.unwrap().0
}

pub fn m1() -> MerchantId {
    MerchantId::new("m1").unwrap()
}

/// 03:00 KST of the day after `d`'s.
pub fn clock_now(d: u64) -> u64 {
    kst_day_start_ms(kst_day(d) + 1) + 3 * HOUR
}

/// Moves the clock to 00:05 KST of `day`, when the payouts of the day before are due, and
/// runs the supervisors' passes until they are done.
pub async fn payouts_of_day(engine: &Engine, clock: &ManualClock, day: u32) {
    clock.set_ms(kst_day_start_ms(day) + 5 * 60_000);
    for _ in 0..20 {
        engine.supervise_once().await.unwrap();
    }
}
