//! Prometheus metrics at `/metrics` (text exposition format 0.0.4).
//!
//! Two kinds of figures:
//! - what the server itself observes, kept in a registry for the server's life: HTTP
//!   requests by route, status and outcome, their latency, and the latency of sagas
//!   (charges and remittances, from the engine call to its answer);
//! - what the engine knows, read fresh at each scrape from `Engine::totals`,
//!   `Engine::parent_balances` and `Engine::queued_requests` into a registry made for
//!   that scrape: WAL group commits and sync time, UNKNOWN entries waiting, flows in
//!   flight, parent account balances. Reading them at scrape time means no copy of
//!   engine state is kept here that could go stale.

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use omnibus_actors::Engine;
use prometheus::{
    exponential_buckets, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};
use rust_decimal::prelude::ToPrimitive;

use super::errors::ApiError;
use super::views::parent_parts;
use super::AppState;

/// The outcome label of a successful answer, put in the response's extensions by the
/// handler (`succeeded` or `failed` for a saga, `created` for an opening, ...).
#[derive(Clone, Copy, Debug)]
pub struct OutcomeLabel(pub &'static str);

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    saga_duration: HistogramVec,
    pub events_lagged: IntCounter,
    pub event_streams: IntGauge,
}

fn must<T>(result: prometheus::Result<T>) -> T {
    // Metric definitions are constants of this file; an invalid one is a bug found by
    // the first test that starts a server.
    result.expect("metric definitions are valid")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = must(IntCounterVec::new(
            Opts::new(
                "omnibus_http_requests_total",
                "HTTP requests answered, by method, route, status and outcome (an error code, or the outcome of a success)",
            ),
            &["method", "path", "status", "outcome"],
        ));
        // 50 us to about 52 s, doubling.
        let latency_buckets = must(exponential_buckets(0.000_05, 2.0, 21));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "omnibus_http_request_duration_seconds",
                "Time from a request's arrival to its answer's head, by route",
            )
            .buckets(latency_buckets.clone()),
            &["path"],
        ));
        let saga_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "omnibus_saga_duration_seconds",
                "Time from submitting a charge or remittance to the engine to its durable answer, by kind and what the customer was told",
            )
            .buckets(latency_buckets),
            &["kind", "told"],
        ));
        let events_lagged = must(IntCounter::new(
            "omnibus_events_lagged_total",
            "Events an event-stream client missed because it fell behind the engine's event buffer",
        ));
        let event_streams = must(IntGauge::new(
            "omnibus_event_streams",
            "Event-stream clients connected now",
        ));
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(saga_duration.clone()),
            Box::new(events_lagged.clone()),
            Box::new(event_streams.clone()),
        ] {
            must(registry.register(collector));
        }
        Self {
            registry,
            http_requests,
            http_duration,
            saga_duration,
            events_lagged,
            event_streams,
        }
    }

    /// Counts one answered request. `path` is the route's pattern (`/v1/customers/{id}`),
    /// never the raw path, so the label set stays bounded.
    pub fn observe_http(&self, method: &str, path: &str, response: &ServiceResponse, seconds: f64) {
        let status = response.status();
        let outcome = outcome_of(response);
        self.http_requests
            .with_label_values(&[method, path, status.as_str(), outcome])
            .inc();
        self.http_duration
            .with_label_values(&[path])
            .observe(seconds);
    }

    pub fn observe_saga(&self, kind: &str, told: &str, seconds: f64) {
        self.saga_duration
            .with_label_values(&[kind, told])
            .observe(seconds);
    }

    /// The exposition text: the server's own figures and a fresh read of the engine's.
    pub async fn render(&self, engine: &Engine) -> Result<String, ApiError> {
        let scrape = engine_figures(engine).await?;
        let mut families = self.registry.gather();
        families.extend(scrape.gather());
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "metrics_failed",
                    e.to_string(),
                )
            })?;
        String::from_utf8(out).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics_failed",
                e.to_string(),
            )
        })
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn outcome_of(response: &ServiceResponse) -> &'static str {
    if let Some(label) = response.response().extensions().get::<OutcomeLabel>() {
        return label.0;
    }
    if let Some(error) = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        return error.code;
    }
    if response.status().is_success() {
        "ok"
    } else {
        "error"
    }
}

fn won(money: omnibus_core::Money) -> f64 {
    money.value().to_f64().unwrap_or(f64::NAN)
}

