//! Starting an engine: every shard recovered in parallel on plain threads, the request
//! number registry rebuilt from the books, then the engine's own actor system on a
//! thread of its own with one arbiter per shard, the balancer, and the shards introduced
//! to each other.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};

use actix::{Actor, Arbiter, System};
use dashmap::DashMap;
use omnibus_core::ledger::ParentPlan;
use omnibus_core::Config;
use tokio::sync::{broadcast, Notify};

use super::admission::Gate;
use super::balancer::Balancer;
use super::merchants::MerchantDirectory;
use super::stop::Running;
use super::{Engine, Inner};
use crate::clock::{Clock, SystemClock};
use crate::error::StartError;
use crate::failstop::{self, Failure};
use crate::ledger::archive::ShardArchive;
use crate::ledger::recovery::{recover_shard, DataDir, RecoveryReport, StorageFactory};
use crate::ledger::{ChunkLimits, ShardLedger};
use crate::rails::sim::Simulator;
use crate::rails::Rails;
use crate::shard::{Peers, Redeliver, ShardActor};

/// What an engine runs on besides its configuration: the outside systems, the clock,
/// and (for tests) the storage of its logs.
#[derive(Clone)]
pub struct EngineParts {
    pub rails: Rails,
    pub clock: Arc<dyn Clock>,
    /// `None`: each shard's log in files under `wal.dir`.
    pub storage: Option<StorageFactory>,
}

impl EngineParts {
    /// The given rails and clock, logs in files.
    pub fn new(rails: Rails, clock: Arc<dyn Clock>) -> EngineParts {
        EngineParts {
            rails,
            clock,
            storage: None,
        }
    }
}

/// Shards of the request-number registry (a power of two).
const REGISTRY_SHARDS: usize = 256;

impl Engine {
    /// Recovers the data directory of `config` and starts the engine on the in-process
    /// simulators of the outside systems (`[simulator]` in the configuration), restored
    /// from `<wal.dir>/simulator/` ([`Simulator::open`]), and the system clock. Blocks
    /// until every shard is serving; call it before entering an async runtime, or from
    /// `spawn_blocking`.
    pub fn start(config: Config) -> Result<Engine, StartError> {
        let simulator = Simulator::open(&config)?;
        Self::start_with(
            config,
            EngineParts::new(simulator.rails(), Arc::new(SystemClock)),
        )
    }

