//! The `Engine` handle: what a host holds.
//!
//! `Engine::start` recovers every shard from its data directory, then starts the engine's
//! own actix system on its own threads (one arbiter per shard). The handle is
//! `Send + Sync` and cheap to clone; its async methods only await a oneshot answer, so
//! they work from any tokio runtime, any other executor, or a plain thread through
//! `futures::executor::block_on`.
//!
//! - `mod.rs`: [`Engine`], its accessors, and how it asks a shard.
//! - `start.rs`, `stop.rs`: recovery and start; halt and shutdown.
//! - `admission.rs`: the per-shard gate every request passes on its way to its shard.
//! - `raw.rs`: raw ledger operations (open a customer, set a status, post).
//! - `submit.rs`, `registry.rs`: charges, remittances, signing texts; the engine-wide
//!   request-number registry.
//! - `query.rs`, `reconcile.rs`: balances, totals, requests, events; reconciliation.
//! - `balancer.rs`: moves between the slices of one parent account across shards.
//! - `holds.rs`: two-phase holds: create, post, void, and reading them back.

mod admission;
mod api_keys;
mod balancer;
mod cancels;
mod cards;
mod divisions;
mod holds;
mod merchants;
mod pay_backs;
mod payments;
mod payouts;
mod query;
mod raw;
mod reconcile;
mod refunds;
mod registry;
mod relay;
mod settlements;
mod start;
mod stop;
mod submit;
mod wallet;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};

use actix::Addr;
use dashmap::DashMap;
use omnibus_core::ledger::shard_of;
use omnibus_core::{Config, CustomerId, RequestNo};
use tokio::sync::{broadcast, oneshot};

use self::admission::{Admitted, Gate};
use self::stop::Running;
use crate::api::EngineEvent;
use crate::error::EngineError;
use crate::failstop::Failure;
use crate::ledger::recovery::RecoveryReport;
use crate::rails::Rails;
use crate::reply::Reply;
use crate::shard::{BatchMessage, ShardActor};

pub use self::cancels::CancelByRequest;
pub use self::cards::CardApplication;
pub use self::divisions::{DivisionApplication, DivisionIssue, IssuedDivision};
pub use self::payouts::PayoutView;
pub use self::relay::{DepositReceipt, DepositRef, PartnerSetup, VaReconciliation};
pub use self::settlements::{PaymentSettlements, Settlement};
pub use self::start::EngineParts;
pub use self::wallet::{Checkout, WalletSession};

struct Inner {
    config: Arc<Config>,
    rails: Rails,
    /// Which customer each request number belongs to: a request number is executed at most
    /// once engine-wide (SPEC §6.3), and `request(no)` finds its shard.
    registry: Arc<DashMap<RequestNo, CustomerId>>,
    /// Each shard's archive of settled requests: a number no longer in the registry may
    /// be there (`ledger/archive.rs`).
    archives: Vec<crate::ledger::archive::ShardArchive>,
    events: broadcast::Sender<EngineEvent>,
    shards: Vec<Addr<ShardActor>>,
    gates: Vec<Arc<Gate>>,
    round_robin: AtomicUsize,
    running: Mutex<Option<Running>>,
    recovery: Vec<RecoveryReport>,
    /// Set when a panic on one of the engine's threads stopped it (`failstop`).
    failure: Arc<Failure>,
    /// Each shard's log failure, once its log failed (the shard refuses all work then).
    poisoned: Vec<Arc<OnceLock<String>>>,
    /// Held while slices are moved between shards (the `Balancer`'s runs and
    /// `supervise_once`), so that two plans never move the same money.
    rebalancing: Arc<tokio::sync::Mutex<()>>,
    /// The merchants at their newest versions (`merchants.rs`), and the lock their writers
    /// take one at a time.
    merchants: std::sync::RwLock<merchants::MerchantDirectory>,
    merchant_writer: tokio::sync::Mutex<()>,
    /// The payments layer's server secrets (`crate::keys`), never written to a log.
    payment_keys: Arc<crate::keys::PaymentKeys>,
    /// The credential index of the prepaid cards (`cards.rs`).
    cards: cards::CardDirectory,
    /// The credential index of the division accounts (`divisions.rs`).
    divisions: divisions::DivisionDirectory,
    /// Payments by the merchant's idempotency key (`payments.rs`).
    payment_keys_seen: payments::PaymentDirectory,
    /// Held by a cancel or refund from reading its payment to recording it, so that two at
    /// once never refund more than the payment, nor lose one's record (`cancels.rs`).
    pay_backs: tokio::sync::Mutex<()>,
    /// The engine's clock (the shards' too).
    clock: Arc<dyn crate::clock::Clock>,
    /// Members, wallet sessions and checkouts (`wallet.rs`).
    wallets: wallet::Wallets,
    /// The API keys (`api_keys.rs`).
    api_keys: api_keys::ApiKeyDirectory,
    /// Which shard holds each virtual account (`relay.rs`), learned as VAs are granted
    /// and, after a restart, as notices ask for them.
    va_index: DashMap<(omnibus_core::BankCode, omnibus_core::payments::relay::VaNo), u16>,
}

