//! The durable simulator: opened on `<wal.dir>/simulator/`, restored from its journal,
//! and kept once per directory.
//!
//! The outside systems do not restart when the engine does. So a simulator opened on a
//! data directory first replays its journal (`journal.rs`, `fact.rs`): every registry
//! entry, the balances, the nonces paid, the certificates revoked and the key checks'
//! ranks come back as they were when the last process stopped, SIGKILL included. Then
//! it appends to the same journal.
//!
//! Within one process the same holds: opening a directory whose simulator is still alive
//! (an engine shut down but not dropped, then started again) hands back that same
//! simulator rather than a second one, which the directory's lock would refuse anyway.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use omnibus_core::Config;
use thiserror::Error;

use super::fact::Fact;
use super::journal::{ChunkSizes, Journal, JournalError};
use super::registry::Slot;
use super::truth::minor_of_amount;
use super::{Inner, Outcome, Rail, Simulator, TruthAccount};
use crate::rails::RailRequestId;

/// The simulator's directory under the engine's data directory (`wal.dir`).
pub const DIRECTORY: &str = "simulator";

/// How long an open waits for a simulator of the same directory that is being dropped
/// in this process to let go of it.
const CLOSING_WAIT: Duration = Duration::from_secs(10);

/// Why a durable simulator could not be opened.
#[derive(Debug, Error)]
pub enum SimError {
    #[error("the simulators' journal: {0}")]
    Journal(#[from] JournalError),
    #[error("{dir} is open in this process already, with {what}; open it with the same configuration, or drop the other simulator first")]
    OpenWithOtherConfig { dir: PathBuf, what: String },
    #[error("{dir} is still being closed by a simulator of this process after {CLOSING_WAIT:?}")]
    StillClosing { dir: PathBuf },
}

/// The simulators open in this process, by canonical directory.
static OPEN: Mutex<Vec<(PathBuf, Weak<Inner>)>> = Mutex::new(Vec::new());

/// A simulator's entry in [`OPEN`], removed when the simulator is dropped.
pub(super) struct Registration {
    dir: PathBuf,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        // This runs inside the simulator's own drop, so its entry no longer upgrades.
        open.retain(|(dir, inner)| *dir != self.dir || inner.strong_count() > 0);
    }
}