    /// As [`Engine::start`], on the given outside systems and clock.
    pub fn start_with(config: Config, parts: EngineParts) -> Result<Engine, StartError> {
        config
            .validate()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let config = Arc::new(config);
        let data = DataDir::open(&config)?;
        let (payment_keys, keys_file, keys_created) = crate::keys::load_or_create(&config)?;
        tracing::info!(file = %keys_file.display(), created = keys_created, pin_key = payment_keys.pin.current_kid(), index_key = payment_keys.index.current_kid(), data_key = payment_keys.data.current_kid(), "payments keys");
        let shards = data.shards;
        let plan = ParentPlan::from_config(&config, shards);
        tracing::info!(dir = %data.root.display(), shards, "recovering");
        let recovered = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..shards)
                .map(|shard| {
                    let (config, data, plan) = (&config, &data, plan.clone());
                    let storage = parts.storage.as_ref();
                    scope.spawn(move || recover_shard(config, data, shard, plan, storage))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("recovery thread panicked"))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let recovery: Vec<RecoveryReport> = recovered.iter().map(|r| r.report.clone()).collect();
        let (merchants, merchant_repairs) = MerchantDirectory::from_shards(
            &recovered
                .iter()
                .map(|r| r.books.merchants().cloned().collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        );
        let cards: super::cards::CardDirectory = recovered
            .iter()
            .flat_map(|r| r.books.cards())
            .map(|c| (c.card.number_index, c.card.instrument_id()))
            .collect();
        let divisions: super::divisions::DivisionDirectory = recovered
            .iter()
            .flat_map(|r| r.books.divisions())
            .map(|d| (d.account.number_index, d.account.instrument_id()))
            .collect();
        let payment_keys_seen =
            super::payments::directory(recovered.iter().flat_map(|r| r.books.payments()));
        let wallets = super::wallet::Wallets::new(
            recovered
                .iter()
                .flat_map(|r| r.books.members())
                .map(|(_, m)| (m.id, m.customer)),
        );
        let api_keys = super::api_keys::ApiKeyDirectory::new(
            recovered.iter().flat_map(|r| r.books.api_keys()).copied(),
        );
        let archives: Vec<ShardArchive> = recovered.iter().map(|r| r.archive.clone()).collect();
        // Many small shards: the registry grows with every request, and growing a shard
        // rehashes it under its lock, stalling every caller that hashes there (the same
        // reasoning as the books' segmented maps, `omnibus_core::segmap`).
        let registry = Arc::new(DashMap::with_shard_amount(REGISTRY_SHARDS));
        for r in &recovered {
            // The house's own requests (sweeps) are not customers' request numbers.
            for request in r
                .books
                .requests()
                .filter(|r| !omnibus_core::instruments::of(r.accepted.kind).is_house())
            {
                if let Some(other) =
                    registry.insert(request.accepted.request_no, request.accepted.customer)
                {
                    tracing::warn!(request = %request.accepted.request_no, customer = %other, "a request number is on record for two customers");
                }
            }
        }
        let (events, _) = broadcast::channel(config.actors.events_buffer as usize);
        let system_events = events.clone();
        let system_registry = registry.clone();
        for r in &recovery {
            tracing::info!(
                shard = r.shard,
                snapshot_lsn = r.snapshot_lsn,
                records = r.records_replayed,
                customers = r.customers,
                ms = r.elapsed_ms,
                open_ms = r.open_ms,
                snapshot_ms = r.snapshot_ms,
                replay_ms = r.replay_ms,
                archive_ms = r.archive_ms,
                "shard recovered"
            );
        }

        let host_rails = parts.rails.clone();
        let host_clock = parts.clock.clone();
        let failure = Arc::new(Failure::default());
        let poisoned: Vec<Arc<OnceLock<String>>> = (0..shards).map(|_| Arc::default()).collect();
        let system_poisoned = poisoned.clone();
        let balancer_wake = Arc::new(Notify::new());
        let rebalancing = Arc::new(tokio::sync::Mutex::new(()));
        let system_rebalancing = rebalancing.clone();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let system_config = config.clone();
        let thread = std::thread::Builder::new()
            .name("omnibus-system".into())
            .spawn(move || {
                let runner = System::new();
                let (addrs, arbiters) = runner.block_on(async move {
                    let mut addrs = Vec::new();
                    let mut arbiters = Vec::new();
                    for (shard, r) in recovered.into_iter().enumerate() {
                        let shard = shard as u16;
                        let arbiter = Arbiter::new();
                        let config = system_config.clone();
                        let queue = config.wal.queue_records_max as usize;
                        let chunk_limits = ChunkLimits {
                            records_max: config.wal.batch_records_max as usize,
                            bytes_max: config.wal.batch_bytes_max as usize,
                        };
                        let (rails, clock, events) = (
                            parts.rails.clone(),
                            parts.clock.clone(),
                            system_events.clone(),
                        );
                        let shard_registry = system_registry.clone();
                        let poisoned = system_poisoned[shard as usize].clone();
                        let shard_balancer = balancer_wake.clone();
                        let addr = ShardActor::start_in_arbiter(&arbiter.handle(), move |_| {
                            let mut ledger = ShardLedger::new(
                                shard,
                                r.books,
                                r.wal,
                                r.next_lsn,
                                queue,
                                chunk_limits,
                                poisoned,
                            );
                            for (actor, seq) in r.actor_seqs {
                                ledger.replayed_seq(actor, seq);
                            }
                            // The records replayed are records since the last snapshot.
                            ledger.replayed_since_snapshot(r.report.records_replayed);
                            ledger.set_archive(r.archive, config.archive.settled_max as usize);
                            ShardActor::new(
                                shard,
                                shards,
                                config,
                                ledger,
                                rails,
                                clock,
                                events,
                                shard_registry,
                            )
                            .with_balancer(shard_balancer)
                        });
                        addrs.push(addr);
                        arbiters.push(arbiter);
                    }
                    Balancer {
                        shards: addrs.clone(),
                        config: system_config.clone(),
                        wake: balancer_wake,
                        one_at_a_time: system_rebalancing,
                    }
                    .start();
                    (addrs, arbiters)
                });
                let _ = started_tx.send((addrs, arbiters, System::current()));
                if let Err(e) = runner.run() {
                    tracing::error!(error = %e, "the actor system stopped with an error");
                }
            })
            .map_err(|e| StartError::System(e.to_string()))?;
        let (addrs, arbiters, system) = started_rx.recv().map_err(|_| {
            StartError::System("the actor system thread exited while starting".into())
        })?;
        failstop::watch(&system, &failure);
        for addr in &addrs {
            addr.do_send(Peers(addrs.clone()));
        }
        for addr in &addrs {
            addr.do_send(Redeliver);
        }
        let engine = Engine {
            inner: Arc::new(Inner {
                rails: host_rails,
                gates: (0..shards)
                    .map(|_| Gate::new(config.actors.mailbox_capacity as usize))
                    .collect(),
                registry,
                archives,
                events,
                config,
                shards: addrs,
                round_robin: AtomicUsize::new(0),
                running: Mutex::new(Some(Running {
                    system,
                    arbiters,
                    thread,
                })),
                recovery,
                failure,
                poisoned,
                rebalancing,
                merchants: std::sync::RwLock::new(merchants),
                payment_keys: Arc::new(payment_keys),
                merchant_writer: tokio::sync::Mutex::new(()),
                cards,
                divisions,
                payment_keys_seen,
                pay_backs: tokio::sync::Mutex::new(()),
                clock: host_clock,
                wallets,
                api_keys,
                va_index: DashMap::new(),
            }),
        };
        // Before the engine serves: a shard a crash left behind on a merchant is brought up
        // to date (the shards answer on their own threads; nothing else runs yet).
        if !merchant_repairs.is_empty() {
            futures::executor::block_on(engine.repair_merchants(merchant_repairs)).map_err(
                |e| StartError::System(format!("writing merchants to the shards behind: {e}")),
            )?;
        }
        tracing::info!(shards, "engine started");
        Ok(engine)
    }
}
