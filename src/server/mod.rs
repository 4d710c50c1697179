//! `omnibus serve`: the engine behind an actix-web HTTP/JSON server.
//!
//! - `routes`: the `/v1` handlers, `/health`;
//! - `auth`, `api_keys`: who may call what (signed requests), and the keys that sign;
//! - `body`, `views`: reading request bodies, and the JSON shapes of answers;
//! - `errors`: the error format and the stable code of every error;
//! - `metrics`: Prometheus `/metrics`;
//! - `openapi`: the OpenAPI document at `/openapi.json`;
//! - `events`: the server-sent event stream at `/v1/events`;
//! - `shutdown`: SIGINT/SIGTERM handling and the drain before the engine stops.

pub mod api_keys;
pub mod auth;
pub mod body;
pub mod cards;
pub mod divisions;
pub mod errors;
pub mod events;
pub mod merchants;
pub mod metrics;
pub mod openapi;
pub mod payments;
pub mod payouts;
pub mod relay;
mod replays;
pub mod routes;
pub mod shutdown;
pub mod views;
pub mod wallet;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};
use omnibus_actors::Engine;
use omnibus_core::{Config, Currency};

use events::StreamSlots;
use metrics::Metrics;
use shutdown::ShutdownSignal;

/// What every handler shares.
pub struct AppState {
    pub engine: Engine,
    pub currency: Currency,
    pub body_limit_bytes: u64,
    pub metrics: Arc<Metrics>,
    pub shutdown: ShutdownSignal,
    pub event_streams: Arc<StreamSlots>,
    /// Whether requests must be signed, and the signatures seen lately.
    pub auth: auth::AuthState,
}

/// Starts the engine, serves HTTP until SIGINT or SIGTERM, drains, then shuts the engine
/// down (every applied record durable, the log synced). Blocks.
pub fn serve(config: Config) -> Result<(), String> {
    // Bind before recovering the data directory, so that a taken port fails at once
    // rather than after a long recovery.
    let listener = TcpListener::bind(&config.server.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    // Before the engine starts: an open server beyond loopback is refused outright.
    auth::required(config.server.auth, address)?;
    let engine =
        Engine::start(config.clone()).map_err(|e| format!("the engine did not start: {e}"))?;
    let served =
        actix_web::rt::System::new().block_on(run(engine.clone(), &config, listener, address));
    // The HTTP side has stopped (drained or timed out): nothing can submit work any more,
    // so what the engine applied is all there is to make durable.
    let stopped = engine
        .shutdown()
        .map_err(|e| format!("the engine did not shut down cleanly: {e}"));
    served.and(stopped)
}

async fn run(
    engine: Engine,
    config: &Config,
    listener: TcpListener,
    address: std::net::SocketAddr,
) -> Result<(), String> {
    let signal = ShutdownSignal::new();
    let auth_required = auth::required(config.server.auth, address)?;
    let engine_clock_ms = engine.clock_ms();
    let state = web::Data::new(AppState {
        engine,
        currency: config.engine.currency,
        body_limit_bytes: config.server.body_limit_bytes,
        metrics: Arc::new(Metrics::new()),
        shutdown: signal.clone(),
        event_streams: Arc::new(StreamSlots::new(config.server.event_streams_max)),
        auth: auth::AuthState {
            required: auth_required,
            started_ms: engine_clock_ms,
            window_ms: config.server.auth_window_ms,
            replays: replays::Replays::new(
                config.server.auth_window_ms,
                config.server.auth_replays_max,
                config.server.auth_replays_per_merchant_max,
            ),
        },
    });
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    };
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        let metrics = app_state.metrics.clone();
        App::new()
            .app_data(app_state.clone())
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
            .wrap(actix_web::middleware::from_fn(auth::check))
            .wrap_fn(move |request, service| {
                let started = Instant::now();
                let method = request.method().as_str().to_owned();
                let path = request
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                let metrics = metrics.clone();
                let answer = service.call(request);
                async move {
                    let response = answer.await?;
                    metrics.observe_http(
                        &method,
                        &path,
                        &response,
                        started.elapsed().as_secs_f64(),
                    );
                    Ok(response)
                }
            })
    })
    .workers(workers)
    .shutdown_timeout(shutdown::timeout_secs(config.server.shutdown_timeout_ms))
    .shutdown_signal(shutdown::on_signal(signal.clone()))
    .listen(listener)
    .map_err(|e| format!("cannot serve on {address}: {e}"))?
    .run();
    tracing::info!(%address, workers, auth_required, "serving");
    // The one line a script or a test reads to learn the address (with --listen
    // 127.0.0.1:0 the port is the system's choice).
    println!("omnibus: listening on http://{address}");
    println!(
        "omnibus: authentication {}",
        if auth_required {
            "required: every request but /health and /openapi.json must be signed (docs/auth.md)"
        } else {
            "off (loopback only; server.auth)"
        }
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let result = server
        .await
        .map_err(|e| format!("the HTTP server failed: {e}"));
    // Whatever stopped the server, long-lived streams must end too.
    signal.trigger();
    tracing::info!("HTTP server stopped; shutting the engine down");
    result
}