impl Simulator {
    /// The durable simulator of `config`'s data directory: `<wal.dir>/simulator/`,
    /// created if missing, restored from its journal otherwise. It keeps the outside
    /// world across a restart of the process, a kill -9 included (not across a power
    /// loss of the machine: see docs/simulator.md). Seed, rates and parent openings come
    /// from `config`, as for [`Simulator::new`]; the balances are the openings plus
    /// every movement on record.
    ///
    /// One process at a time: a directory another process holds is refused. In this
    /// process, a directory whose simulator is still alive gives back that simulator,
    /// with the rates of `config`.
    pub fn open(config: &Config) -> Result<Simulator, SimError> {
        let dir = Path::new(&config.wal.dir).join(DIRECTORY);
        let io = |source| JournalError::Io {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let key = std::fs::canonicalize(&dir).map_err(io)?;
        let started = Instant::now();
        loop {
            let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
            let Some((_, held)) = open.iter().find(|(dir, _)| *dir == key) else {
                let inner = Arc::new(Inner::restore(config, &key)?);
                open.push((key, Arc::downgrade(&inner)));
                return Ok(Simulator { inner });
            };
            if let Some(inner) = held.upgrade() {
                return Simulator { inner }.reopened(config, key);
            }
            // Its last handle is being dropped on another thread: wait for its journal
            // to be synced and unlocked.
            drop(open);
            if started.elapsed() > CLOSING_WAIT {
                return Err(SimError::StillClosing { dir: key });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// This simulator, handed out again for `config`.
    fn reopened(self, config: &Config, dir: PathBuf) -> Result<Simulator, SimError> {
        let other = |what: String| SimError::OpenWithOtherConfig {
            dir: dir.clone(),
            what,
        };
        if self.inner.seed != config.simulator.seed {
            return Err(other(format!("seed {}", self.inner.seed)));
        }
        if self.inner.books.currency() != config.engine.currency {
            return Err(other(format!("currency {}", self.inner.books.currency())));
        }
        let sim = &config.simulator;
        for (rail, rates) in Rail::ALL.into_iter().zip([
            sim.bank_firm,
            sim.securities_firm,
            sim.financial_company,
            sim.authentication,
        ]) {
            self.set_rates(rail, rates);
        }
        tracing::info!(dir = %dir.display(), "simulator already open in this process; sharing it");
        Ok(self)
    }

    /// The directory the simulator keeps its journal in; `None` in memory.
    pub fn directory(&self) -> Option<&Path> {
        self.inner.journal.as_ref().map(Journal::dir)
    }
}

impl Inner {
    /// A world restored from the journal in `dir`, appending to it from now on.
    fn restore(config: &Config, dir: &Path) -> Result<Inner, SimError> {
        let mut inner = Inner::new(config);
        let currency = config.engine.currency;
        let mut nonces = Vec::new();
        let (journal, report) =
            Journal::open(dir, currency.code(), ChunkSizes::DEFAULT, |payload| {
                let fact = Fact::decode(payload, currency)?;
                inner.apply(fact, &mut nonces)
            })?;
        // A nonce counts only with its payment on record: the nonce is written first, and
        // a crash between the two leaves the text unpaid and still usable.
        let fin = inner.state(Rail::FinancialCompany);
        for (nonce, id) in nonces {
            if matches!(fin.registry.get(&id).as_deref(), Some(Slot::Executed(_))) {
                inner.nonces.insert(nonce, id);
            }
        }
        let registry: usize = inner.rails.iter().map(|r| r.registry.len()).sum();
        tracing::info!(
            dir = %dir.display(),
            chunks = report.chunks,
            records = report.records,
            torn = report.torn,
            request_ids = registry,
            ms = report.elapsed_ms,
            "simulator restored from its journal"
        );
        inner.journal = Some(journal);
        inner._open = Some(Registration {
            dir: dir.to_path_buf(),
        });
        Ok(inner)
    }

    /// Replays one fact into a world nobody else sees yet.
    fn apply(&self, fact: Fact, nonces: &mut Vec<(u128, RailRequestId)>) -> Result<(), String> {
        match fact {
            Fact::Settled { rail, id, outcome } => {
                let slot = match outcome {
                    Outcome::Executed(execution) => {
                        self.books.replay_transfer(
                            execution.from,
                            execution.to,
                            minor_of_amount(execution.amount),
                        )?;
                        Slot::executed(&execution, &self.interner).ok_or_else(|| {
                            format!("{execution} is not a transfer the {rail} makes")
                        })?
                    }
                    Outcome::NotExecuted(cause) => Slot::NotExecuted(cause),
                };
                if self.state(rail).registry.insert(id, slot).is_some() {
                    return Err(format!(
                        "request {id} of the {rail} is settled twice (two processes on one journal?)"
                    ));
                }
            }
            Fact::Nonce { nonce, id } => nonces.push((nonce, id)),
            Fact::Revoked { cert_serial } => {
                self.revoked.insert(cert_serial);
            }
            Fact::KeyChecked { cert_serial, nth } => {
                let mut checks = self.key_checks.entry(cert_serial).or_insert(0);
                *checks = (*checks).max(nth.saturating_add(1));
            }
            Fact::LinkedSet {
                bank,
                account,
                change_minor,
            } => self.books.replay_linked_set(bank, account, change_minor),
            Fact::ParentMoved {
                from,
                to,
                amount_minor,
            } => self.books.replay_transfer(
                TruthAccount::Parent(from),
                TruthAccount::Parent(to),
                amount_minor,
            )?,
            Fact::Va(fact) => self.va_banks.replay(fact)?,
        }
        Ok(())
    }
}
