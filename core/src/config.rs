// Over 600 lines: `Config::validate` alone is 320 lines of checks on keys and their relations.
//! The engine's configuration: every knob of `config.toml`, parsed and validated.
//!
//! `config.toml` at the repository root is embedded here as the defaults
//! ([`Config::embedded`]). A user's file is laid over it key by key
//! ([`Config::from_toml_over_defaults`]), so it needs only the keys it changes. Unknown
//! keys and invalid values are a [`ConfigError`] naming the key. Reading files is the
//! caller's business: this module only parses text.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use thiserror::Error;

use crate::ids::BankCode;
use crate::money::{Amount, Currency, Money};

/// The text of the repository's `config.toml`: the defaults the binary runs on.
pub const EMBEDDED_CONFIG_TOML: &str = include_str!("../../config.toml");

/// A configuration that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("config is not valid TOML: {0}")]
    Syntax(String),
    #[error("config key `{key}`: {problem}")]
    Key { key: String, problem: String },
}

fn key_error(key: impl Into<String>, problem: impl fmt::Display) -> ConfigError {
    ConfigError::Key {
        key: key.into(),
        problem: problem.to_string(),
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub engine: EngineConfig,
    pub banks: BanksConfig,
    pub parents: ParentsConfig,
    pub actors: ActorsConfig,
    pub wal: WalConfig,
    pub archive: ArchiveConfig,
    pub rails: RailsConfig,
    pub supervisor: SupervisorConfig,
    pub signing: SigningConfig,
    pub simulator: SimulatorConfig,
    pub server: ServerConfig,
    pub payments: PaymentsConfig,
}

/// The payments layer (INSTRUMENTS.md §6; docs/payments.md).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    /// The file of the server secrets (D-0.3); empty: `<wal.dir>/keys.toml`.
    pub keys_file: String,
    /// The wait before the second prompt confirm of a timed-out payment step (D-0.2);
    /// the first is sent at once, each later one waits twice the one before.
    pub confirm_backoff_ms: u64,
    /// Prompt confirms of one timed-out step before it is left to the non-reflected
    /// search.
    pub confirm_retry_max: u32,
    /// The issuer identification number prepaid card numbers are issued under (D-5.1): a
    /// test IIN until the partner card company's BIN is configured (M5). 6 to 8 digits.
    pub card_iin: String,
    /// The most prepaid cards one customer may hold (D-5.9).
    pub cards_per_customer_max: u16,
    /// The most division accounts one master may hold (§1.3 I1).
    pub divisions_per_master_max: u16,
    /// The most authorizations one listing of a division account's answers.
    pub authorizations_list_max: u16,
    /// The most a prepaid card's pocket may hold, with the credits on their way to it
    /// (D-5.6).
    pub pocket_balance_cap_krw: u64,
    /// The most one sale from a customer's balance or pocket may be (D-0.1; §6.2 step 7).
    pub sale_max_krw: u64,
    /// The numbers one leg of a cancel or refund may be asked under: a leg refused with
    /// nothing moved is asked again, when the cancel or refund is, under the next.
    pub pay_back_attempts: u8,
    /// The most lines (payments, or a day's transactions) one statement lists; the totals
    /// always cover everything.
    pub statement_lines_max: u32,
    /// The most notice deliveries (statements) one shard's pass asks of the sink.
    pub notices_per_pass_max: u32,
    /// The most expiring prepaid cards one shard's pass works on (D-5.2).
    pub expiries_per_pass_max: u32,
    /// How long after its authorization a payment still REQUESTED is finished by the
    /// supervisors.
    pub requested_finish_after_ms: u64,
    /// The most REQUESTED payments one shard's pass finishes.
    pub requested_per_pass_max: u32,
    /// The most virtual-account leases one shard's pass expires (D-2.6).
    pub va_expiries_per_pass_max: u32,
    /// The most owed credits of virtual-account deposits one shard's pass starts (§2.7).
    pub va_credits_per_pass_max: u32,
    /// The most deposits one answer of a partner's VA history lists (D-2.17).
    pub va_history_list_max: u32,
    /// The largest target a partner's pool may have (D-2.9).
    pub va_pool_target_max: u32,
    /// The most VAs one opening asks a bank for, and one `relay_set` record grants.
    pub va_grant_batch_max: u32,
    /// How long a wallet session lasts after the member's login (b4).
    pub session_ttl_ms: u64,
    /// The most wallet sessions open at once.
    pub sessions_max: u32,
    /// How long a wallet checkout can be paid (D-5.17: 10 minutes).
    pub checkout_ttl_ms: u64,
    /// The most wallet checkouts not yet paid at once.
    pub checkouts_max: u32,
}

