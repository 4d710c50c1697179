//! `omnibus load`: a load generator against a running server (`--url`) or an engine in
//! the same process (`--embedded`).
//!
//! A run first opens its own customers, each with an ed25519 signature key, and funds
//! each with a charge (not measured). Then it drives the mix, for `--duration` and at
//! most `--requests` operations: half charges, four tenths remittances within the usage
//! limit, one tenth over it, signed as a terminal does (fetch the signing text, sign it,
//! submit). Over-limit remittances are larger than a customer's balance, so they also
//! exercise the deficit charge (claim 13).
//!
//! - closed loop (`--concurrency N`, the default with 64): N operations in flight, each
//!   next one sent when one finishes; latency from send to answer.
//! - open loop (`--rate N`): operation i is due at start + i/N, sent then whatever the
//!   answers do, and its latency is measured from that due time, so a stall counts
//!   against every request it delays (corrected for coordinated omission). In flight is
//!   bounded by `--max-in-flight`; past it sends wait, and the wait counts as latency.
//!
//! Every charge (and deficit charge) draws `fin_parent` and every remittance within the
//! limit a deposit firm account; the engine refills a slice as soon as it crosses its low
//! mark (`supervisor.refill_on_demand`), and the default parent figures are sized for
//! this mix at the engine's throughput (config.toml, "Sizing"). A remittance told `failed`
//! because another remittance of the same customer overlapped it is counted apart
//! (`failed_overlapping_remittances=`), so `failed=` counts the others. Each customer's
//! account actor now carries out its customer's requests one at a time (issue 12), so a
//! run ends with none; the counter stays, so that a regression shows. See README "Load
//! test".

mod report;
mod target;

use std::io::IsTerminal;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use omnibus_actors::Engine;
use omnibus_core::Config;
use tokio::time::Instant;

use report::{Kind, Recorder, RunInfo};
use target::{Customer, Http, Op, Target};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base URL of a running `omnibus serve` (default: http:// and the config's
    /// server.listen). Only loopback addresses unless --allow-remote.
    #[arg(long, conflicts_with = "embedded")]
    url: Option<String>,
    /// Run an engine in this process instead of calling a server.
    #[arg(long)]
    embedded: bool,
    /// How long to generate load, such as 30s, 500ms or 2m (at most 24h).
    #[arg(long, default_value = "30s")]
    duration: String,
    /// Open loop: operations per second.
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<u64>,
    /// Closed loop: operations in flight (default 64).
    #[arg(long)]
    concurrency: Option<u64>,
    /// Stop after this many operations even if the duration is not over.
    #[arg(long)]
    requests: Option<u64>,
    /// Customers the generator opens and spreads the operations over.
    #[arg(long, default_value_t = 1_000)]
    customers: u64,
    /// Won each customer is charged before the run.
    #[arg(long, default_value_t = 100_000)]
    fund: i64,
    /// Open loop: most operations in flight before sends wait.
    #[arg(long, default_value_t = 1_024)]
    max_in_flight: u64,
    /// Seconds one HTTP call may take before it counts as `client_timeout`.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// A TOML file laid over the embedded defaults: the engine's (with --embedded), and
    /// the usage limit the mix is built around (give the server's file).
    #[arg(long)]
    config: Option<PathBuf>,
    /// With --embedded: the engine's data directory (default: a new temporary one,
    /// removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Allow a --url whose host is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// The operator's API key id, to sign every request (docs/auth.md); needed against a
    /// server with authentication on. Also read from OMNIBUS_KEY_ID.
    #[arg(long, env = "OMNIBUS_KEY_ID", requires = "key_secret")]
    key_id: Option<String>,
    /// The key's secret (`sk_…`). Also read from OMNIBUS_KEY_SECRET, which keeps it out
    /// of the process list.
    #[arg(
        long,
        env = "OMNIBUS_KEY_SECRET",
        hide_env_values = true,
        requires = "key_id"
    )]
    key_secret: Option<String>,
}

