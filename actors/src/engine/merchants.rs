//! Merchants of the instruments layer (INSTRUMENTS.md §6.1; docs/payments.md): onboarding,
//! changes, reads, and the directory rebuilt from the shards at start.
//!
//! Every shard holds every merchant, so that a sale on the payer's shard finds it on its
//! own thread. A merchant is written, at each version, to every shard's log, and a change
//! is answered once all of them hold it. Writers take one lock, so versions and numbers
//! are given one at a time; readers read the directory without waiting for them.

use std::collections::HashMap;

use omnibus_core::ids::{MerchantId, MerchantNo};
use omnibus_core::ledger::MerchantEntry;
use omnibus_core::payments::merchant::Merchant;
use omnibus_core::payments::RefusalCode;

use super::Engine;
use crate::error::EngineError;
use crate::shard::{MerchantsQuery, SetMerchant};

/// Every merchant at its newest version, by id, and the next number to give.
#[derive(Debug, Default)]
pub(super) struct MerchantDirectory {
    by_id: HashMap<MerchantId, MerchantEntry>,
    next_no: u32,
}

/// A shard behind the newest version of a merchant (a crash between the shards' writes).
pub(super) type Repair = (u16, MerchantEntry);

impl MerchantDirectory {
    /// The directory from what each shard's books hold (index = shard), and the writes that
    /// bring every shard to the newest version of every merchant.
    pub(super) fn from_shards(shards: &[Vec<MerchantEntry>]) -> (Self, Vec<Repair>) {
        let mut newest: HashMap<MerchantNo, MerchantEntry> = HashMap::new();
        for entry in shards.iter().flatten() {
            match newest.get(&entry.no) {
                Some(held) if held.version >= entry.version => {}
                _ => {
                    newest.insert(entry.no, entry.clone());
                }
            }
        }
        let mut repairs = Vec::new();
        for (shard, held) in shards.iter().enumerate() {
            let versions: HashMap<MerchantNo, u32> =
                held.iter().map(|e| (e.no, e.version)).collect();
            for entry in newest.values() {
                if versions.get(&entry.no).is_none_or(|v| *v < entry.version) {
                    repairs.push((shard as u16, entry.clone()));
                }
            }
        }
        let next_no = newest.keys().map(|n| n.0).max().unwrap_or(0) + 1;
        let by_id = newest.into_values().map(|e| (e.merchant.id, e)).collect();
        (Self { by_id, next_no }, repairs)
    }
}

impl Engine {
    /// Onboards a merchant (`POST /v1/merchants`): gives it the next number and writes it to
    /// every shard. Idempotent by id: the merchant as it stands on record answers what is
    /// on record (`false`: not created now); other fields under a known id are refused
    /// `IDEMPOTENCY_CONFLICT` (a retry of an onboarding after a change is refused so too:
    /// the change is what stands). A merchant that accepts no instrument type is refused
    /// `INVALID_REQUEST`.
    pub async fn onboard_merchant(
        &self,
        merchant: Merchant,
    ) -> Result<(MerchantEntry, bool), EngineError> {
        if merchant.accepts.is_empty() {
            return Err(EngineError::refusal(
                RefusalCode::InvalidRequest,
                "accepts: a merchant accepts at least one instrument type",
            ));
        }
        let _writer = self.inner.merchant_writer.lock().await;
        let (entry, created) = {
            let directory = self.read_merchants();
            match directory.by_id.get(&merchant.id) {
                // The same merchant as on record (a retry, or onboarding it as it stands).
                Some(held) if held.merchant == merchant => (held.clone(), false),
                Some(_) => {
                    return Err(EngineError::refusal(
                        RefusalCode::IdempotencyConflict,
                        format!(
                            "merchant {} is on record with other fields; change it with its own endpoints",
                            merchant.id
                        ),
                    ))
                }
                None => (
                    MerchantEntry {
                        no: MerchantNo(directory.next_no),
                        version: 1,
                        merchant,
                    },
                    true,
                ),
            }
        };
        // A repeat writes again: a crash may have left a shard without it.
        self.write_merchant(&entry).await?;
        Ok((entry, created))
    }

