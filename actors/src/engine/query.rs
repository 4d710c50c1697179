//! What the engine answers about its state: a request, the event stream, supervision on
//! demand, balances (customers, accounts, parent accounts), audits and totals.

use omnibus_core::{AccountId, CustomerId, Money, ParentAccount, RequestNo};
use tokio::sync::{broadcast, oneshot};

use super::balancer::rebalance_slices;
use super::Engine;
use crate::api::{CustomerBalance, EngineEvent, ParentBalance, RequestView, Totals};
use crate::error::{EngineError, Rejection};
use crate::shard::{Query, QueryAnswer, QueryKind, Supervise, ViewRequest};
use crate::supervisors::SupervisionReport;

impl Engine {
    /// A request with all its request-log entries and their states.
    pub async fn request(&self, request_no: RequestNo) -> Result<RequestView, EngineError> {
        let Some(customer) = self.inner.registry.get(&request_no).map(|c| *c) else {
            // Settled and archived: answered from the archive, on the caller's thread.
            return match self.archived(request_no)? {
                Some(settled) => Ok(RequestView::from_archived(settled)),
                None => Err(Rejection::UnknownRequest(request_no).into()),
            };
        };
        self.ask(self.shard_of(customer), |reply| ViewRequest {
            customer,
            request_no,
            reply,
        })
        .await?
        .ok_or_else(|| Rejection::UnknownRequest(request_no).into())
    }

    /// A stream of state changes (requests accepted, entries changing state, customers
    /// answered), each published once durable. A subscriber that falls more than
    /// `actors.events_buffer` events behind loses the oldest (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// Runs every supervisor pass (non-reflected search, reprocessing, recovery and
    /// refunds, sweeps) once on every shard, now, and answers when their work has settled.
    /// The supervisors also run on their own timers; this is for operators and tests.
    pub async fn supervise_once(&self) -> Result<SupervisionReport, EngineError> {
        let mut waits = Vec::new();
        for shard in &self.inner.shards {
            let (reply, wait) = oneshot::channel();
            shard.do_send(Supervise { reply });
            waits.push(wait);
        }
        let mut report = SupervisionReport::default();
        for wait in waits {
            report.add(&wait.await.map_err(|_| EngineError::ShuttingDown)?);
        }
        let _one = self.inner.rebalancing.lock().await;
        report.sweeps +=
            rebalance_slices(&self.inner.shards, &self.inner.config, self.shard_count()).await?;
        Ok(report)
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
            QueryAnswer::Customer(view) => Ok(*view),
            other => unreachable!("a customer query answers with a customer, got {other:?}"),
        }
    }

    /// Any account's balance as the engine books it: a customer's own accounts (its
    /// financial company account, its linked account) in its shard; a parent account or
    /// an external aggregate summed over every shard.
    pub async fn account_balance(&self, account: AccountId) -> Result<Money, EngineError> {
        let shards: Vec<u16> = match account {
            AccountId::Customer { customer }
            | AccountId::Linked { customer }
            | AccountId::Pocket { customer, .. } => vec![self.shard_of(customer)],
            _ => (0..self.shard_count()).collect(),
        };
        let mut total = Money::zero(self.inner.config.engine.currency);
        for shard in shards {
            let QueryAnswer::Account(balance) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Account(account),
                    reply,
                })
                .await?
            else {
                unreachable!("an account query answers with a balance");
            };
            total = total
                .checked_add(balance)
                .map_err(|e| EngineError::Internal(format!("a sum over the shards: {e}")))?;
        }
        Ok(total)
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
            for (parent, balance, _) in slices {
                match out.iter_mut().find(|p| p.parent == parent) {
                    Some(p) => {
                        p.total = p.total.checked_add(balance).map_err(|e| {
                            EngineError::Internal(format!("a sum over the shards: {e}"))
                        })?;
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
                omnibus_core::ledger::BooksError::UnknownParent(parent),
            ))
    }

    /// Each shard's conservation sum as kept while records apply, and as added up account
    /// by account; the two must agree. Walks every customer on each shard's thread: for
    /// audits and tests, not for a metrics scrape.
    pub async fn audit(&self) -> Result<Vec<(Money, Money)>, EngineError> {
        let mut sums = Vec::new();
        for shard in 0..self.shard_count() {
            let QueryAnswer::Audit { kept, scanned } = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::Audit,
                    reply,
                })
                .await?
            else {
                unreachable!("an audit query answers with sums");
            };
            sums.push((kept, scanned));
        }
        Ok(sums)
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
                    .map_err(|e| EngineError::Internal(format!("a sum over the shards: {e}")))
            };
            totals.sum = add(totals.sum, t.sum)?;
            totals.in_transit = add(totals.in_transit, t.in_transit)?;
            totals.customers += t.customers;
            totals.shards.push(*t);
        }
        Ok(totals)
    }
}
