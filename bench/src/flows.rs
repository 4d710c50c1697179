//! `omnibus-bench flows`: charges and remittances end to end on the simulated rails.
//!
//! The mix: half charges, four tenths remittances within the usage limit, one tenth over
//! it (the signing text is fetched and signed with ed25519 by the "terminal", then the
//! signed remittance submitted). Sync `always`. Figures:
//! - `sagas_per_sec`: closed loop, `--in-flight` requests outstanding, zero-latency rails.
//! - `saga_p50_us`, `saga_p99_us` (and p90, p99.9, max): open loop at half that rate,
//!   latency measured from each request's scheduled send time (so a stall counts against
//!   every request it delays: corrected for coordinated omission), HDR histogram.
//!   `saga_send_lag_p99_us` is how late the generator itself sent (its timer ticks in
//!   milliseconds, and it shares the two cores): included in those latencies.
//! - `sagas_per_sec_latent`, `in_flight`: rails answering after 20 ms, 10,000 in flight:
//!   throughput is bounded by concurrency / latency, not by the engine.
//!
//! The engine verifies every payment instruction's ed25519 signature, as it must. The
//! simulated financial company server's own verification is switched off here: in
//! production it runs on the financial company's machines, and in process it would take
//! the engine's two cores (about 50 us per instruction) and measure the simulator.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey as Ed25519Key};
use futures::stream::{FuturesUnordered, StreamExt};

use crate::drive::closed_loop;
use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Engine, EngineError, EngineParts, Outcome, Signed, Submission, SystemClock};
use omnibus_core::record::{CustomerOpened, SigningKey};
use omnibus_core::request_log::Told;
use omnibus_core::{
    AccountNo, BankCode, ChargeRequest, Config, Currency, CustomerId, RemitRequest,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Requests in the closed-loop throughput run.
    #[arg(long, default_value_t = 200_000)]
    requests: u64,
    /// Requests outstanding in the closed-loop run.
    #[arg(long, default_value_t = 2_048)]
    in_flight: usize,
    /// Requests per `submit_batch` call in the closed-loop run (1: one call each).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Seconds of the open-loop latency run.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Offered rate of the latency run (default: half the measured `sagas_per_sec`).
    #[arg(long)]
    rate: Option<f64>,
    /// Customers the requests spread over.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Requests in flight and seconds of the run with latent rails.
    #[arg(long, default_value_t = 10_000)]
    latent_in_flight: usize,
    #[arg(long, default_value_t = 10)]
    latent_secs: u64,
    /// Rail latency of that run, in milliseconds.
    #[arg(long, default_value_t = 20)]
    latent_ms: u64,
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Only these phases (comma separated: throughput, latency, latent).
    #[arg(long, default_value = "throughput,latency,latent")]
    only: String,
}

/// How the benchmarked engine is configured (over config.toml's defaults).
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// The WAL sync policy of every run (`always` is the figure that counts; `none` shows
    /// the engine's own share of the latency).
    #[arg(long, default_value = "always")]
    pub sync: String,
    /// Size of each WAL segment file (default: config.toml's).
    #[arg(long)]
    pub wal_segment_bytes: Option<u64>,
    /// Shards of the engine (default: config.toml's, one per core).
    #[arg(long)]
    pub shards: Option<u16>,
    /// Take snapshots at config.toml's cadence (`wal.snapshot_every_records`); by default
    /// the runs take none, so the figures are the flows' own.
    #[arg(long)]
    pub snapshots: bool,
}

pub(crate) struct Workload {
    pub(crate) engine: Engine,
    keys: Vec<Ed25519Key>,
    customers: u64,
    pub(crate) run: u64,
    /// Today (UTC): the engine takes request dates near its own only.
    date: String,
}

pub(crate) fn today() -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64;
    omnibus_core::RequestDate::from_unix_ms(now_ms)
        .expect("today is a request date")
        .to_string()
}