    /// Changes a merchant (its status, its terminals) to the next version, written to every
    /// shard. `change` refuses what may not change, and leaves the merchant as it was.
    pub async fn change_merchant(
        &self,
        id: MerchantId,
        change: impl FnOnce(&mut Merchant) -> Result<(), EngineError>,
    ) -> Result<MerchantEntry, EngineError> {
        let _writer = self.inner.merchant_writer.lock().await;
        let held = self
            .read_merchants()
            .by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| {
                EngineError::refusal(RefusalCode::NotFound, format!("no merchant {id}"))
            })?;
        let mut merchant = held.merchant.clone();
        change(&mut merchant)?;
        if merchant == held.merchant {
            return Ok(held);
        }
        let entry = MerchantEntry {
            no: held.no,
            version: held.version + 1,
            merchant,
        };
        self.write_merchant(&entry).await?;
        Ok(entry)
    }

    /// A merchant at its newest version.
    pub fn merchant(&self, id: MerchantId) -> Option<MerchantEntry> {
        self.read_merchants().by_id.get(&id).cloned()
    }

    /// The id of merchant number `no` (a scan: merchants are few, and this serves the
    /// API keys, which name a merchant by number).
    pub fn merchant_id_of(&self, no: MerchantNo) -> Option<MerchantId> {
        self.read_merchants()
            .by_id
            .values()
            .find(|e| e.no == no)
            .map(|e| e.merchant.id)
    }

    /// Every merchant, by number.
    pub fn merchants(&self) -> Vec<MerchantEntry> {
        let mut all: Vec<MerchantEntry> = self.read_merchants().by_id.values().cloned().collect();
        all.sort_by_key(|e| e.no);
        all
    }

    /// The merchants one shard's books hold, at the versions they hold (for audits and
    /// tests: every shard holds every merchant at its newest version once a change is
    /// answered).
    pub async fn shard_merchants(&self, shard: u16) -> Result<Vec<MerchantEntry>, EngineError> {
        self.ask(shard, |reply| MerchantsQuery { reply }).await
    }

    /// Writes `entry` to every shard; the directory takes it once all hold it.
    async fn write_merchant(&self, entry: &MerchantEntry) -> Result<(), EngineError> {
        let writes = (0..self.shard_count()).map(|shard| {
            self.ask(shard, |reply| SetMerchant {
                entry: entry.clone(),
                reply,
            })
        });
        for written in futures::future::join_all(writes).await {
            written?;
        }
        let mut directory = self
            .inner
            .merchants
            .write()
            .expect("the merchant directory's lock is never poisoned");
        directory.next_no = directory.next_no.max(entry.no.0 + 1);
        directory.by_id.insert(entry.merchant.id, entry.clone());
        Ok(())
    }

    /// Brings the shards a crash left behind to the newest version of each merchant (at
    /// start, before the engine serves).
    pub(super) async fn repair_merchants(&self, repairs: Vec<Repair>) -> Result<(), EngineError> {
        for (shard, entry) in repairs {
            tracing::info!(shard, merchant = %entry.merchant.id, version = entry.version, "a shard was behind on a merchant; writing it");
            self.ask(shard, |reply| SetMerchant { entry, reply })
                .await?;
        }
        Ok(())
    }

    fn read_merchants(&self) -> std::sync::RwLockReadGuard<'_, MerchantDirectory> {
        self.inner
            .merchants
            .read()
            .expect("the merchant directory's lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use omnibus_core::ids::{AccountNo, BankCode, Tag};
    use omnibus_core::payments::merchant::{
        InstrumentType, InstrumentTypes, MerchantStatus, PayoutSchedule,
    };

    use super::*;

    fn entry(no: u32, version: u32, id: &str) -> MerchantEntry {
        MerchantEntry {
            no: MerchantNo(no),
            version,
            merchant: Merchant {
                id: MerchantId::new(id).unwrap(),
                status: MerchantStatus::Active,
                category: Tag::new("books").unwrap(),
                accepts: InstrumentTypes::of(&[InstrumentType::PrepaidCard]),
                payout_bank: BankCode::new("004").unwrap(),
                payout_account: AccountNo::new("1").unwrap(),
                payout_schedule: PayoutSchedule::Daily,
                payout_reserve_krw: version as u64,
                terminals: Vec::new(),
            },
        }
    }

    #[test]
    fn a_shard_a_crash_left_behind_is_brought_to_the_newest_version_of_every_merchant() {
        let shards = vec![
            vec![entry(1, 2, "m1"), entry(2, 1, "m2")],
            vec![entry(1, 1, "m1")],
            vec![],
        ];
        let (directory, mut repairs) = MerchantDirectory::from_shards(&shards);
        repairs.sort_by_key(|(shard, e)| (*shard, e.no));
        let wanted: Vec<(u16, u32, u32)> = repairs
            .iter()
            .map(|(shard, e)| (*shard, e.no.0, e.version))
            .collect();
        assert_eq!(wanted, [(1, 1, 2), (1, 2, 1), (2, 1, 2), (2, 2, 1)]);
        assert_eq!(directory.next_no, 3);
        assert_eq!(directory.by_id[&MerchantId::new("m1").unwrap()].version, 2);
        let (empty, none) = MerchantDirectory::from_shards(&[vec![], vec![]]);
        assert!(none.is_empty());
        assert_eq!(empty.next_no, 1);
    }
}
