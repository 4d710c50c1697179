//! API keys (docs/auth.md): made and revoked here, kept on shard 0's log, and looked up
//! from memory by the HTTP layer for every signed request. The secret is never stored: it
//! derives from the payments key file's `pin_key[kid]` and the key's id
//! (`omnibus_core::payments::api_key`), so it is handed out once, when the key is made,
//! and recomputed to check a signature.

use dashmap::DashMap;
use omnibus_core::payments::api_key::{ApiKey, ApiKeyId, ApiKeyOwner, ApiKeyStatus, ApiSecret};
use omnibus_core::payments::RefusalCode;
use rand::RngCore;

use super::Engine;
use crate::error::EngineError;
use crate::shard::SetApiKey;

/// The shard whose log keeps the API keys.
const KEYS_SHARD: u16 = 0;

/// Every API key by id, revoked ones included, and the lock its writers take one at a
/// time.
pub(super) struct ApiKeyDirectory {
    keys: DashMap<ApiKeyId, ApiKey>,
    writer: tokio::sync::Mutex<()>,
}

impl ApiKeyDirectory {
    pub(super) fn new(keys: impl Iterator<Item = ApiKey>) -> Self {
        Self {
            keys: keys.map(|k| (k.id, k)).collect(),
            writer: tokio::sync::Mutex::new(()),
        }
    }
}

impl Engine {
    /// A new API key for `owner`, and its secret, which nothing keeps: the caller must
    /// store it now. A merchant that is not onboarded is `NOT_FOUND`.
    pub async fn create_api_key(
        &self,
        owner: ApiKeyOwner,
    ) -> Result<(ApiKey, ApiSecret), EngineError> {
        if let ApiKeyOwner::Merchant(no) = owner {
            if self.merchant_id_of(no).is_none() {
                return Err(EngineError::refusal(
                    RefusalCode::NotFound,
                    format!("no merchant number {}", no.0),
                ));
            }
        }
        let _one_at_a_time = self.inner.api_keys.writer.lock().await;
        let mut id = ApiKeyId([0; 12]);
        loop {
            rand::rng().fill_bytes(&mut id.0);
            if !self.inner.api_keys.keys.contains_key(&id) {
                break;
            }
        }
        let ring = &self.payment_keys().pin;
        let key = ApiKey {
            id,
            owner,
            kid: ring.current_kid(),
            status: ApiKeyStatus::Active,
            created_at_ms: self.now_ms(),
            revoked_at_ms: 0,
        };
        let secret = ring
            .api_secret(key.kid, id)
            .expect("the current key is in its ring");
        self.ask(KEYS_SHARD, |reply| SetApiKey { key, reply })
            .await?;
        self.inner.api_keys.keys.insert(id, key);
        tracing::info!(key = %id, ?owner, "API key made");
        Ok((key, secret))
    }

    /// Revokes key `id` for good, asked by `by` (the operator revokes any key, a merchant
    /// only its own: another's is `NOT_FOUND`). Revoking a revoked key answers it again.
    pub async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        by: ApiKeyOwner,
    ) -> Result<ApiKey, EngineError> {
        let _one_at_a_time = self.inner.api_keys.writer.lock().await;
        let key = self
            .api_key(id)
            .filter(|k| by == ApiKeyOwner::Operator || k.owner == by)
            .ok_or_else(|| EngineError::refusal(RefusalCode::NotFound, format!("no key {id}")))?;
        if !key.is_active() {
            return Ok(key);
        }
        let revoked = key.revoked(self.now_ms());
        self.ask(KEYS_SHARD, |reply| SetApiKey {
            key: revoked,
            reply,
        })
        .await?;
        self.inner.api_keys.keys.insert(id, revoked);
        tracing::info!(key = %id, "API key revoked");
        Ok(revoked)
    }

    /// A key, active or revoked.
    pub fn api_key(&self, id: ApiKeyId) -> Option<ApiKey> {
        self.inner.api_keys.keys.get(&id).map(|k| *k)
    }

    /// The keys of `owner` (every key for `None`), by id.
    pub fn api_keys(&self, owner: Option<ApiKeyOwner>) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = self
            .inner
            .api_keys
            .keys
            .iter()
            .map(|k| *k)
            .filter(|k| owner.is_none_or(|o| k.owner == o))
            .collect();
        keys.sort_unstable_by_key(|k| k.id);
        keys
    }

    /// The secret of an active key, to check a signature with; `None` for a revoked key or
    /// one whose server key left the key file.
    pub fn api_key_secret(&self, key: &ApiKey) -> Option<ApiSecret> {
        if !key.is_active() {
            return None;
        }
        self.payment_keys().pin.api_secret(key.kid, key.id)
    }

    /// The engine's clock in Unix milliseconds: the one signed requests' timestamps are
    /// judged by.
    pub fn clock_ms(&self) -> u64 {
        self.now_ms()
    }
}
