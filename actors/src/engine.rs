//! The `Engine` handle: what a host holds.
//!
//! `Engine::start` recovers every shard from its data directory, then starts the engine's
//! own actix system on its own threads (one arbiter per shard). The handle is
//! `Send + Sync` and cheap to clone; its async methods only await a oneshot answer, so
//! they work from any tokio runtime, any other executor, or a plain thread through
//! `futures::executor::block_on`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use actix::{Actor, Addr, Arbiter, System};
use omnibus_core::books::{shard_of, ParentPlan};
use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountId, Amount, Config, CustomerId, Money, ParentAccount};
use tokio::sync::oneshot;

use crate::error::{EngineError, StartError};
use crate::gate::Gate;
use crate::job::Receipt;
use crate::ledger::ShardLedger;
use crate::recovery::{recover_shard, DataDir, RecoveryReport};
use crate::reply::{Collector, Reply};
use crate::shard::{Admitted, PostBatch, Redeliver};
use crate::shard::{
    Open, Peers, Post, Query, QueryAnswer, QueryKind, SetStatus, ShardActor, ShardTotals, Shutdown,
};

/// A customer's balance as the engine books it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerBalance {
    pub customer: CustomerId,
    /// The balance the customer sees.
    pub balance: Money,
    /// The balance less what debits in flight hold.
    pub available: Money,
    pub tradable: bool,
    pub subscription_valid: bool,
}

/// A parent account's balance: the sum of its slices, and each slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentBalance {
    pub parent: ParentAccount,
    pub total: Money,
    /// Indexed by shard.
    pub slices: Vec<Money>,
}

/// The engine-wide conservation check (SPEC §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// The sum over every account of every shard, external accounts and money in transit
    /// between shards included. Zero while the books balance.
    pub sum: Money,
    /// Money debited by one shard and not yet credited by another.
    pub in_transit: Money,
    pub customers: u64,
    pub shards: Vec<ShardTotals>,
}

struct Running {
    system: System,
    arbiters: Vec<Arbiter>,
    thread: JoinHandle<()>,
}

struct Inner {
    config: Arc<Config>,
    shards: Vec<Addr<ShardActor>>,
    gates: Vec<Arc<Gate>>,
    round_robin: AtomicUsize,
    running: Mutex<Option<Running>>,
    recovery: Vec<RecoveryReport>,
}

