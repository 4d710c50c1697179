//! Raw ledger operations: opening a customer, changing a customer's validity, and
//! double-entry postings (one or many, within a shard or between shards).

use std::sync::atomic::Ordering;

use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountId, Amount, CustomerId};

use super::Engine;
use crate::api::Receipt;
use crate::error::{EngineError, Rejection};
use crate::reply::Collector;
use crate::shard::{Open, Post, PostBatch, SetStatus};

impl Engine {
    /// Opens a customer financial company account, registering its linked bank account,
    /// its validity and its signature key. Answers once the opening is durable.
    pub async fn open_customer(&self, opened: CustomerOpened) -> Result<Receipt, EngineError> {
        // A weak (small-order) or malformed ed25519 key would let a signature made with no
        // private key verify: refused at registration (SPEC §5a, S6).
        if let Some(key) = opened.signing_key {
            omnibus_core::signing::check_public_key(&key.public_key).map_err(Rejection::Signing)?;
        }
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
            AccountId::Customer { customer }
            | AccountId::Linked { customer }
            | AccountId::Pocket { customer, .. } => Some(self.shard_of(customer)),
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
        self.send_batches(by_shard, |items| PostBatch {
            items,
            collector: collector.clone(),
        });
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
}