/// The longest run allowed: a load generator must stop by itself.
const DURATION_MAX: Duration = Duration::from_secs(24 * 3_600);
/// Operations in flight while opening and funding customers.
const SETUP_IN_FLIGHT: usize = 64;
/// How often the progress bar is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// `30s`, `500ms`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("--duration {text:?}: expected a number with a unit such as 30s"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1_000.0,
        "m" => value * 60.0,
        "h" => value * 3_600.0,
        other => {
            return Err(format!(
                "--duration {text:?}: unknown unit {other:?} (ms, s, m, h)"
            ))
        }
    };
    let duration = Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("--duration {text:?} is out of range"))?;
    if duration.is_zero() || duration > DURATION_MAX {
        return Err(format!(
            "--duration {text:?}: must be more than 0 and at most 24h"
        ));
    }
    Ok(duration)
}

/// Refuses a URL that is not plain http to a loopback host (unless allowed): a load
/// generator pointed at the wrong machine by a typo is a real risk.
fn check_url(url: &str, allow_remote: bool) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url {url:?}: only http:// URLs are supported"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addresses: Vec<_> = with_port
        .to_socket_addrs()
        .map_err(|e| format!("--url {url:?}: cannot resolve {authority:?}: {e}"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!(
            "--url {url:?}: {authority:?} resolves to no address"
        ));
    }
    if !allow_remote && !addresses.iter().all(|a| a.ip().is_loopback()) {
        return Err(format!(
            "--url {url:?}: {authority:?} is not a loopback address; pass --allow-remote to load another machine"
        ));
    }
    Ok(())
}

/// Today's date in UTC as YYYY-MM-DD (the requests' request_date).
fn today_utc() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// SplitMix64's finalizer: spreads consecutive numbers evenly.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

struct Workload {
    target: Target,
    customers: Vec<Customer>,
    run_id: u32,
    request_date: String,
    usage_limit: i64,
}

/// Each op's amounts, in won.
const CHARGE_WON: i64 = 10_000;
const REMIT_WON: i64 = 10_000;

impl Workload {
    fn kind(i: u64) -> Kind {
        match i % 10 {
            0..=4 => Kind::Charge,
            5..=8 => Kind::Remit,
            _ => Kind::RemitSigned,
        }
    }

    /// Carries out operation `i` of the mix; answers its kind, outcome and calls made.
    async fn op(&self, i: u64) -> (Kind, String, u32) {
        // A mixed index rather than a stride: with a stride the kind (i % 10) and the
        // customer would correlate, and the signed remittances would fall on a few
        // customers only.
        let index = mix(i ^ u64::from(self.run_id)) % self.customers.len() as u64;
        let customer = &self.customers[index as usize];
        let request_no = format!("L{:08x}-{i}", self.run_id);
        let kind = Self::kind(i);
        let op = |amount| Op {
            customer,
            request_no: &request_no,
            request_date: &self.request_date,
            amount,
        };
        let (answer, calls) = match kind {
            Kind::Charge => self.target.charge(&op(CHARGE_WON)).await,
            Kind::Remit => self.target.remit(&op(REMIT_WON)).await,
            Kind::RemitSigned => self.target.remit_signed(&op(self.usage_limit + 1)).await,
        };
        (kind, answer, calls)
    }

    /// Opens and funds every customer, `SETUP_IN_FLIGHT` at a time.
    async fn setup(&self, fund: i64, progress: &ProgressBar) -> Result<(), String> {
        let mut running = FuturesUnordered::new();
        let mut next = 0usize;
        let total = self.customers.len();
        while next < total || !running.is_empty() {
            while next < total && running.len() < SETUP_IN_FLIGHT {
                let customer = &self.customers[next];
                let request_no = format!("L{:08x}-fund-{next}", self.run_id);
                running.push(async move {
                    self.target.open(customer).await?;
                    if fund > 0 {
                        let op = Op {
                            customer,
                            request_no: &request_no,
                            request_date: &self.request_date,
                            amount: fund,
                        };
                        let (answer, _) = self.target.charge(&op).await;
                        if answer != "succeeded" {
                            return Err(format!("funding customer {}: {answer}", customer.id));
                        }
                    }
                    Ok::<(), String>(())
                });
                next += 1;
            }
            if let Some(result) = running.next().await {
                result?;
                progress.inc(1);
            }
        }
        Ok(())
    }
}

