//! The closed-loop driver every benchmark uses: `count` operations, at most `in_flight`
//! outstanding, progress on stderr every two seconds, the first error ends the run.

use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

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
