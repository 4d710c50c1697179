//! Two-phase holds through the engine: create, post (in full or in part) and void a hold,
//! and read holds back. A hold lives in the shard of the customer that owns its id
//! (`HoldId::owner`); its debit and credit accounts must be booked there (a customer of
//! that shard, or a parent account's slice in it). Each answer comes once the record it
//! reflects is durable. Expiry is the shards' own pass (`actors.hold_expiry_interval_ms`).
//! Not over HTTP yet: merchant payments (issue 14) will be the first to expose them.

use futures::future::join_all;
use omnibus_core::ledger::{Hold, HoldAnswer, HoldId, NewHold};
use omnibus_core::{AccountId, Amount};

use super::Engine;
use crate::error::EngineError;
use crate::shard::{CreateHold, HoldsQuery, HoldsWanted, PostHold, VoidHold};

impl Engine {
    /// Creates a hold: `hold.amount` of `hold.debit` set aside toward `hold.credit` until
    /// it is posted, voided or expires at `hold.expires_at_ms` (engine clock). Refused
    /// (`Refused`, nothing changed) when the debit has less available than the amount,
    /// when the expiry is not after now, or when the id is known with another body
    /// (`HoldConflict`). The same create again answers `Unchanged` with the hold as it
    /// is now.
    pub async fn create_hold(&self, hold: NewHold) -> Result<HoldAnswer, EngineError> {
        self.ask(self.shard_of(hold.id.owner), |reply| CreateHold {
            hold,
            reply,
        })
        .await
    }

    /// Posts a hold: `amount` (all of it when `None`) moves from its debit to its credit
    /// account and the rest is released. `Done` when this call posted it; `Unchanged` with
    /// the hold's state when it was already resolved (posted, voided or expired), or fell
    /// due before this call, which then expired it. An amount above the hold is refused.
    pub async fn post_hold(
        &self,
        id: HoldId,
        amount: Option<Amount>,
    ) -> Result<HoldAnswer, EngineError> {
        self.ask(self.shard_of(id.owner), |reply| PostHold {
            id,
            amount,
            reply,
        })
        .await
    }

    /// Voids a hold: released, nothing moves. Answers as [`Engine::post_hold`] does.
    pub async fn void_hold(&self, id: HoldId) -> Result<HoldAnswer, EngineError> {
        self.ask(self.shard_of(id.owner), |reply| VoidHold { id, reply })
            .await
    }

    /// A hold as of everything durable; `None` if there is no such hold.
    pub async fn hold(&self, id: HoldId) -> Result<Option<Hold>, EngineError> {
        let holds = self
            .ask(self.shard_of(id.owner), |reply| HoldsQuery {
                wanted: HoldsWanted::One(id),
                reply,
            })
            .await?;
        Ok(holds.into_iter().next())
    }

    /// Every hold (open and resolved) debiting `account`, as of everything durable: from
    /// the customer's shard for a customer's account, from every shard's slice for a
    /// parent account. By id within each shard, shard after shard.
    pub async fn holds_of(&self, account: AccountId) -> Result<Vec<Hold>, EngineError> {
        let shards: Vec<u16> = match account {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                vec![self.shard_of(customer)]
            }
            _ => (0..self.shard_count()).collect(),
        };
        let answers = join_all(shards.into_iter().map(|shard| {
            self.ask(shard, move |reply| HoldsQuery {
                wanted: HoldsWanted::Of(account),
                reply,
            })
        }))
        .await;
        let mut holds = Vec::new();
        for answer in answers {
            holds.extend(answer?);
        }
        Ok(holds)
    }
}