fn progress_bar(len: u64, template: &str) -> ProgressBar {
    // Drawn only for a person watching: a redirected stderr gets no bar at all.
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Drives the mix; answers the recorder and the elapsed time.
async fn drive(
    w: &Workload,
    duration: Duration,
    max_requests: u64,
    open_rate: Option<u64>,
    in_flight_max: u64,
) -> (Recorder, Duration) {
    let bar = progress_bar(
        duration.as_millis() as u64,
        "{elapsed_precise} [{bar:30}] {msg}",
    );
    let mut recorder = Recorder::new();
    let started = Instant::now();
    let deadline = started + duration;
    let interval = open_rate.map(|r| Duration::from_secs_f64(1.0 / r.max(1) as f64));
    let mut running = FuturesUnordered::new();
    let mut next = 0u64;
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    loop {
        let now = Instant::now();
        // Send what is due: in closed loop, up to the concurrency; in open loop, every
        // operation whose scheduled time has come, up to the in-flight bound.
        while next < max_requests && (running.len() as u64) < in_flight_max {
            let scheduled = match interval {
                None => now,
                Some(step) => {
                    let due = started + step.mul_f64(next as f64);
                    if due > now {
                        break;
                    }
                    due
                }
            };
            if scheduled >= deadline {
                break;
            }
            if interval.is_some() {
                recorder.record_send_lag(now.duration_since(scheduled));
            }
            let i = next;
            running.push(async move {
                let (kind, answer, calls) = w.op(i).await;
                (kind, answer, calls, scheduled.elapsed())
            });
            next += 1;
        }
        let sending_over = next >= max_requests || Instant::now() >= deadline;
        if sending_over && running.is_empty() {
            break;
        }
        // With the in-flight bound reached only an answer can let the next send go, so
        // the due time of that send is not worth waking for.
        let can_send = !sending_over && (running.len() as u64) < in_flight_max;
        let wake = match interval {
            Some(step) if can_send => started + step.mul_f64(next as f64),
            _ => deadline,
        };
        tokio::select! {
            Some((kind, answer, calls, latency)) = running.next(), if !running.is_empty() => {
                recorder.record(kind, answer, calls, latency);
            }
            () = tokio::time::sleep_until(wake), if can_send => {}
            _ = ticker.tick() => {
                let elapsed = started.elapsed();
                bar.set_position(elapsed.as_millis().min(duration.as_millis()) as u64);
                bar.set_message(format!(
                    "{} done, {:.0}/s, {} in flight, {} errors",
                    recorder.completed,
                    recorder.completed as f64 / elapsed.as_secs_f64().max(1e-3),
                    running.len(),
                    recorder.errors
                ));
            }
        }
    }
    bar.finish_and_clear();
    (recorder, started.elapsed())
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    crate::load_config(path)
}

pub fn run(args: Args) -> Result<(), String> {
    let config = load_config(args.config.as_ref())?;
    let duration = parse_duration(&args.duration)?;
    if args.customers == 0 || args.customers > 10_000_000 {
        return Err("--customers must be between 1 and 10,000,000".into());
    }
    if args.fund < 0 {
        return Err("--fund must not be negative".into());
    }
    let concurrency = match (args.rate, args.concurrency) {
        (Some(0), _) => return Err("--rate must be at least 1".into()),
        (Some(_), _) => None,
        (None, Some(0)) => return Err("--concurrency must be at least 1".into()),
        (None, c) => Some(c.unwrap_or(64)),
    };
    if args.max_in_flight == 0 {
        return Err("--max-in-flight must be at least 1".into());
    }
    let in_flight_max = concurrency.unwrap_or(args.max_in_flight);
    let timeout = Duration::from_secs(args.timeout_secs.max(1));

    // The engine (embedded) starts before the runtime: `Engine::start` blocks.
    let mut temp_dir = None;
    let (target_name, engine) = if args.embedded {
        let mut config = config.clone();
        let dir = match &args.data_dir {
            Some(dir) => dir.clone(),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("omnibus-load-")
                    .tempdir()
                    .map_err(|e| format!("cannot make a temporary data directory: {e}"))?;
                let path = dir.path().to_path_buf();
                temp_dir = Some(dir);
                path
            }
        };
        config.wal.dir = dir.display().to_string();
        let engine = Engine::start(config).map_err(|e| format!("the engine did not start: {e}"))?;
        ("embedded".to_owned(), Some(engine))
    } else {
        let url = args
            .url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.server.listen));
        check_url(&url, args.allow_remote)?;
        (url, None)
    };

    let system = actix_web::rt::System::new();
    let result = system.block_on(async {
        let target = match &engine {
            Some(engine) => Target::Embedded {
                engine: engine.clone(),
                currency: config.engine.currency,
            },
            None => {
                let signer = target::RequestSigner::from_args(args.key_id.as_deref(), args.key_secret.as_deref())?;
                let http = Http::new(&target_name, in_flight_max.max(SETUP_IN_FLIGHT as u64) as usize, timeout, signer);
                http.health().await?;
                Target::Http(http)
            }
        };
        let run_id: u32 = rand::random();
        // Customer numbers and certificate serials from a random base, so runs against
        // the same server do not collide with each other's customers.
        let base = (u64::from(run_id) + 1) * 10_000_000;
        let customers: Vec<Customer> = (1..=args.customers)
            .map(|n| Customer {
                id: base + n,
                cert_serial: base + n,
                key: ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
            })
            .collect();
        let w = Workload {
            target,
            customers,
            run_id,
            request_date: today_utc(),
            usage_limit: config.engine.usage_limit,
        };
        let bar = progress_bar(args.customers, "opening and funding customers [{bar:30}] {pos}/{len}");
        w.setup(args.fund, &bar).await?;
        bar.finish_and_clear();
        let (recorder, elapsed) = drive(
            &w,
            duration,
            args.requests.unwrap_or(u64::MAX),
            args.rate,
            in_flight_max,
        )
        .await;
        let info = RunInfo {
            target: target_name.clone(),
            request_prefix: format!("L{:08x}-", w.run_id),
            open_loop: args.rate.is_some(),
            rate: args.rate,
            concurrency,
            customers: args.customers,
            elapsed,
        };
        if args.json {
            println!("{}", report::summary_json(&info, &recorder));
        } else {
            print!("{}", report::summary_text(&info, &recorder));
            if recorder.failed() > 0 {
                eprintln!("note: some requests were told `failed` (not counting remittances that overlapped another of their customer). On zero-fault rails that is a parent account slice that could not be refilled in time (reason parent_slice_short); look them up with GET /v1/requests/L{:08x}-N", w.run_id);
            }
        }
        Ok::<(), String>(())
    });
    if let Some(engine) = engine {
        // The embedded engine's books must balance after the run, like any engine's.
        let balanced = futures::executor::block_on(engine.totals())
            .map_err(|e| e.to_string())
            .and_then(|t| {
                if t.sum.is_zero() {
                    Ok(())
                } else {
                    Err(format!(
                        "the books do not balance after the run: sum {}",
                        t.sum
                    ))
                }
            });
        let stopped = engine.shutdown().map_err(|e| e.to_string());
        result.and(balanced).and(stopped)?;
    } else {
        result?;
    }
    drop(temp_dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_are_bounded() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1_500));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("25h").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn only_loopback_urls_unless_allowed() {
        assert!(check_url("http://127.0.0.1:8080", false).is_ok());
        assert!(check_url("http://[::1]:8080/", false).is_ok());
        assert!(check_url("http://10.1.2.3:8080", false).is_err());
        assert!(check_url("https://127.0.0.1:8080", false).is_err());
    }

    #[test]
    fn today_is_a_valid_request_date() {
        let today = today_utc();
        assert!(
            today.parse::<omnibus_core::RequestDate>().is_ok(),
            "{today}"
        );
    }

    #[test]
    fn the_mix_is_half_charges_four_tenths_remittances_one_tenth_signed() {
        let kinds: Vec<Kind> = (0..10).map(Workload::kind).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Charge).count(), 5);
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Remit).count(), 4);
        assert_eq!(kinds.iter().filter(|k| **k == Kind::RemitSigned).count(), 1);
    }
}
