//! Errors of the engine handle: enums a caller can match on.

use omnibus_core::ledger::BooksError;
use omnibus_core::signing::SigningError;
use omnibus_core::{CustomerId, RequestNo};
use thiserror::Error;

/// Why the engine could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("data directory {dir}: {what}")]
    DataDir { dir: String, what: String },
    #[error("shard {shard}: write-ahead log: {what}")]
    Wal { shard: u16, what: String },
    #[error("shard {shard}: replaying LSN {lsn} failed: {what}; the log does not match the books it built, refusing to start")]
    Replay { shard: u16, lsn: u64, what: String },
    #[error("the actor system failed to start: {0}")]
    System(String),
    /// The payments layer's key file could not be read or made (`keys.rs`).
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    /// The simulated outside systems could not be restored from the data directory.
    #[error("the simulated outside systems: {0}")]
    Simulator(#[from] crate::rails::sim::SimError),
}

/// Which bound turned a request away as overloaded, with the config key that sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bound {
    /// Requests admitted to a shard and not yet handled (`actors.mailbox_capacity`).
    ShardQueue,
    /// Records applied and not yet durable in a shard (`wal.queue_records_max`).
    WalQueue,
    /// Flows in progress in a shard (`actors.sagas_in_flight_max`).
    Flows,
    /// Outstanding signing texts of a shard (`signing.original_texts_max`).
    SigningTexts,
    /// Callers waiting on one request number (`actors.callers_per_request_max`).
    Callers,
    /// One customer's requests waiting their turn behind the one in progress
    /// (`actors.customer_queue_max`).
    CustomerQueue,
    /// Calls in flight to one outside system from a shard (`rails.<rail>.in_flight_max`).
    RailInFlight(&'static str),
    /// Settled requests of a shard waiting for its archive (`archive.settled_max`).
    ArchiveBacklog,
    /// Wallet sessions open (`payments.sessions_max`).
    Sessions,
    /// Wallet checkouts not yet paid (`payments.checkouts_max`).
    Checkouts,
}

impl Bound {
    /// A stable name, for metrics and error bodies.
    pub const fn as_str(self) -> &'static str {
        match self {
            Bound::ShardQueue => "shard_queue",
            Bound::WalQueue => "wal_queue",
            Bound::Flows => "flows",
            Bound::SigningTexts => "signing_texts",
            Bound::Callers => "callers",
            Bound::CustomerQueue => "customer_queue",
            Bound::RailInFlight(_) => "rail_in_flight",
            Bound::ArchiveBacklog => "archive_backlog",
            Bound::Sessions => "sessions",
            Bound::Checkouts => "checkouts",
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::ShardQueue => f.write_str("the shard's request queue (actors.mailbox_capacity)"),
            Bound::WalQueue => {
                f.write_str("the shard's write-ahead-log queue (wal.queue_records_max)")
            }
            Bound::Flows => f.write_str("the shard's flows in flight (actors.sagas_in_flight_max)"),
            Bound::SigningTexts => {
                f.write_str("the outstanding signing texts (signing.original_texts_max)")
            }
            Bound::Callers => f.write_str(
                "the callers waiting on this request number (actors.callers_per_request_max)",
            ),
            Bound::CustomerQueue => f.write_str(
                "the customer's requests waiting their turn (actors.customer_queue_max)",
            ),
            Bound::RailInFlight(rail) => {
                write!(
                    f,
                    "the calls in flight to the {rail} (rails.*.in_flight_max)"
                )
            }
            Bound::ArchiveBacklog => f.write_str(
                "the settled requests waiting for the shard's archive (archive.settled_max)",
            ),
            Bound::Sessions => f.write_str("the wallet sessions open (payments.sessions_max)"),
            Bound::Checkouts => {
                f.write_str("the wallet checkouts not yet paid (payments.checkouts_max)")
            }
        }
    }
}

/// Why a request to the engine was not carried out.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EngineError {
    /// A bound was hit (a mailbox, the WAL queue, flows in flight). Nothing changed; retry later.
    #[error("overloaded: {0} is full; nothing changed, retry later")]
    Overloaded(Bound),
    /// The books refused the operation. Nothing changed.
    #[error("refused: {0}")]
    Refused(#[from] BooksError),
    /// A charge or remittance failed validation before any money moved (SPEC §3, §5a).
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The request itself was malformed. Nothing changed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A request of the instruments layer (merchants, instruments, refunds) was refused
    /// with one of INSTRUMENTS.md §6.2's codes. Nothing was created and nothing moved.
    #[error("{code}: {message}")]
    Refusal {
        code: omnibus_core::payments::RefusalCode,
        message: String,
    },
    /// The engine is stopping and takes no new work.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// Something inside the engine went wrong that no input can cause (an overflow of a
    /// sum, a clock outside the engine's dates, a shard that stopped). Nothing the caller
    /// sent is at fault; the engine logs the cause.
    #[error("internal error: {0}")]
    Internal(String),
    /// An outside system the answer depends on could not be reached. Nothing changed;
    /// retry later.
    #[error("an outside system is unavailable: {0}")]
    RailUnavailable(String),
    /// The shard's storage failed. Sticky: the shard refuses all work until restarted,
    /// because its memory may hold changes the log does not.
    #[error(
        "shard {shard} storage failed ({cause}); it refuses all work until the engine is restarted"
    )]
    Storage { shard: u16, cause: String },
}

impl EngineError {
    /// A refusal of the instruments layer (INSTRUMENTS.md §6.2): nothing was recorded or
    /// moved.
    pub fn refusal(code: omnibus_core::payments::RefusalCode, message: impl Into<String>) -> Self {
        EngineError::Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Why a charge or remittance was refused before anything moved.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("customer {0} is not a tradable user (S31/S71)")]
    NotTradable(CustomerId),
    #[error("customer {0}'s securities subscription is not valid (S32/S72)")]
    SubscriptionInvalid(CustomerId),
    #[error(
        "request number {request_no} is already used with other fields; use a new request number"
    )]
    RequestNoReused { request_no: RequestNo },
    #[error("request number {0} is not known")]
    UnknownRequest(RequestNo),
    #[error("an amount over the usage limit needs a signed payment instruction: ask for the signing text, sign it, then submit it with the signature")]
    SignatureRequired,
    #[error("an amount within the usage limit goes the first path and needs no signature")]
    NotOverLimit,
    #[error("customer {0} has no signature key registered")]
    NoSigningKey(CustomerId),
    #[error("no signing text is outstanding for request {0}: it was never issued, it was used already, or it expired")]
    NoSigningText(RequestNo),
    #[error("the certificate serial {given} is not the one registered for the customer")]
    UnknownCertificate { given: u64 },
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("the authentication server says the key of certificate {0} is not valid (S7)")]
    KeyNotValid(u64),
    #[error("the authentication server did not answer: {0}")]
    AuthenticationUnavailable(String),
    #[error("request_date: {date} is more than {window_days} day(s) from the engine's date {today} (UTC); send the date the request is made")]
    RequestDateOutsideWindow {
        date: omnibus_core::RequestDate,
        today: String,
        window_days: u32,
    },
}
