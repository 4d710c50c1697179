//! Shared helpers of the end-to-end tests: engines on temporary data directories and
//! customers with valid linked accounts.

#![allow(dead_code)]

pub mod cards;
pub mod cut;
pub mod payout_days;
pub mod world;

use std::path::Path;

use omnibus_actors::Engine;
use omnibus_core::ledger::shard_of;
use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountId, AccountNo, Amount, BankCode, Config, CustomerId, ParentAccount};

pub const FIN_PARENT: AccountId = AccountId::Parent {
    parent: ParentAccount::FinParent,
};

/// The embedded defaults with a data directory, a shard count and test-sized knobs laid
/// over, then `extra`: TOML fragments separated by lines holding only `---`, each merged
/// over the previous ones (so two fragments may name the same table).
pub fn config(dir: &Path, shards: u32, extra: &str) -> Config {
    let base = format!(
        "[engine]\nshards = {shards}\n[wal]\ndir = {dir:?}\nsync = \"always\"\nsegment_bytes = 4_194_304\nbatch_bytes_max = 1_048_576\n",
        dir = dir.display().to_string()
    );
    let mut merged: toml::Table = base.parse().expect("base fragment");
    for fragment in extra.split("\n---\n") {
        let overlay: toml::Table = fragment.parse().expect("test config fragment is TOML");
        merge(&mut merged, overlay);
    }
    Config::from_toml_over_defaults(&toml::to_string(&merged).expect("TOML"))
        .expect("test config is valid")
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A runtime of two worker threads, as the engine's callers in a host service would have.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn start(dir: &Path, shards: u32, extra: &str) -> Engine {
    Engine::start(config(dir, shards, extra)).expect("engine starts")
}

pub fn customer(n: u64) -> CustomerId {
    CustomerId::new(n).unwrap()
}

pub fn opened(n: u64) -> CustomerOpened {
    CustomerOpened {
        customer: customer(n),
        linked_bank: BankCode::new("004").unwrap(),
        linked_account: AccountNo::new(&format!("110-{n:09}")).unwrap(),
        tradable: true,
        subscription_valid: true,
        signing_key: None,
    }
}

pub fn krw(won: i64) -> Amount {
    Amount::krw(won).unwrap()
}

/// The first `count` customer numbers from `from` whose home is `shard` of `shards`.
pub fn customers_in(shard: u16, shards: u16, from: u64, count: usize) -> Vec<CustomerId> {
    (from..)
        .map(customer)
        .filter(|c| shard_of(*c, shards) == shard)
        .take(count)
        .collect()
}

/// A customer opened with a signature key made from `n`, so tests can sign for it.
pub fn opened_with_key(n: u64) -> (CustomerOpened, ed25519_dalek::SigningKey) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[(n % 251) as u8 + 1; 32]);
    let mut opened = opened(n);
    opened.signing_key = Some(omnibus_core::record::SigningKey {
        cert_serial: 9_000 + n,
        public_key: key.verifying_key().to_bytes(),
    });
    (opened, key)
}

/// Today's date (UTC), as YYYY-MM-DD: the engine accepts request dates only within
/// `actors.request_date_window_days` of its own date.
pub fn today() -> String {
    day(0)
}

/// The system clock now, in milliseconds since 1970.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// The UTC date `offset` days from today, as YYYY-MM-DD.
pub fn day(offset: i64) -> String {
    let ms = now_ms() as i64 + offset * 86_400_000;
    omnibus_core::RequestDate::from_unix_ms(ms as u64)
        .expect("a request date")
        .to_string()
}

pub fn charge(customer: u64, request_no: &str, won: i64) -> omnibus_core::ChargeRequest {
    omnibus_core::ChargeRequest::parse(
        omnibus_core::Currency::Krw,
        &customer.to_string(),
        &today(),
        request_no,
        &won.to_string(),
    )
    .expect("valid charge")
}

