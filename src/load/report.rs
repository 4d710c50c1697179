//! What a load run measured: latency histograms (HDR, microseconds), counts per outcome,
//! and the summary printed for people or as one JSON object.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::target::FAILED_OVERLAPPING;

/// The operation kinds of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Charge,
    Remit,
    RemitSigned,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Charge, Kind::Remit, Kind::RemitSigned];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Charge => "charge",
            Kind::Remit => "remit",
            Kind::RemitSigned => "remit_signed",
        }
    }
}

/// Latencies above this are recorded as this (an hour, far beyond any call's timeout).
const LATENCY_MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

pub struct Recorder {
    all: Histogram<u64>,
    by_kind: BTreeMap<Kind, Histogram<u64>>,
    pub outcomes: BTreeMap<String, u64>,
    /// Open loop: how late each send left against its scheduled time. Latency is
    /// measured from the scheduled time, so this lag is inside every latency; it shows
    /// how much of a figure is the generator's own (timer granularity, a busy client).
    send_lag: Histogram<u64>,
    pub completed: u64,
    pub errors: u64,
    pub calls: u64,
}

/// Outcomes that are answers about a request, not errors.
fn is_answer(outcome: &str) -> bool {
    outcome == "succeeded" || outcome == "failed" || outcome == FAILED_OVERLAPPING
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            all: histogram(),
            by_kind: Kind::ALL.iter().map(|k| (*k, histogram())).collect(),
            outcomes: BTreeMap::new(),
            send_lag: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
                .expect("valid histogram bounds"),
            completed: 0,
            errors: 0,
            calls: 0,
        }
    }

    /// How many operations had `outcome`.
    pub fn count(&self, outcome: &str) -> u64 {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    /// Told `failed`, apart from the remittances that overlapped another remittance of
    /// their customer.
    pub fn failed(&self) -> u64 {
        self.count("failed")
    }

    /// Remittances told `failed` because another remittance of the same customer took
    /// the balance they were planned against (`target::overlapped`).
    pub fn failed_overlapping(&self) -> u64 {
        self.count(FAILED_OVERLAPPING)
    }

    pub fn record_send_lag(&mut self, lag: Duration) {
        self.send_lag
            .saturating_record((lag.as_micros() as u64).clamp(1, LATENCY_MAX_US));
    }

    pub fn record(&mut self, kind: Kind, outcome: String, calls: u32, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, LATENCY_MAX_US);
        self.all.saturating_record(us);
        if let Some(h) = self.by_kind.get_mut(&kind) {
            h.saturating_record(us);
        }
        if !is_answer(&outcome) {
            self.errors += 1;
        }
        *self.outcomes.entry(outcome).or_default() += 1;
        self.completed += 1;
        self.calls += u64::from(calls);
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// How the run was driven, for the summary.
pub struct RunInfo {
    pub target: String,
    pub open_loop: bool,
    pub rate: Option<u64>,
    pub concurrency: Option<u64>,
    pub customers: u64,
    pub elapsed: Duration,
    /// Every request number of the run starts with this, so its requests can be looked
    /// up afterwards (`GET /v1/requests/{prefix}{i}`).
    pub request_prefix: String,
}

fn percentiles(h: &Histogram<u64>) -> Value {
    json!({
        "requests": h.len(),
        "p50_us": h.value_at_quantile(0.50),
        "p90_us": h.value_at_quantile(0.90),
        "p99_us": h.value_at_quantile(0.99),
        "p999_us": h.value_at_quantile(0.999),
        "max_us": h.max(),
        "mean_us": h.mean().round() as u64,
    })
}

pub fn summary_json(info: &RunInfo, r: &Recorder) -> Value {
    let secs = info.elapsed.as_secs_f64().max(1e-9);
    let mut out = percentiles(&r.all);
    let obj = out.as_object_mut().expect("an object");
    obj.insert("target".into(), json!(info.target));
    obj.insert(
        "loop".into(),
        json!(if info.open_loop { "open" } else { "closed" }),
    );
    obj.insert("rate".into(), json!(info.rate));
    obj.insert("concurrency".into(), json!(info.concurrency));
    obj.insert("customers".into(), json!(info.customers));
    obj.insert("request_prefix".into(), json!(info.request_prefix));
    obj.insert("duration_s".into(), json!((secs * 1000.0).round() / 1000.0));
    obj.insert(
        "requests_per_sec".into(),
        json!((r.completed as f64 / secs * 10.0).round() / 10.0),
    );
    obj.insert("calls".into(), json!(r.calls));
    obj.insert("errors".into(), json!(r.errors));
    obj.insert("outcomes".into(), json!(r.outcomes));
    obj.insert("succeeded".into(), json!(r.count("succeeded")));
    obj.insert("failed".into(), json!(r.failed()));
    obj.insert(
        "failed_overlapping_remittances".into(),
        json!(r.failed_overlapping()),
    );
    if info.open_loop {
        obj.insert(
            "send_lag_p50_us".into(),
            json!(r.send_lag.value_at_quantile(0.5)),
        );
        obj.insert(
            "send_lag_p99_us".into(),
            json!(r.send_lag.value_at_quantile(0.99)),
        );
        obj.insert("send_lag_max_us".into(), json!(r.send_lag.max()));
    }
    let kinds: serde_json::Map<String, Value> = r
        .by_kind
        .iter()
        .map(|(k, h)| (k.as_str().to_owned(), percentiles(h)))
        .collect();
    obj.insert("kinds".into(), Value::Object(kinds));
    out
}

pub fn summary_text(info: &RunInfo, r: &Recorder) -> String {
    let secs = info.elapsed.as_secs_f64().max(1e-9);
    let driven = if info.open_loop {
        format!(
            "open loop at {} requests/s (latency from each request's scheduled send time)",
            info.rate.unwrap_or(0)
        )
    } else {
        format!("closed loop, {} in flight", info.concurrency.unwrap_or(0))
    };
    let mut text = format!(
        "omnibus load: {} — {driven}, {} customers, request numbers {}N\n",
        info.target, info.customers, info.request_prefix
    );
    text += &format!(
        "  requests   {} in {:.2} s = {:.1} requests/s ({} calls), {} errors\n",
        r.completed,
        secs,
        r.completed as f64 / secs,
        r.calls,
        r.errors
    );
    let outcomes: Vec<String> = r.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    text += &format!("  outcomes   {}\n", outcomes.join(", "));
    // Told failed, and apart from them the remittances that overlapped another remittance
    // of their customer (the engine plans a remittance against the balance it finds when
    // it accepts it; it does not yet order one customer's requests).
    text += &format!("  succeeded={}\n", r.count("succeeded"));
    text += &format!("  failed={}\n", r.failed());
    text += &format!(
        "  failed_overlapping_remittances={}\n",
        r.failed_overlapping()
    );
    if info.open_loop {
        text += &format!(
            "  send lag   p50 {} us, p99 {} us, max {} us (how late sends left; included in every latency below)\n",
            r.send_lag.value_at_quantile(0.5),
            r.send_lag.value_at_quantile(0.99),
            r.send_lag.max()
        );
    }
    text += "  latency us       p50      p90      p99    p99.9      max    count\n";
    let mut row = |name: &str, h: &Histogram<u64>| {
        text += &format!(
            "  {name:<12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.90),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            h.len()
        );
    };
    row("all", &r.all);
    for (kind, h) in &r.by_kind {
        row(kind.as_str(), h);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_the_outcomes_that_are_not_answers() {
        let mut r = Recorder::new();
        r.record(
            Kind::Charge,
            "succeeded".into(),
            1,
            Duration::from_micros(100),
        );
        r.record(Kind::Remit, "failed".into(), 1, Duration::from_micros(200));
        r.record(
            Kind::RemitSigned,
            "overloaded".into(),
            2,
            Duration::from_micros(300),
        );
        assert_eq!((r.completed, r.errors, r.calls), (3, 1, 4));
        let info = RunInfo {
            target: "embedded".into(),
            open_loop: false,
            rate: None,
            concurrency: Some(1),
            customers: 1,
            elapsed: Duration::from_secs(1),
            request_prefix: "L0-".into(),
        };
        let json = summary_json(&info, &r);
        assert_eq!(json["errors"], 1);
        assert_eq!(
            (json["failed"].as_u64(), json["succeeded"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(json["outcomes"]["overloaded"], 1);
        assert_eq!(json["requests_per_sec"], 3.0);
        assert!(json["p999_us"].as_u64().unwrap() >= 299);
    }
}

#[cfg(test)]
mod overlapping {
    use super::*;

    #[test]
    fn overlapping_remittances_are_answers_counted_apart_from_failed() {
        let mut r = Recorder::new();
        let us = Duration::from_micros(100);
        r.record(Kind::Charge, "succeeded".into(), 1, us);
        r.record(Kind::Remit, "failed".into(), 1, us);
        for _ in 0..2 {
            r.record(Kind::RemitSigned, FAILED_OVERLAPPING.into(), 2, us);
        }
        assert_eq!((r.errors, r.failed(), r.failed_overlapping()), (0, 1, 2));
        let info = RunInfo {
            target: "embedded".into(),
            open_loop: false,
            rate: None,
            concurrency: Some(64),
            customers: 1,
            elapsed: Duration::from_secs(1),
            request_prefix: "L0-".into(),
        };
        let text = summary_text(&info, &r);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert!(lines.contains(&"failed=1"), "{text}");
        assert!(
            lines.contains(&"failed_overlapping_remittances=2"),
            "{text}"
        );
        assert!(lines.contains(&"succeeded=1"), "{text}");
        let json = summary_json(&info, &r);
        assert_eq!(json["failed"], 1);
        assert_eq!(json["failed_overlapping_remittances"], 2);
        assert_eq!(json["outcomes"][FAILED_OVERLAPPING], 2);
    }
}