/// The parent accounts are funded for the whole run up front: every charge's credit draws
/// on `fin_parent` and every remittance's deposit on a deposit firm account, and this
/// benchmark measures the flows, not the settlement sweeps that refill them.
pub(crate) fn config(dir: &Path, args: &EngineArgs, extra: &str) -> Result<Config, String> {
    let sync = &args.sync;
    let segment = args
        .wal_segment_bytes
        .map(|b| format!("segment_bytes = {b}\n"))
        .unwrap_or_default();
    let shards = args
        .shards
        .map(|n| format!("[engine]\nshards = {n}\n"))
        .unwrap_or_default();
    let snapshots = if args.snapshots {
        String::new()
    } else {
        "snapshot_every_records = 1_000_000_000\n".to_string()
    };
    let big = "opening = 100_000_000_000_000\nlow_mark = 0\ntarget = 100_000_000_000_000\nhigh_mark = 1_000_000_000_000_000\n";
    Config::from_toml_over_defaults(&format!(
        "[wal]\ndir = {:?}\nsync = {sync:?}\n{segment}{snapshots}[actors]\nsagas_in_flight_max = 1_000_000\n[parents.fin_parent]\n{big}[parents.deposit_firm]\n{big}{shards}{extra}",
        dir.display().to_string()
    ))
    .map_err(|e| e.to_string())
}

/// An engine on the simulated rails, the financial company's own signature check off.
fn start(config: Config) -> Result<Engine, String> {
    start_with_simulator(config).map(|(engine, _)| engine)
}

/// [`start`], with the simulator kept (to read its own memory).
pub(crate) fn start_with_simulator(config: Config) -> Result<(Engine, Simulator), String> {
    let sim = Simulator::new(&config);
    sim.set_signature_checks(false);
    let parts = EngineParts::new(sim.rails(), std::sync::Arc::new(SystemClock));
    let engine = Engine::start_with(config, parts).map_err(|e| e.to_string())?;
    Ok((engine, sim))
}

fn key_of(n: u64) -> Ed25519Key {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[8] = 1;
    Ed25519Key::from_bytes(&seed)
}