/// The handle a host holds. Clone it freely.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Recovers the data directory of `config` and starts the engine. Blocks until every
    /// shard is serving; call it before entering an async runtime, or from
    /// `spawn_blocking`.
    pub fn start(config: Config) -> Result<Engine, StartError> {
        config
            .validate()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let config = Arc::new(config);
        let data = DataDir::open(&config)?;
        let shards = data.shards;
        let plan = ParentPlan::from_config(&config, shards);
        tracing::info!(dir = %data.root.display(), shards, "recovering");
        let recovered = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..shards)
                .map(|shard| {
                    let (config, data, plan) = (&config, &data, plan.clone());
                    scope.spawn(move || recover_shard(config, data, shard, plan))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("recovery thread panicked"))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let recovery: Vec<RecoveryReport> = recovered.iter().map(|r| r.report.clone()).collect();
        for r in &recovery {
            tracing::info!(
                shard = r.shard,
                snapshot_lsn = r.snapshot_lsn,
                records = r.records_replayed,
                customers = r.customers,
                ms = r.elapsed_ms,
                "shard recovered"
            );
        }

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
                        let addr = ShardActor::start_in_arbiter(&arbiter.handle(), move |_| {
                            let mut ledger =
                                ShardLedger::new(shard, r.books, r.wal, r.next_lsn, queue);
                            for (actor, seq) in r.actor_seqs {
                                ledger.replayed_seq(actor, seq);
                            }
                            ShardActor::new(shard, shards, config, ledger)
                        });
                        addrs.push(addr);
                        arbiters.push(arbiter);
                    }
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
        for addr in &addrs {
            addr.do_send(Peers(addrs.clone()));
        }
        for addr in &addrs {
            addr.do_send(Redeliver);
        }
        tracing::info!(shards, "engine started");
        Ok(Engine {
            inner: Arc::new(Inner {
                gates: (0..shards)
                    .map(|_| Gate::new(config.actors.mailbox_capacity as usize))
                    .collect(),
                config,
                shards: addrs,
                round_robin: AtomicUsize::new(0),
                running: Mutex::new(Some(Running {
                    system,
                    arbiters,
                    thread,
                })),
                recovery,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn shard_count(&self) -> u16 {
        self.inner.shards.len() as u16
    }

    /// Requests admitted to each shard and not yet handled by it (bounded by
    /// `actors.mailbox_capacity`).
    pub fn queued_requests(&self) -> Vec<usize> {
        self.inner.gates.iter().map(|g| g.queued()).collect()
    }

    /// What recovery found in each shard when the engine started.
    pub fn recovery_reports(&self) -> &[RecoveryReport] {
        &self.inner.recovery
    }

    pub fn shard_of(&self, customer: CustomerId) -> u16 {
        shard_of(customer, self.shard_count())
    }

    async fn ask<T, M>(
        &self,
        shard: u16,
        make: impl FnOnce(Reply<T>) -> M,
    ) -> Result<T, EngineError>
    where
        M: actix::Message<Result = ()> + Send + 'static,
        ShardActor: actix::Handler<M> + actix::Handler<Admitted<M>>,
    {
        let ticket = self.inner.gates[shard as usize].enter(1)?;
        let (tx, rx) = oneshot::channel();
        // Admission is the gate's job; the send itself never parks. A stopped shard drops
        // the message, and with it the reply, which the caller sees as shutting down.
        self.inner.shards[shard as usize].do_send(Admitted {
            message: make(Reply::One(tx)),
            _ticket: ticket,
        });
        rx.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Opens a customer financial company account, registering its linked bank account,
    /// its validity and its signature key. Answers once the opening is durable.
    pub async fn open_customer(&self, opened: CustomerOpened) -> Result<Receipt, EngineError> {
        self.ask(self.shard_of(opened.customer), |reply| Open {
            opened,
            reply,
        })
        .await
    }

    /// Changes a customer's validity: tradable (S31, S71) and securities subscription (S32, S113).
    pub async fn set_customer_status(
        &self,
        customer: CustomerId,
        tradable: bool,
        subscription_valid: bool,
    ) -> Result<Receipt, EngineError> {
        self.ask(self.shard_of(customer), |reply| SetStatus {
            customer,
            tradable,
            subscription_valid,
            reply,
        })
        .await
    }

    /// Posts `amount` from `debit` to `credit` (double entry), answering once it is durable.
    /// Between a customer and a parent account it stays in the customer's shard (the
    /// parent's slice there); between customers of two shards it is a transfer, answered
    /// once the destination has credited it.
    pub async fn post(
        &self,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
    ) -> Result<Receipt, EngineError> {
        let home = |a: AccountId| match a {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                Some(self.shard_of(customer))
            }
            _ => None,
        };
        let shard = home(debit).or(home(credit)).unwrap_or_else(|| {
            (self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % self.inner.shards.len())
                as u16
        });
        self.ask(shard, |reply| Post {
            debit,
            credit,
            amount,
            reply,
        })
        .await
    }

    /// Posts many postings at once: one message per shard, one answer for the whole batch
    /// once every posting in it is durable (or refused). Each posting is still its own
    /// atomic record with its own result, in the order given; a refused posting does not
    /// affect the others. This is how a caller keeps thousands of postings in flight
    /// without a round trip each.
    pub async fn post_batch(
        &self,
        postings: &[(AccountId, AccountId, Amount)],
    ) -> Vec<Result<Receipt, EngineError>> {
        let (collector, done) = Collector::new(postings.len());
        let mut by_shard: Vec<Vec<(usize, AccountId, AccountId, Amount)>> =
            vec![Vec::new(); self.inner.shards.len()];
        for (index, (debit, credit, amount)) in postings.iter().enumerate() {
            by_shard[self.posting_shard(*debit, *credit) as usize]
                .push((index, *debit, *credit, *amount));
        }
        for (shard, items) in by_shard.into_iter().enumerate() {
            if items.is_empty() {
                continue;
            }
            let message = PostBatch {
                items,
                collector: collector.clone(),
            };
            match self.inner.gates[shard].enter(message.items.len()) {
                Ok(ticket) => self.inner.shards[shard].do_send(Admitted {
                    message,
                    _ticket: ticket,
                }),
                Err(error) => message.fail(error),
            }
        }
        drop(collector);
        done.await.unwrap_or_else(|_| {
            postings
                .iter()
                .map(|_| Err(EngineError::ShuttingDown))
                .collect()
        })
    }

    /// The shard a posting goes to: the home of its debit, else of its credit, else any.
    fn posting_shard(&self, debit: AccountId, credit: AccountId) -> u16 {
        let home = |a: AccountId| match a {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                Some(self.shard_of(customer))
            }
            _ => None,
        };
        home(debit).or(home(credit)).unwrap_or_else(|| {
            (self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % self.inner.shards.len())
                as u16
        })
    }

    /// A customer's balance, as of everything durable.
    pub async fn customer_balance(
        &self,
        customer: CustomerId,
    ) -> Result<CustomerBalance, EngineError> {
        match self
            .ask(self.shard_of(customer), |reply| Query {
                kind: QueryKind::Customer(customer),
                reply,
            })
            .await?
        {
            QueryAnswer::Customer {
                balance,
                available,
                tradable,
                subscription_valid,
            } => Ok(CustomerBalance {
                customer,
                balance,
                available,
                tradable,
                subscription_valid,
            }),
            other => unreachable!("a customer query answers with a customer, got {other:?}"),
        }
    }

    /// Every parent account's balance: total and per slice.
    pub async fn parent_balances(&self) -> Result<Vec<ParentBalance>, EngineError> {
        let mut out: Vec<ParentBalance> = Vec::new();
        for shard in 0..self.shard_count() {
            let QueryAnswer::Slices(slices) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Slices,
                    reply,
                })
                .await?
            else {
                unreachable!("a slices query answers with slices");
            };
            for (parent, balance) in slices {
                match out.iter_mut().find(|p| p.parent == parent) {
                    Some(p) => {
                        p.total = p
                            .total
                            .checked_add(balance)
                            .map_err(|e| EngineError::Invalid(e.to_string()))?;
                        p.slices.push(balance);
                    }
                    None => out.push(ParentBalance {
                        parent,
                        total: balance,
                        slices: vec![balance],
                    }),
                }
            }
        }
        Ok(out)
    }

    /// One parent account's balance: total and per slice.
    pub async fn parent_balance(
        &self,
        parent: ParentAccount,
    ) -> Result<ParentBalance, EngineError> {
        self.parent_balances()
            .await?
            .into_iter()
            .find(|p| p.parent == parent)
            .ok_or(EngineError::Refused(
                omnibus_core::books::BooksError::UnknownParent(parent),
            ))
    }

    /// The conservation check over every shard.
    pub async fn totals(&self) -> Result<Totals, EngineError> {
        let currency = self.inner.config.engine.currency;
        let mut totals = Totals {
            sum: Money::zero(currency),
            in_transit: Money::zero(currency),
            customers: 0,
            shards: Vec::new(),
        };
        for shard in 0..self.shard_count() {
            let QueryAnswer::Totals(t) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Totals,
                    reply,
                })
                .await?
            else {
                unreachable!("a totals query answers with totals");
            };
            let add = |a: Money, b: Money| {
                a.checked_add(b)
                    .map_err(|e| EngineError::Invalid(e.to_string()))
            };
            totals.sum = add(totals.sum, t.sum)?;
            totals.in_transit = add(totals.in_transit, t.in_transit)?;
            totals.customers += t.customers;
            totals.shards.push(t);
        }
        Ok(totals)
    }

    /// Stops taking work, lets every applied record become durable, syncs and closes each
    /// shard's log, and stops the actor system. Blocks; idempotent.
    pub fn shutdown(&self) -> Result<(), EngineError> {
        let Some(running) = self.inner.running.lock().expect("engine lock").take() else {
            return Ok(());
        };
        let mut first_error = None;
        let waits: Vec<_> = self
            .inner
            .shards
            .iter()
            .map(|addr| {
                let (done, wait) = std::sync::mpsc::channel();
                addr.do_send(Shutdown { done });
                wait
            })
            .collect();
        for (shard, wait) in waits.into_iter().enumerate() {
            match wait.recv() {
                Ok(Ok(())) => {}
                Ok(Err(cause)) => {
                    first_error.get_or_insert(EngineError::Storage {
                        shard: shard as u16,
                        cause,
                    });
                }
                Err(_) => {}
            }
        }
        for arbiter in &running.arbiters {
            arbiter.stop();
        }
        for arbiter in running.arbiters {
            let _ = arbiter.join();
        }
        running.system.stop();
        let _ = running.thread.join();
        tracing::info!("engine stopped");
        first_error.map_or(Ok(()), Err)
    }
}