/// The handle a host holds. Clone it freely.
/// The handle a host holds. Clone it freely.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// The payments layer's key rings (INSTRUMENTS.md D-0.3), as read from the key file at
    /// start. They seal, check and index; no method hands out a key's bytes.
    pub fn payment_keys(&self) -> &crate::keys::PaymentKeys {
        &self.inner.payment_keys
    }

    /// Whether the engine serves: `Err` naming the cause when it stopped (a panic on one of
    /// its threads) or a shard's log failed (that shard refuses all work until a restart).
    pub fn health(&self) -> Result<(), String> {
        if let Some(cause) = self.inner.failure.cause() {
            return Err(format!("the engine stopped: {cause}"));
        }
        for (shard, poisoned) in self.inner.poisoned.iter().enumerate() {
            if let Some(cause) = poisoned.get() {
                return Err(format!(
                    "shard {shard}'s write-ahead log failed ({cause}); it refuses all work until the engine is restarted"
                ));
            }
        }
        Ok(())
    }

    /// `Internal` naming the cause if the engine stopped for a failure.
    fn check_running(&self) -> Result<(), EngineError> {
        match self.inner.failure.cause() {
            Some(cause) => Err(EngineError::Internal(format!(
                "the engine stopped: {cause}"
            ))),
            None => Ok(()),
        }
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
        self.check_running()?;
        let ticket = self.inner.gates[shard as usize].enter(1)?;
        let (tx, rx) = oneshot::channel();
        // Admission is the gate's job; the send itself never parks. A stopped shard drops
        // the message, and with it the reply, which the caller sees as shutting down.
        self.inner.shards[shard as usize].do_send(Admitted {
            message: make(Reply::One(tx)),
            _ticket: ticket,
        });
        match rx.await {
            Ok(answer) => answer,
            // A shard that stopped answering: stopped for a failure, or shut down.
            Err(_) => Err(self
                .check_running()
                .err()
                .unwrap_or(EngineError::ShuttingDown)),
        }
    }

    /// Sends each shard its part of a batch, through the shard's gate (one ticket per
    /// item); a part the gate refuses is answered with the refusal, item by item.
    fn send_batches<I, M>(&self, by_shard: Vec<Vec<I>>, make: impl Fn(Vec<I>) -> M)
    where
        M: BatchMessage + actix::Message<Result = ()> + Send + 'static,
        ShardActor: actix::Handler<Admitted<M>>,
    {
        for (shard, items) in by_shard.into_iter().enumerate() {
            if items.is_empty() {
                continue;
            }
            let weight = items.len();
            let message = make(items);
            match self.inner.gates[shard].enter(weight) {
                Ok(ticket) => self.inner.shards[shard].do_send(Admitted {
                    message,
                    _ticket: ticket,
                }),
                Err(error) => message.fail(error),
            }
        }
    }
}