impl Workload {
    /// Opens `customers` customers with signature keys and funds each.
    pub(crate) fn prepare(
        engine: Engine,
        customers: u64,
        in_flight: usize,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Workload, String> {
        let keys: Vec<Ed25519Key> = (1..=customers).map(key_of).collect();
        rt.block_on(async {
            let opened = |i: u64| CustomerOpened {
                customer: CustomerId::new(i + 1).unwrap(),
                linked_bank: BankCode::new("004").unwrap(),
                linked_account: AccountNo::new(&format!("110-{:010}", i + 1)).unwrap(),
                tradable: true,
                subscription_valid: true,
                signing_key: Some(SigningKey {
                    cert_serial: i + 1,
                    public_key: keys[i as usize].verifying_key().to_bytes(),
                }),
            };
            closed_loop(customers, in_flight, |i| engine.open_customer(opened(i))).await?;
            // Enough for every remittance the runs make, so none needs a deficit charge.
            closed_loop(customers, in_flight, |i| {
                let request = ChargeRequest::parse(
                    Currency::Krw,
                    &(i + 1).to_string(),
                    &today(),
                    &format!("FUND-{i}"),
                    "1000000000",
                )
                .unwrap();
                let charged = engine.charge(request);
                async move { check(charged.await).map_err(EngineError::Invalid) }
            })
            .await
        })?;
        Ok(Workload {
            engine,
            keys,
            customers,
            run: 0,
            date: today(),
        })
    }

    /// The i-th request of the current run: half charges, four tenths remittances within
    /// the limit, one tenth over it with signing.
    /// The i-th request of the current run, ready to submit: half charges, four tenths
    /// remittances within the limit, one tenth over it (the terminal fetches the signing
    /// text and signs it here).
    async fn submission(&self, i: u64) -> Result<Submission, EngineError> {
        let customer = i * 7_919 % self.customers + 1;
        let request_no = format!("B{}-{i}", self.run);
        let c = customer.to_string();
        let remit = |amount: &str, bank: &str, account: &str, name: &str| {
            RemitRequest::parse(
                Currency::Krw,
                &c,
                &self.date,
                &request_no,
                amount,
                bank,
                account,
                name,
            )
            .unwrap()
        };
        Ok(match i % 10 {
            0..=4 => Submission::Charge(
                ChargeRequest::parse(Currency::Krw, &c, &self.date, &request_no, "30000").unwrap(),
            ),
            5..=8 => Submission::Remit(remit("20000", "088", "220-33-44444", "Kim")),
            _ => {
                let request = remit("2500000", "020", "330-44-55555", "Lee");
                let text = self.engine.signing_text(request).await?;
                let signature = self.keys[(customer - 1) as usize]
                    .sign(text.text.as_bytes())
                    .to_bytes();
                Submission::RemitSigned(
                    request,
                    Signed {
                        cert_serial: customer,
                        signature,
                    },
                )
            }
        })
    }

    /// The i-th request, submitted alone.
    pub(crate) async fn saga(&self, i: u64) -> Result<Outcome, EngineError> {
        match self.submission(i).await? {
            Submission::Charge(c) => self.engine.charge(c).await,
            Submission::Remit(r) => self.engine.remit(r).await,
            Submission::RemitSigned(r, signed) => self.engine.remit_signed(r, signed).await,
            Submission::Sale(s) => self.engine.sale(s).await,
            Submission::PocketCharge(c) => self.engine.charge_pocket(c).await,
            Submission::PocketFill(c) => self.engine.fill_pocket(c).await,
            Submission::MerchantRefund(r) => self.engine.merchant_refund(r).await,
            Submission::PocketRelease(r) => self.engine.release_pocket(r).await,
        }
    }

    /// Requests `from..to`, submitted as one batch.
    async fn batch(&self, from: u64, to: u64) -> Result<(), String> {
        let submissions = futures::future::join_all((from..to).map(|i| self.submission(i))).await;
        let submissions = submissions
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        for outcome in self.engine.submit_batch(submissions).await {
            check(outcome)?;
        }
        Ok(())
    }
}

pub(crate) fn check(outcome: Result<Outcome, EngineError>) -> Result<(), String> {
    match outcome {
        Ok(o) if o.told == Told::Succeeded => Ok(()),
        Ok(o) => Err(format!("a saga failed on zero-fault rails: {o:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Closed loop: `requests` sagas, `in_flight` outstanding, in batches of `batch`
/// (`submit_batch`; 1: one call each). Answers sagas per second.
pub(crate) fn throughput(
    w: &mut Workload,
    requests: u64,
    in_flight: usize,
    batch: usize,
    rt: &tokio::runtime::Runtime,
) -> Result<f64, String> {
    w.run += 1;
    let w = &*w;
    let elapsed = if batch <= 1 {
        rt.block_on(closed_loop(requests, in_flight, |i| async move {
            check(w.saga(i).await).map_err(EngineError::Invalid)
        }))?
    } else {
        let size = batch as u64;
        let batches = requests.div_ceil(size);
        rt.block_on(closed_loop(
            batches,
            (in_flight / batch).max(1),
            |b| async move { w.batch(b * size, ((b + 1) * size).min(requests)).await },
        ))?
    };
    Ok(requests as f64 / elapsed.as_secs_f64())
}

pub(crate) use crate::drive::Latencies;

/// Open loop at `rate` per second for `secs`; latency from each request's scheduled time.
fn latency(
    w: &mut Workload,
    rate: f64,
    secs: u64,
    rt: &tokio::runtime::Runtime,
) -> Result<Latencies, String> {
    open_loop(w, rate, secs, rt, Duration::from_secs(3_600), |_| Ok(()))
}

/// [`latency`], calling `tick` with the number of sagas answered so far every `every`
/// (on the generator's thread: keep it short).
pub(crate) fn open_loop(
    w: &mut Workload,
    rate: f64,
    secs: u64,
    rt: &tokio::runtime::Runtime,
    every: Duration,
    tick: impl FnMut(u64) -> Result<(), String>,
) -> Result<Latencies, String> {
    w.run += 1;
    let w = &*w;
    crate::drive::open_loop(rate, secs, rt, every, tick, |i| async move {
        check(w.saga(i).await)
    })
}

pub fn run(args: Args) -> Result<(), String> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("omnibus-bench-flows-")
        .tempdir_in(&base)
        .map_err(|e| e.to_string())?;
    let only: Vec<&str> = args.only.split(',').map(str::trim).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if only.contains(&"throughput") || only.contains(&"latency") {
        let engine = start(config(&root.path().join("zero"), &args.engine, "")?)?;
        eprintln!("flows: opening and funding {} customers", args.customers);
        let mut w = Workload::prepare(engine, args.customers, args.in_flight, &rt)?;
        let mut rate = None;
        if only.contains(&"throughput") {
            eprintln!(
                "flows: {} sagas, {} in flight, zero-latency rails, sync always",
                args.requests, args.in_flight
            );
            let r = throughput(&mut w, args.requests, args.in_flight, args.batch, &rt)?;
            println!("sagas_per_sec={r:.0} sagas/s");
            rate = Some(r);
        }
        if only.contains(&"latency") {
            let offered = args.rate.unwrap_or(rate.unwrap_or(100_000.0) / 2.0);
            eprintln!(
                "flows: open loop at {offered:.0}/s for {} s",
                args.latency_secs
            );
            let l = latency(&mut w, offered, args.latency_secs, &rt)?;
            eprintln!("  {} sagas measured", l.sagas);
            println!("saga_offered_per_sec={offered:.0} sagas/s");
            l.print();
        }
        let totals = rt.block_on(w.engine.totals()).map_err(|e| e.to_string())?;
        if !totals.sum.is_zero() {
            return Err(format!("the books do not balance: {totals:?}"));
        }
        w.engine.shutdown().map_err(|e| e.to_string())?;
    }
    if only.contains(&"latent") {
        let us = args.latent_ms * 1_000;
        let rails = [
            "bank_firm",
            "securities_firm",
            "financial_company",
            "authentication",
        ]
        .iter()
        .map(|r| format!("[simulator.{r}]\nlatency_us_min = {us}\nlatency_us_max = {us}\n"))
        .collect::<String>();
        let engine = start(config(&root.path().join("latent"), &args.engine, &rails)?)?;
        eprintln!(
            "flows: rails answering after {} ms, {} in flight",
            args.latent_ms, args.latent_in_flight
        );
        let mut w = Workload::prepare(engine, args.customers, args.latent_in_flight, &rt)?;
        w.run += 1;
        let deadline = Instant::now() + Duration::from_secs(args.latent_secs);
        let w_ref = &w;
        let (done, elapsed, latency_total) = rt.block_on(async {
            let started = Instant::now();
            let mut running = FuturesUnordered::new();
            let mut next = 0u64;
            let mut done = 0u64;
            let mut latency_total = Duration::ZERO;
            while Instant::now() < deadline || !running.is_empty() {
                while Instant::now() < deadline && running.len() < args.latent_in_flight {
                    let i = next;
                    running.push(async move {
                        let sent = Instant::now();
                        (w_ref.saga(i).await, sent.elapsed())
                    });
                    next += 1;
                }
                if let Some((result, latency)) = running.next().await {
                    check(result)?;
                    done += 1;
                    latency_total += latency;
                }
            }
            Ok::<_, String>((done, started.elapsed(), latency_total))
        })?;
        let mean = latency_total.as_secs_f64() / done.max(1) as f64;
        println!(
            "sagas_per_sec_latent={:.0} sagas/s",
            done as f64 / elapsed.as_secs_f64()
        );
        // Little's law: with N in flight and a mean latency L, at most N / L complete per
        // second; a throughput at that bound is set by the concurrency, below it by the
        // engine.
        println!("saga_latent_mean_ms={:.1} ms", mean * 1000.0);
        println!(
            "latent_concurrency_bound_per_sec={:.0} sagas/s",
            args.latent_in_flight as f64 / mean
        );
        println!("in_flight={} sagas", args.latent_in_flight);
        w.engine.shutdown().map_err(|e| e.to_string())?;
    }
    Ok(())
}
