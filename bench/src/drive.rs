//! The drivers every benchmark uses. Closed loop: `count` operations, at most
//! `in_flight` outstanding, progress on stderr every two seconds, the first error ends
//! the run. Open loop: a fixed rate, latency from each operation's scheduled send time
//! (corrected for coordinated omission), into an HDR histogram.

use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;

pub async fn closed_loop<F, Fut, T, E>(
    count: u64,
    in_flight: usize,
    mut op: F,
) -> Result<Duration, String>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let mut running = FuturesUnordered::new();
    let mut next = 0u64;
    let mut last_report = Instant::now();
    while next < count || !running.is_empty() {
        while next < count && running.len() < in_flight {
            running.push(op(next));
            next += 1;
        }
        if let Some(result) = running.next().await {
            result.map_err(|e| e.to_string())?;
        }
        if last_report.elapsed() > Duration::from_secs(2) {
            eprintln!("  {next}/{count}");
            last_report = Instant::now();
        }
    }
    Ok(started.elapsed())
}

/// What an open-loop run measured, in microseconds.
pub(crate) struct Latencies {
    pub(crate) sagas: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
    /// How late the generator itself sent (from the scheduled time): part of every
    /// latency above, the client's share rather than the engine's.
    send_lag_p99: u64,
}

impl Latencies {
    /// One `name=value unit` line per figure, each named `<prefix>_<figure>`.
    pub(crate) fn print_as(&self, prefix: &str) {
        println!("{prefix}_p50_us={} us", self.p50);
        println!("{prefix}_p90_us={} us", self.p90);
        println!("{prefix}_p99_us={} us", self.p99);
        println!("{prefix}_p999_us={} us", self.p999);
        println!("{prefix}_max_us={} us", self.max);
        println!("{prefix}_send_lag_p99_us={} us", self.send_lag_p99);
    }

    /// The flows' figures (`saga_...`).
    pub(crate) fn print(&self) {
        self.print_as("saga");
    }
}

/// Open loop at `rate` per second for `secs`: `op(i)` is sent at its scheduled time
/// (catching up after a stall), its latency measured from then. `tick` gets the number
/// answered so far every `every` (on the generator's thread: keep it short).
pub(crate) fn open_loop<F, Fut>(
    rate: f64,
    secs: u64,
    rt: &tokio::runtime::Runtime,
    every: Duration,
    mut tick: impl FnMut(u64) -> Result<(), String>,
    op: F,
) -> Result<Latencies, String>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let total = (rate * secs as f64) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    rt.block_on(async {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut histogram =
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
        let mut lags =
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
        let started = tokio::time::Instant::now();
        let mut running = FuturesUnordered::new();
        let mut next = 0u64;
        loop {
            // Send everything whose time has come (catching up after a stall).
            let now = tokio::time::Instant::now();
            while next < total && started + interval * next as u32 <= now {
                let scheduled = started + interval * next as u32;
                let lag = now.saturating_duration_since(scheduled);
                lags.record(lag.as_micros().max(1) as u64)
                    .map_err(|e| e.to_string())?;
                let sent = op(next);
                running.push(async move {
                    let result = sent.await;
                    (result, scheduled.elapsed())
                });
                next += 1;
            }
            if next >= total && running.is_empty() {
                break;
            }
            let wake = started + interval * next.min(total - 1) as u32;
            tokio::select! {
                Some((result, latency)) = running.next(), if !running.is_empty() => {
                    result?;
                    histogram.record(latency.as_micros().max(1) as u64).map_err(|e| e.to_string())?;
                }
                () = tokio::time::sleep_until(wake), if next < total => {}
                _ = ticks.tick() => tick(histogram.len())?,
            }
        }
        Ok(Latencies {
            sagas: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            send_lag_p99: lags.value_at_quantile(0.99),
        })
    })
}
