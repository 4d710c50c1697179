//! The API keys (docs/auth.md), as shard 0's books keep them: each at its latest state,
//! by id. One `api_key_set` record per change (made, revoked); a revoked key stays
//! revoked whatever record follows. In snapshots from version 7.

use std::collections::BTreeMap;

use super::ShardBooks;
use crate::payments::api_key::{ApiKey, ApiKeyId};

pub type ApiKeys = BTreeMap<ApiKeyId, ApiKey>;

impl ShardBooks {
    pub(super) fn apply_api_key_set(&mut self, key: &ApiKey) {
        if let Some(held) = self.api_keys.get(&key.id) {
            if !held.is_active() {
                return;
            }
        }
        self.api_keys.insert(key.id, *key);
    }

    /// Every API key this shard keeps, revoked ones included.
    pub fn api_keys(&self) -> impl Iterator<Item = &ApiKey> {
        self.api_keys.values()
    }

    pub fn api_key(&self, id: ApiKeyId) -> Option<&ApiKey> {
        self.api_keys.get(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::fixtures::books_with_genesis;
    use crate::payments::api_key::{ApiKeyOwner, ApiKeyStatus};
    use crate::record::LedgerRecord;

    #[test]
    fn a_revoked_key_stays_revoked() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let key = ApiKey {
            id: ApiKeyId([1; 12]),
            owner: ApiKeyOwner::Operator,
            kid: 1,
            status: ApiKeyStatus::Active,
            created_at_ms: 5,
            revoked_at_ms: 0,
        };
        books
            .apply(lsn + 1, &LedgerRecord::ApiKeySet { key })
            .unwrap();
        assert!(books.api_key(key.id).unwrap().is_active());
        books
            .apply(
                lsn + 2,
                &LedgerRecord::ApiKeySet {
                    key: key.revoked(9),
                },
            )
            .unwrap();
        books
            .apply(lsn + 3, &LedgerRecord::ApiKeySet { key })
            .unwrap();
        assert_eq!(books.api_key(key.id), Some(&key.revoked(9)));
        assert_eq!(books.api_keys().count(), 1);
    }
}