pub fn remit(customer: u64, request_no: &str, won: i64) -> omnibus_core::RemitRequest {
    omnibus_core::RemitRequest::parse(
        omnibus_core::Currency::Krw,
        &customer.to_string(),
        &today(),
        request_no,
        &won.to_string(),
        "088",
        "220-33-44444",
        "김철수",
    )
    .expect("valid remittance")
}

/// Signs an issued text with the customer's key.
pub fn sign(
    text: &str,
    key: &ed25519_dalek::SigningKey,
    cert_serial: u64,
) -> omnibus_actors::Signed {
    use ed25519_dalek::Signer;
    omnibus_actors::Signed {
        cert_serial,
        signature: key.sign(text.as_bytes()).to_bytes(),
    }
}

/// A customer's balance in whole won.
pub async fn won(engine: &Engine, customer: u64) -> i64 {
    engine
        .customer_balance(self::customer(customer))
        .await
        .unwrap()
        .balance
        .value()
        .try_into()
        .unwrap()
}

/// An engine on the simulated rails, with the simulator kept for faults and the outside truth.
pub fn start_sim(
    dir: &Path,
    shards: u32,
    extra: &str,
) -> (Engine, omnibus_actors::rails::sim::Simulator) {
    let config = config(dir, shards, extra);
    let sim = omnibus_actors::rails::sim::Simulator::new(&config);
    let parts = omnibus_actors::EngineParts::new(
        sim.rails(),
        std::sync::Arc::new(omnibus_actors::SystemClock),
    );
    (
        Engine::start_with(config, parts).expect("engine starts"),
        sim,
    )
}

/// Rails that answer at once and never fail.
pub fn healthy() -> omnibus_core::config::SimulatedRailConfig {
    omnibus_core::config::SimulatedRailConfig {
        latency_us_min: 0,
        latency_us_max: 0,
        failure_rate: 0.0,
        timeout_rate: 0.0,
        lost_response_rate: 0.0,
    }
}

/// Fault rates with one kind of fault always happening.
pub fn always(fault: &str) -> omnibus_core::config::SimulatedRailConfig {
    let mut rates = healthy();
    match fault {
        "fail" => rates.failure_rate = 1.0,
        "timeout" => rates.timeout_rate = 1.0,
        "lost" => rates.lost_response_rate = 1.0,
        other => panic!("unknown fault {other}"),
    }
    rates
}

/// A merchant of the tests (issue 14): active, category `books`, taking `accepts`, paid out
/// daily to a bank 004 account, with no terminal.
pub fn merchant_taking(
    id: &str,
    accepts: &[omnibus_core::payments::merchant::InstrumentType],
) -> omnibus_core::payments::merchant::Merchant {
    use omnibus_core::payments::merchant::{
        InstrumentTypes, Merchant, MerchantStatus, PayoutSchedule,
    };
    Merchant {
        id: omnibus_core::ids::MerchantId::new(id).unwrap(),
        status: MerchantStatus::Active,
        category: omnibus_core::ids::Tag::new("books").unwrap(),
        accepts: InstrumentTypes::of(accepts),
        payout_bank: omnibus_core::BankCode::new("004").unwrap(),
        payout_account: omnibus_core::AccountNo::new("110-222-333").unwrap(),
        payout_schedule: PayoutSchedule::Daily,
        payout_reserve_krw: 0,
        terminals: Vec::new(),
    }
}

/// Runs the supervisors until `request_no` stands for good (nothing open, nothing owed, an
/// answer on record), and answers where it ended.
pub async fn settle(engine: &Engine, request_no: &str) -> omnibus_core::saga::Settled {
    for _ in 0..200 {
        engine.supervise_once().await.unwrap();
        let view = engine.request(request_no.parse().unwrap()).await.unwrap();
        if view.outcome != omnibus_core::saga::Settled::Pending {
            return view.outcome;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{request_no} did not settle");
}

/// Every byte the engine wrote under `dir` (logs, snapshots, archive; not the key file),
/// to look for a number or a secret in clear.
pub fn everything_written(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in walk(dir) {
        if entry.file_name().is_some_and(|n| n == "keys.toml") {
            continue;
        }
        all.extend(std::fs::read(&entry).unwrap_or_default());
    }
    all
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
