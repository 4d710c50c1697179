//! `GET /v1/events`: the engine's state changes as server-sent events.
//!
//! Each client gets its own cursor into the engine's broadcast buffer
//! (`Engine::subscribe`, bounded by `actors.events_buffer`), and the response body is
//! pulled by the connection, so nothing queues here: a client that reads too slowly
//! falls behind the buffer and is sent a `lagged` event saying how many it missed. At
//! most `server.event_streams_max` clients are served at once. Streams end when the
//! server shuts down, so they never hold a graceful shutdown up.
//!
//! Events: `ready` (subscribed; everything after it is delivered), `accepted`,
//! `entry_changed`, `answered` (each once durable), `lagged`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use omnibus_actors::EngineEvent;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use super::errors::ApiError;
use super::metrics::Metrics;
use super::views::told_str;
use super::AppState;

/// How often an idle stream sends a comment line, so that proxies and clients can tell
/// a quiet stream from a dead connection.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Counts open streams against the configured maximum.
pub struct StreamSlots {
    open: AtomicU32,
    max: u32,
}

impl StreamSlots {
    pub fn new(max: u32) -> Self {
        Self {
            open: AtomicU32::new(0),
            max,
        }
    }
}

/// One stream's slot, given back when the stream is dropped (the client went away or
/// the stream ended).
struct Slot {
    slots: Arc<StreamSlots>,
    metrics: Arc<Metrics>,
}

impl Slot {
    fn take(slots: &Arc<StreamSlots>, metrics: &Arc<Metrics>) -> Option<Slot> {
        slots
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < slots.max).then_some(n + 1)
            })
            .ok()?;
        metrics.event_streams.inc();
        Some(Slot {
            slots: slots.clone(),
            metrics: metrics.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.open.fetch_sub(1, Ordering::AcqRel);
        self.metrics.event_streams.dec();
    }
}

/// One event in the SSE wire format.
fn frame(event: &str, data: &serde_json::Value) -> web::Bytes {
    web::Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// The JSON of an engine event, and its SSE event name.
pub fn event_json(event: &EngineEvent) -> (&'static str, serde_json::Value) {
    match event {
        EngineEvent::Accepted {
            shard,
            customer,
            request_no,
            kind,
            amount,
            at_ms,
        } => (
            "accepted",
            json!({
                "shard": shard,
                "customer": customer.to_string(),
                "request_no": request_no.to_string(),
                "kind": super::views::kind_str(*kind),
                "amount": amount.value().to_string(),
                "at_ms": at_ms,
            }),
        ),
        EngineEvent::EntryChanged {
            shard,
            entry,
            customer,
            request_no,
            step,
            from,
            to,
            at_ms,
        } => (
            "entry_changed",
            json!({
                "shard": shard,
                "entry": entry.to_string(),
                "customer": customer.to_string(),
                "request_no": request_no.to_string(),
                "log": step.log().as_str(),
                "step": step.as_str(),
                "from": from.map(|s| s.as_str()),
                "to": to.as_str(),
                "at_ms": at_ms,
            }),
        ),
        EngineEvent::Answered {
            shard,
            customer,
            request_no,
            told,
            at_ms,
        } => (
            "answered",
            json!({
                "shard": shard,
                "customer": customer.to_string(),
                "request_no": request_no.to_string(),
                "told": told_str(*told),
                "at_ms": at_ms,
            }),
        ),
    }
}

struct Stream {
    events: broadcast::Receiver<EngineEvent>,
    shutdown: watch::Receiver<bool>,
    keepalive: tokio::time::Interval,
    ready_sent: bool,
    slot: Slot,
}

impl Stream {
    /// The next frame, or `None` when the stream ends.
    async fn next(&mut self) -> Option<web::Bytes> {
        if !self.ready_sent {
            self.ready_sent = true;
            return Some(frame("ready", &json!({})));
        }
        if *self.shutdown.borrow() {
            return None;
        }
        tokio::select! {
            received = self.events.recv() => match received {
                Ok(event) => {
                    let (name, data) = event_json(&event);
                    Some(frame(name, &data))
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    self.slot.metrics.events_lagged.inc_by(missed);
                    Some(frame("lagged", &json!({ "missed": missed })))
                }
                // The engine stopped: nothing more will come.
                Err(broadcast::error::RecvError::Closed) => None,
            },
            _ = self.shutdown.changed() => None,
            _ = self.keepalive.tick() => Some(web::Bytes::from_static(b": keepalive\n\n")),
        }
    }
}

pub async fn events(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.shutdown.is_shutting_down() {
        return Err(ApiError::shutting_down());
    }
    let slot = Slot::take(&state.event_streams, &state.metrics)
        .ok_or_else(|| ApiError::too_many_event_streams(state.event_streams.max))?;
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    // The first tick of an interval is immediate; the ready event already says "alive".
    keepalive.reset();
    let stream = Stream {
        events: state.engine.subscribe(),
        shutdown: state.shutdown.subscribe(),
        keepalive,
        ready_sent: false,
        slot,
    };
    let body = futures::stream::unfold(stream, |mut stream| async move {
        let frame = stream.next().await?;
        Some((Ok::<_, Infallible>(frame), stream))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(body))
}