/// Settled requests out of memory (`docs/archive.md`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    pub recent_max: u32,
    pub batch_max: u32,
    pub run_records_max: u32,
    pub interval_ms: u64,
    pub settled_max: u32,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    pub currency: Currency,
    /// Whole units of `currency`.
    pub usage_limit: i64,
    /// 0 means the number of cores.
    pub shards: u32,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanksConfig {
    pub withdrawal_firm: Vec<BankCode>,
    pub deposit_firm: Vec<BankCode>,
    pub default_deposit_bank: BankCode,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentsConfig {
    pub withdrawal_firm: ParentConfig,
    pub collection: ParentConfig,
    pub deposit_firm: ParentConfig,
    pub fin_parent: ParentConfig,
    pub fin_deposit: OptionalParentConfig,
}

/// Balances and sweep marks of one parent account kind, in whole units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentConfig {
    pub opening: i64,
    pub overdraft: i64,
    pub low_mark: i64,
    pub target: i64,
    pub high_mark: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionalParentConfig {
    pub enabled: bool,
    pub opening: i64,
    pub overdraft: i64,
    pub low_mark: i64,
    pub target: i64,
    pub high_mark: i64,
}

impl OptionalParentConfig {
    pub fn parent(&self) -> ParentConfig {
        ParentConfig {
            opening: self.opening,
            overdraft: self.overdraft,
            low_mark: self.low_mark,
            target: self.target,
            high_mark: self.high_mark,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorsConfig {
    pub mailbox_capacity: u32,
    pub passivate_idle_ms: u64,
    pub live_customers_max: u32,
    pub sagas_in_flight_max: u32,
    pub events_buffer: u32,
    pub idempotency_retention_days: u32,
    pub answer_deadline_ms: u64,
    pub callers_per_request_max: u32,
    pub customer_queue_max: u32,
    pub request_date_window_days: u32,
    pub transfer_retry_ms: u64,
    /// How often each shard expires the two-phase holds that fell due.
    pub hold_expiry_interval_ms: u64,
    /// Most holds one expiry pass expires; the rest wait for the next pass, which then
    /// follows at once.
    pub hold_expiry_batch_max: u32,
}

/// When an append counts as durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPolicy {
    /// Acknowledge after the batch is synced (fdatasync).
    Always,
    /// Sync every `sync_interval_ms`; acknowledge after the write.
    Interval,
    /// Never sync; load tests only.
    None,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalConfig {
    pub dir: String,
    pub sync: SyncPolicy,
    pub sync_interval_ms: u64,
    pub segment_bytes: u64,
    pub queue_records_max: u32,
    pub batch_records_max: u32,
    pub batch_bytes_max: u64,
    pub background_write_bytes_per_sec: u64,
    pub snapshot_every_records: u64,
    /// A clean shutdown takes a snapshot when at least this many records were applied
    /// since the last one (0: never).
    pub snapshot_at_shutdown_records: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailsConfig {
    pub bank_firm: RailConfig,
    pub securities_firm: RailConfig,
    pub financial_company: RailConfig,
    pub authentication: RailConfig,
    /// The banks' virtual-account systems (INSTRUMENTS.md §2.7): S10 openings, real-time
    /// numbering, deposit inquiries and statements.
    pub va_bank: RailConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailConfig {
    pub timeout_ms: u64,
    pub confirm_timeout_ms: u64,
    pub in_flight_max: u32,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorConfig {
    pub non_reflected_interval_ms: u64,
    pub window_min_age_ms: u64,
    pub window_max_age_ms: u64,
    pub reprocess_interval_ms: u64,
    pub reprocess_failures_max: u32,
    pub recovery_interval_ms: u64,
    pub retry_backoff_min_ms: u64,
    pub retry_backoff_max_ms: u64,
    pub sweep_interval_ms: u64,
    /// Refill a parent slice as soon as it leaves its band (and when a request finds it
    /// short), not only every `sweep_interval_ms`.
    pub refill_on_demand: bool,
    /// The least time between two refills raised on demand, per shard and for the moves
    /// between shards.
    pub refill_min_gap_ms: u64,
    pub batch_max: u32,
    pub requested_max_age_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    pub original_text_ttl_ms: u64,
    pub original_texts_max: u32,
    pub verifying_keys_cached_max: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RailMode {
    Simulated,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    pub mode: RailMode,
    pub seed: u64,
    pub bank_firm: SimulatedRailConfig,
    pub securities_firm: SimulatedRailConfig,
    pub financial_company: SimulatedRailConfig,
    pub authentication: SimulatedRailConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedRailConfig {
    pub latency_us_min: u64,
    pub latency_us_max: u64,
    pub failure_rate: f64,
    pub timeout_rate: f64,
    pub lost_response_rate: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub body_limit_bytes: u64,
    pub workers: u32,
    pub shutdown_timeout_ms: u64,
    /// Most event-stream (server-sent events) clients served at once.
    pub event_streams_max: u32,
    /// Whether callers must sign their requests with an API key (docs/auth.md).
    pub auth: AuthMode,
    /// How far a signed request's timestamp may be from the server's clock.
    pub auth_window_ms: u64,
    /// Most signatures remembered to refuse a replay within the window.
    pub auth_replays_max: u32,
    /// Most of them one merchant's keys may take together (the operator's: only the
    /// whole).
    pub auth_replays_per_merchant_max: u32,
}

/// Whether the HTTP server asks callers for signed requests (docs/auth.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Off on a loopback address, required on any other.
    Auto,
    /// Every route but `/health` and `/openapi.json` needs a signed request.
    Required,
    /// Nobody signs; refused on an address beyond loopback.
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Self::embedded()
    }
}

impl Config {
    /// The defaults: the repository's `config.toml`, embedded at build time.
    pub fn embedded() -> Self {
        Self::from_toml_str(EMBEDDED_CONFIG_TOML).expect("the embedded config.toml is valid")
    }

    /// A complete configuration from TOML text: every key present, none unknown.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let value: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        Self::from_table(value)
    }

    /// `text` laid over the embedded defaults: keys it has replace the defaults, keys it
    /// lacks keep them, keys the defaults do not have are refused.
    pub fn from_toml_over_defaults(text: &str) -> Result<Self, ConfigError> {
        let mut base: toml::Table = EMBEDDED_CONFIG_TOML
            .parse()
            .expect("embedded config parses");
        let overlay: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        merge(&mut base, overlay);
        Self::from_table(base)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                key_error(
                    if key == "." {
                        "(top level)".to_string()
                    } else {
                        key
                    },
                    e.into_inner().message(),
                )
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value is in range and the values agree with each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let e = &self.engine;
        if e.usage_limit <= 0 {
            return Err(key_error(
                "engine.usage_limit",
                format!("must be greater than 0, got {}", e.usage_limit),
            ));
        }
        Amount::new(e.currency, e.usage_limit.into())
            .map_err(|err| key_error("engine.usage_limit", err))?;
        range("engine.shards", e.shards as u64, 0, 256)?;

        let b = &self.banks;
        nonempty_unique("banks.withdrawal_firm", &b.withdrawal_firm)?;
        nonempty_unique("banks.deposit_firm", &b.deposit_firm)?;
        if !b.deposit_firm.contains(&b.default_deposit_bank) {
            return Err(key_error(
                "banks.default_deposit_bank",
                format!(
                    "{} is not one of banks.deposit_firm",
                    b.default_deposit_bank
                ),
            ));
        }

        let p = &self.parents;
        parent("parents.withdrawal_firm", e.currency, &p.withdrawal_firm)?;
        parent("parents.collection", e.currency, &p.collection)?;
        parent("parents.deposit_firm", e.currency, &p.deposit_firm)?;
        parent("parents.fin_parent", e.currency, &p.fin_parent)?;
        if p.fin_deposit.enabled {
            parent("parents.fin_deposit", e.currency, &p.fin_deposit.parent())?;
        }

        let a = &self.actors;
        range(
            "actors.mailbox_capacity",
            a.mailbox_capacity as u64,
            1,
            1_000_000,
        )?;
        range(
            "actors.passivate_idle_ms",
            a.passivate_idle_ms,
            1,
            86_400_000,
        )?;
        range(
            "actors.live_customers_max",
            a.live_customers_max as u64,
            1,
            10_000_000,
        )?;
        range(
            "actors.sagas_in_flight_max",
            a.sagas_in_flight_max as u64,
            1,
            10_000_000,
        )?;
        range(
            "actors.idempotency_retention_days",
            a.idempotency_retention_days as u64,
            1,
            3_650,
        )?;
        range(
            "actors.answer_deadline_ms",
            a.answer_deadline_ms,
            1,
            86_400_000,
        )?;
        range(
            "actors.callers_per_request_max",
            a.callers_per_request_max as u64,
            1,
            10_000,
        )?;
        range(
            "actors.customer_queue_max",
            a.customer_queue_max as u64,
            1,
            1_000_000,
        )?;
        range(
            "actors.transfer_retry_ms",
            a.transfer_retry_ms,
            1,
            3_600_000,
        )?;
        range(
            "actors.hold_expiry_interval_ms",
            a.hold_expiry_interval_ms,
            1,
            3_600_000,
        )?;
        range(
            "actors.hold_expiry_batch_max",
            a.hold_expiry_batch_max as u64,
            1,
            1_000_000,
        )?;
        range(
            "actors.request_date_window_days",
            a.request_date_window_days as u64,
            0,
            366,
        )?;

        let w = &self.wal;
        if w.dir.trim().is_empty() {
            return Err(key_error("wal.dir", "must not be empty"));
        }
        range("wal.sync_interval_ms", w.sync_interval_ms, 1, 60_000)?;
        range("wal.segment_bytes", w.segment_bytes, 1 << 20, 4 << 30)?;
        // A flow's step writes up to 3 records, and new work may use only seven eighths of
        // the queue (the rest is kept for steps of work already admitted): 16 leaves room
        // for at least one whole step of each.
        range(
            "wal.queue_records_max",
            w.queue_records_max as u64,
            16,
            10_000_000,
        )?;
        range(
            "wal.batch_records_max",
            w.batch_records_max as u64,
            1,
            1_000_000,
        )?;
        range("wal.batch_bytes_max", w.batch_bytes_max, 4096, 1 << 30)?;
        range(
            "wal.background_write_bytes_per_sec",
            w.background_write_bytes_per_sec,
            1 << 20,
            4 << 30,
        )?;
        if w.batch_bytes_max > w.segment_bytes {
            return Err(key_error(
                "wal.batch_bytes_max",
                format!(
                    "must not exceed wal.segment_bytes ({}), got {}",
                    w.segment_bytes, w.batch_bytes_max
                ),
            ));
        }
        range(
            "wal.snapshot_every_records",
            w.snapshot_every_records,
            10,
            1_000_000_000,
        )?;
        range(
            "wal.snapshot_at_shutdown_records",
            w.snapshot_at_shutdown_records,
            0,
            1_000_000_000,
        )?;

        for (name, r) in [
            ("bank_firm", &self.rails.bank_firm),
            ("securities_firm", &self.rails.securities_firm),
            ("financial_company", &self.rails.financial_company),
            ("authentication", &self.rails.authentication),
            ("va_bank", &self.rails.va_bank),
        ] {
            range(
                &format!("rails.{name}.timeout_ms"),
                r.timeout_ms,
                1,
                600_000,
            )?;
            range(
                &format!("rails.{name}.confirm_timeout_ms"),
                r.confirm_timeout_ms,
                1,
                600_000,
            )?;
            range(
                &format!("rails.{name}.in_flight_max"),
                r.in_flight_max as u64,
                1,
                10_000_000,
            )?;
        }

        let s = &self.supervisor;
        range(
            "supervisor.non_reflected_interval_ms",
            s.non_reflected_interval_ms,
            1,
            86_400_000,
        )?;
        range(
            "supervisor.window_max_age_ms",
            s.window_max_age_ms,
            1,
            7 * 86_400_000,
        )?;
        if s.window_min_age_ms > s.window_max_age_ms {
            return Err(key_error(
                "supervisor.window_min_age_ms",
                format!(
                    "must not exceed supervisor.window_max_age_ms ({}), got {}",
                    s.window_max_age_ms, s.window_min_age_ms
                ),
            ));
        }
        range(
            "supervisor.reprocess_interval_ms",
            s.reprocess_interval_ms,
            1,
            86_400_000,
        )?;
        range(
            "supervisor.reprocess_failures_max",
            s.reprocess_failures_max as u64,
            0,
            1_000,
        )?;
        range(
            "supervisor.recovery_interval_ms",
            s.recovery_interval_ms,
            1,
            86_400_000,
        )?;
        range(
            "supervisor.retry_backoff_min_ms",
            s.retry_backoff_min_ms,
            1,
            86_400_000,
        )?;
        range(
            "supervisor.retry_backoff_max_ms",
            s.retry_backoff_max_ms,
            s.retry_backoff_min_ms,
            86_400_000,
        )?;
        range(
            "supervisor.sweep_interval_ms",
            s.sweep_interval_ms,
            1,
            86_400_000,
        )?;
        range(
            "supervisor.refill_min_gap_ms",
            s.refill_min_gap_ms,
            1,
            60_000,
        )?;
        range("supervisor.batch_max", s.batch_max as u64, 1, 1_000_000)?;
        // A REQUESTED entry is given up on (treated as a timeout, then confirmed) only once
        // no live call can still be waiting for it: after the longest rail timeout.
        let longest_timeout = [
            &self.rails.bank_firm,
            &self.rails.securities_firm,
            &self.rails.financial_company,
        ]
        .iter()
        .map(|r| r.timeout_ms)
        .max()
        .unwrap_or(0);
        range(
            "supervisor.requested_max_age_ms",
            s.requested_max_age_ms,
            longest_timeout + 1,
            7 * 86_400_000,
        )?;

        range(
            "signing.original_text_ttl_ms",
            self.signing.original_text_ttl_ms,
            1,
            86_400_000,
        )?;
        range(
            "signing.original_texts_max",
            self.signing.original_texts_max as u64,
            1,
            10_000_000,
        )?;
        range(
            "archive.recent_max",
            self.archive.recent_max as u64,
            0,
            10_000_000,
        )?;
        range(
            "archive.batch_max",
            self.archive.batch_max as u64,
            1,
            1_000_000,
        )?;
        range(
            "archive.interval_ms",
            self.archive.interval_ms,
            1,
            3_600_000,
        )?;
        range(
            "archive.run_records_max",
            self.archive.run_records_max as u64,
            self.archive.batch_max as u64,
            100_000_000,
        )?;
        range(
            "archive.settled_max",
            self.archive.settled_max as u64,
            self.archive.recent_max as u64 + self.archive.batch_max as u64,
            20_000_000,
        )?;
        range(
            "signing.verifying_keys_cached_max",
            self.signing.verifying_keys_cached_max as u64,
            1,
            10_000_000,
        )?;
        range(
            "payments.confirm_backoff_ms",
            self.payments.confirm_backoff_ms,
            1,
            3_600_000,
        )?;
        range(
            "payments.confirm_retry_max",
            u64::from(self.payments.confirm_retry_max),
            0,
            20,
        )?;
        let iin = &self.payments.card_iin;
        if !(6..=8).contains(&iin.len()) || !iin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(key_error(
                "payments.card_iin",
                format!("{iin:?} is not 6 to 8 digits"),
            ));
        }
        range(
            "payments.pocket_balance_cap_krw",
            self.payments.pocket_balance_cap_krw,
            1,
            1_000_000_000_000,
        )?;
        range(
            "payments.sale_max_krw",
            self.payments.sale_max_krw,
            1,
            1_000_000_000_000,
        )?;
        range(
            "payments.expiries_per_pass_max",
            u64::from(self.payments.expiries_per_pass_max),
            1,
            100_000,
        )?;
        range(
            "payments.divisions_per_master_max",
            u64::from(self.payments.divisions_per_master_max),
            1,
            1_000,
        )?;
        range(
            "payments.requested_finish_after_ms",
            self.payments.requested_finish_after_ms,
            1_000,
            86_400_000,
        )?;
        range(
            "payments.requested_per_pass_max",
            u64::from(self.payments.requested_per_pass_max),
            1,
            100_000,
        )?;
        range(
            "payments.va_expiries_per_pass_max",
            u64::from(self.payments.va_expiries_per_pass_max),
            1,
            100_000,
        )?;
        range(
            "payments.va_credits_per_pass_max",
            u64::from(self.payments.va_credits_per_pass_max),
            1,
            100_000,
        )?;
        range(
            "payments.va_pool_target_max",
            u64::from(self.payments.va_pool_target_max),
            1,
            10_000_000,
        )?;
        range(
            "payments.va_grant_batch_max",
            u64::from(self.payments.va_grant_batch_max),
            1,
            10_000,
        )?;
        range(
            "payments.va_history_list_max",
            u64::from(self.payments.va_history_list_max),
            1,
            100_000,
        )?;
        range(
            "payments.authorizations_list_max",
            u64::from(self.payments.authorizations_list_max),
            1,
            10_000,
        )?;
        range(
            "payments.pay_back_attempts",
            u64::from(self.payments.pay_back_attempts),
            1,
            16,
        )?;
        range(
            "payments.session_ttl_ms",
            self.payments.session_ttl_ms,
            1_000,
            86_400_000,
        )?;
        range(
            "payments.sessions_max",
            u64::from(self.payments.sessions_max),
            1,
            10_000_000,
        )?;
        range(
            "payments.checkout_ttl_ms",
            self.payments.checkout_ttl_ms,
            1_000,
            3_600_000,
        )?;
        range(
            "payments.checkouts_max",
            u64::from(self.payments.checkouts_max),
            1,
            10_000_000,
        )?;
        range(
            "payments.notices_per_pass_max",
            u64::from(self.payments.notices_per_pass_max),
            1,
            100_000,
        )?;
        range(
            "payments.statement_lines_max",
            u64::from(self.payments.statement_lines_max),
            1,
            100_000,
        )?;
        range(
            "payments.cards_per_customer_max",
            u64::from(self.payments.cards_per_customer_max),
            1,
            1_000,
        )?;

        let sim = &self.simulator;
        for (name, r) in [
            ("bank_firm", &sim.bank_firm),
            ("securities_firm", &sim.securities_firm),
            ("financial_company", &sim.financial_company),
            ("authentication", &sim.authentication),
        ] {
            range(
                &format!("simulator.{name}.latency_us_max"),
                r.latency_us_max,
                r.latency_us_min,
                60_000_000,
            )?;
            for (rate_name, rate) in [
                ("failure_rate", r.failure_rate),
                ("timeout_rate", r.timeout_rate),
                ("lost_response_rate", r.lost_response_rate),
            ] {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(key_error(
                        format!("simulator.{name}.{rate_name}"),
                        format!("must be a probability between 0 and 1, got {rate}"),
                    ));
                }
            }
            let total = r.failure_rate + r.timeout_rate + r.lost_response_rate;
            if total > 1.0 {
                return Err(key_error(
                    format!("simulator.{name}"),
                    format!("failure_rate + timeout_rate + lost_response_rate must be at most 1, got {total}"),
                ));
            }
        }

        let srv = &self.server;
        if srv.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(key_error(
                "server.listen",
                format!(
                    "must be an address such as 127.0.0.1:8080, got {:?}",
                    srv.listen
                ),
            ));
        }
        range(
            "server.body_limit_bytes",
            srv.body_limit_bytes,
            64,
            16 << 20,
        )?;
        range("server.workers", srv.workers as u64, 0, 1_024)?;
        range(
            "server.shutdown_timeout_ms",
            srv.shutdown_timeout_ms,
            0,
            3_600_000,
        )?;
        range(
            "server.event_streams_max",
            srv.event_streams_max as u64,
            1,
            100_000,
        )?;
        range(
            "server.auth_window_ms",
            srv.auth_window_ms,
            1_000,
            3_600_000,
        )?;
        range(
            "server.auth_replays_max",
            srv.auth_replays_max as u64,
            1_000,
            100_000_000,
        )?;
        range(
            "server.auth_replays_per_merchant_max",
            srv.auth_replays_per_merchant_max as u64,
            1_000,
            srv.auth_replays_max as u64,
        )?;
        Ok(())
    }

    /// The usage limit as an amount.
    pub fn usage_limit(&self) -> Amount {
        Amount::new(self.engine.currency, self.engine.usage_limit.into()).expect("validated")
    }

    /// A whole-unit configuration value as money in the engine's currency.
    pub fn money(&self, units: i64) -> Money {
        Money::new(self.engine.currency, units.into()).expect("validated")
    }
}

fn range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(key_error(
            key,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(())
}

fn nonempty_unique(key: &str, banks: &[BankCode]) -> Result<(), ConfigError> {
    if banks.is_empty() {
        return Err(key_error(key, "must name at least one bank"));
    }
    let mut seen = BTreeSet::new();
    for bank in banks {
        if !seen.insert(bank) {
            return Err(key_error(key, format!("names bank {bank} twice")));
        }
    }
    Ok(())
}

fn parent(key: &str, currency: Currency, p: &ParentConfig) -> Result<(), ConfigError> {
    for (name, value) in [
        ("opening", p.opening),
        ("overdraft", p.overdraft),
        ("low_mark", p.low_mark),
        ("target", p.target),
        ("high_mark", p.high_mark),
    ] {
        Money::new(currency, value.into()).map_err(|e| key_error(format!("{key}.{name}"), e))?;
    }
    if p.overdraft < 0 {
        return Err(key_error(
            format!("{key}.overdraft"),
            format!("must not be negative, got {}", p.overdraft),
        ));
    }
    if p.opening < 0 {
        return Err(key_error(
            format!("{key}.opening"),
            format!("must not be negative, got {}", p.opening),
        ));
    }
    if p.low_mark < -p.overdraft {
        return Err(key_error(
            format!("{key}.low_mark"),
            format!(
                "must be at least -overdraft ({}), got {}",
                -p.overdraft, p.low_mark
            ),
        ));
    }
    if !(p.low_mark <= p.target && p.target <= p.high_mark) {
        return Err(key_error(
            format!("{key}.target"),
            format!(
                "must satisfy low_mark <= target <= high_mark, got {} <= {} <= {}",
                p.low_mark, p.target, p.high_mark
            ),
        ));
    }
    Ok(())
}

/// Deep merge: tables merge key by key, any other value replaces.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_valid() {
        let config = Config::embedded();
        assert_eq!(config.usage_limit(), Amount::krw(2_000_000).unwrap());
        assert_eq!(config.wal.sync, SyncPolicy::Always);
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = Config::from_toml_over_defaults("[engine]\nusage_limt = 5\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("engine.usage_limt"), "{text}");
        assert!(text.contains("unknown field"), "{text}");
    }

    #[test]
    fn an_unknown_section_is_refused_by_name() {
        let err = Config::from_toml_over_defaults("[walrus]\nsize = 1\n").unwrap_err();
        assert!(err.to_string().contains("walrus"), "{err}");
    }

    #[test]
    fn a_negative_usage_limit_is_refused_by_name() {
        let err = Config::from_toml_over_defaults("[engine]\nusage_limit = -5\n").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Key {
                key: "engine.usage_limit".into(),
                problem: "must be greater than 0, got -5".into()
            }
        );
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let err = Config::from_toml_over_defaults("[wal]\nsync = \"sometimes\"\n").unwrap_err();
        assert!(err.to_string().contains("wal.sync"), "{err}");
    }

    #[test]
    fn an_overlay_keeps_the_defaults_it_does_not_name() {
        let config = Config::from_toml_over_defaults("[engine]\nshards = 3\n").unwrap();
        assert_eq!(config.engine.shards, 3);
        assert_eq!(config.engine.usage_limit, 2_000_000);
    }

    #[test]
    fn inconsistent_values_are_refused() {
        assert!(
            Config::from_toml_over_defaults("[banks]\ndefault_deposit_bank = \"011\"\n").is_err()
        );
        assert!(
            Config::from_toml_over_defaults("[simulator.bank_firm]\nfailure_rate = 1.5\n").is_err()
        );
        assert!(Config::from_toml_over_defaults("[parents.fin_parent]\noverdraft = -1\n").is_err());
        assert!(
            Config::from_toml_over_defaults("[banks]\nwithdrawal_firm = [\"004\", \"004\"]\n")
                .is_err()
        );
        assert!(Config::from_toml_over_defaults("[server]\nlisten = \"nowhere\"\n").is_err());
        for (key, text) in [
            (
                "actors.hold_expiry_interval_ms",
                "[actors]\nhold_expiry_interval_ms = 0\n",
            ),
            (
                "actors.hold_expiry_batch_max",
                "[actors]\nhold_expiry_batch_max = 0\n",
            ),
        ] {
            let err = Config::from_toml_over_defaults(text).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        let gap = Config::from_toml_over_defaults("[supervisor]\nrefill_min_gap_ms = 0\n");
        assert!(
            gap.as_ref()
                .is_err_and(|e| e.to_string().contains("supervisor.refill_min_gap_ms")),
            "{gap:?}"
        );
    }

    #[test]
    fn the_customer_queue_bound_is_checked_by_name() {
        let config = Config::embedded();
        assert_eq!(config.actors.customer_queue_max, 1_024);
        for bad in ["0", "1_000_001"] {
            let err =
                Config::from_toml_over_defaults(&format!("[actors]\ncustomer_queue_max = {bad}\n"))
                    .unwrap_err();
            assert!(
                err.to_string().contains("actors.customer_queue_max"),
                "{err}"
            );
        }
        let one = Config::from_toml_over_defaults("[actors]\ncustomer_queue_max = 1\n").unwrap();
        assert_eq!(one.actors.customer_queue_max, 1);
    }

    #[test]
    fn bad_toml_is_a_syntax_error() {
        assert!(matches!(
            Config::from_toml_over_defaults("[engine"),
            Err(ConfigError::Syntax(_))
        ));
    }
}