/// A registry holding the engine's figures as of now.
async fn engine_figures(engine: &Engine) -> Result<Registry, ApiError> {
    let totals = engine.totals().await?;
    let parents = engine.parent_balances().await?;
    let queued = engine.queued_requests();
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, labels: &[&str]| -> GaugeVec {
        let g = must(GaugeVec::new(Opts::new(name, help), labels));
        must(registry.register(Box::new(g.clone())));
        g
    };
    let counter = |name: &str, help: &str| -> prometheus::CounterVec {
        let c = must(prometheus::CounterVec::new(
            Opts::new(name, help),
            &["shard"],
        ));
        must(registry.register(Box::new(c.clone())));
        c
    };
    let records = counter(
        "omnibus_wal_records_written_total",
        "Records written to the shard's write-ahead log since the engine started",
    );
    let groups = counter(
        "omnibus_wal_groups_written_total",
        "Group commits (one write and at most one sync each); records / groups is the mean WAL batch size",
    );
    let syncs = counter("omnibus_wal_syncs_total", "fdatasync calls on WAL segments");
    let sync_seconds = counter(
        "omnibus_wal_sync_seconds_total",
        "Time spent in those fdatasync calls",
    );
    let bytes = counter("omnibus_wal_bytes_written_total", "WAL frame bytes written");
    let last_group = gauge(
        "omnibus_wal_last_group_records",
        "Records in the shard's most recent group commit (WAL batch size)",
        &["shard"],
    );
    let wal_queued = gauge(
        "omnibus_wal_queued_records",
        "Records waiting for the shard's WAL writer (bounded by wal.queue_records_max)",
        &["shard"],
    );
    let entries = gauge(
        "omnibus_request_log_entries_open",
        "Open request-log entries by state; UNKNOWN ones wait for the confirm inquiry",
        &["shard", "state"],
    );
    let owed = gauge(
        "omnibus_steps_owed",
        "Requests owing a step not yet created (a recovery, a refund, a credit due); zero, with no open entries and no unanswered request, when everything is settled",
        &["shard"],
    );
    let unanswered = gauge(
        "omnibus_requests_unanswered",
        "Accepted requests whose caller has not been answered yet (answered within actors.answer_deadline_ms)",
        &["shard"],
    );
    let in_memory = gauge(
        "omnibus_requests_in_memory",
        "Requests in a shard's memory: open ones and, up to archive.recent_max, recently settled ones",
        &["shard"],
    );
    let archived = gauge(
        "omnibus_requests_archived",
        "Settled requests in a shard's on-disk archive, answered from there (docs/archive.md)",
        &["shard"],
    );
    let snapshot_pause = gauge(
        "omnibus_snapshot_pause_max_us",
        "The longest a snapshot's cut stopped a shard's thread since it started, in microseconds (copying out and serializing run on a thread of their own)",
        &["shard"],
    );
    let short = counter(
        "omnibus_requests_refused_parent_slice_short_total",
        "Requests told failed before any call because a parent account's slice could not fund them",
    );
    let sagas = gauge(
        "omnibus_sagas_in_flight",
        "Charges and remittances being driven live",
        &["shard"],
    );
    let mailbox = gauge(
        "omnibus_engine_queued_requests",
        "Requests admitted to the shard and not yet handled (bounded by actors.mailbox_capacity)",
        &["shard"],
    );
    let customers = gauge("omnibus_customers", "Customers opened", &["shard"]);
    let books_sum = gauge(
        "omnibus_books_sum_won",
        "Sum of every account's balance, external accounts and money in transit included; zero while the books balance",
        &[],
    );
    let parent_total = gauge(
        "omnibus_parent_balance_won",
        "A parent account's balance: the sum of its slices",
        &["account", "kind", "bank"],
    );
    let parent_slice = gauge(
        "omnibus_parent_slice_balance_won",
        "One shard's slice of a parent account",
        &["account", "kind", "bank", "shard"],
    );
    for s in &totals.shards {
        let shard = s.shard.to_string();
        let l = [shard.as_str()];
        records
            .with_label_values(&l)
            .inc_by(s.wal.records_written as f64);
        groups
            .with_label_values(&l)
            .inc_by(s.wal.groups_written as f64);
        syncs.with_label_values(&l).inc_by(s.wal.syncs as f64);
        sync_seconds
            .with_label_values(&l)
            .inc_by(s.wal.sync_time_total_ns as f64 / 1e9);
        bytes
            .with_label_values(&l)
            .inc_by(s.wal.bytes_written as f64);
        last_group
            .with_label_values(&l)
            .set(s.wal.last_group_records as f64);
        wal_queued
            .with_label_values(&l)
            .set(s.wal.queued_records as f64);
        for (state, count) in [
            ("REQUESTED", s.entries_requested),
            ("UNKNOWN", s.entries_unknown),
            ("FAIL_TRY_AGAIN", s.entries_try_again),
        ] {
            entries
                .with_label_values(&[shard.as_str(), state])
                .set(count as f64);
        }
        sagas.with_label_values(&l).set(s.sagas_in_flight as f64);
        owed.with_label_values(&l).set(s.steps_owed as f64);
        unanswered
            .with_label_values(&l)
            .set(s.requests_unanswered as f64);
        in_memory.with_label_values(&l).set(s.requests as f64);
        archived
            .with_label_values(&l)
            .set(s.archived_requests as f64);
        snapshot_pause
            .with_label_values(&l)
            .set(s.snapshot_pause_max_us as f64);
        short
            .with_label_values(&l)
            .inc_by(s.refused_parent_slice_short as f64);
        customers.with_label_values(&l).set(s.customers as f64);
    }
    for (shard, count) in queued.iter().enumerate() {
        mailbox
            .with_label_values(&[shard.to_string().as_str()])
            .set(*count as f64);
    }
    books_sum
        .with_label_values(&[] as &[&str])
        .set(won(totals.sum));
    for p in &parents {
        let account = p.parent.to_string();
        let (kind, bank) = parent_parts(p.parent);
        let bank = bank.unwrap_or_default();
        parent_total
            .with_label_values(&[account.as_str(), kind, bank.as_str()])
            .set(won(p.total));
        for (shard, slice) in p.slices.iter().enumerate() {
            parent_slice
                .with_label_values(&[
                    account.as_str(),
                    kind,
                    bank.as_str(),
                    shard.to_string().as_str(),
                ])
                .set(won(*slice));
        }
    }
    Ok(registry)
}

pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = state.metrics.render(&state.engine).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
