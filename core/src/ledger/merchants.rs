//! The merchants of the instruments layer as each shard's books keep them
//! (docs/payments.md): the registry is replicated to every shard, one `MerchantSet`
//! record per merchant and version, and applying one keeps the higher version. Their
//! accounts (`merchant[m]`, a slice per shard) come with the sale.

use super::{BooksError, ShardBooks};
use crate::ids::MerchantNo;
use crate::payments::merchant::Merchant;

/// A merchant at the version the books hold.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct MerchantEntry {
    pub no: MerchantNo,
    pub version: u32,
    pub merchant: Merchant,
}

impl ShardBooks {
    /// Every merchant, by number.
    pub fn merchants(&self) -> impl Iterator<Item = &MerchantEntry> {
        self.merchants.values()
    }

    pub fn merchant(&self, no: MerchantNo) -> Option<&MerchantEntry> {
        self.merchants.get(&no)
    }

    /// A merchant at `version`: kept if newer than what the books hold, ignored if not. A
    /// number already given to another merchant id is refused (the engine numbers them
    /// one by one, so it means a log written by a different engine).
    pub(super) fn apply_merchant_set(
        &mut self,
        no: MerchantNo,
        version: u32,
        merchant: &Merchant,
    ) -> Result<(), BooksError> {
        if let Some(held) = self.merchants.get(&no) {
            if held.merchant.id != merchant.id {
                return Err(BooksError::MerchantNoTaken {
                    no,
                    held: held.merchant.id,
                    given: merchant.id,
                });
            }
            if held.version >= version {
                return Ok(());
            }
        }
        self.merchants.insert(
            no,
            MerchantEntry {
                no,
                version,
                merchant: merchant.clone(),
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountNo, BankCode, MerchantId, Tag};
    use crate::ledger::fixtures::books_with_genesis;
    use crate::payments::merchant::{
        InstrumentType, InstrumentTypes, MerchantStatus, PayoutSchedule,
    };
    use crate::record::LedgerRecord;

    fn m(id: &str, status: MerchantStatus) -> Merchant {
        Merchant {
            id: MerchantId::new(id).unwrap(),
            status,
            category: Tag::new("books").unwrap(),
            accepts: InstrumentTypes::of(&[InstrumentType::PrepaidCard]),
            payout_bank: BankCode::new("004").unwrap(),
            payout_account: AccountNo::new("1").unwrap(),
            payout_schedule: PayoutSchedule::Daily,
            payout_reserve_krw: 0,
            terminals: Vec::new(),
        }
    }

    fn set(no: u32, version: u32, merchant: Merchant) -> LedgerRecord {
        LedgerRecord::MerchantSet {
            no: MerchantNo(no),
            version,
            merchant,
        }
    }

    #[test]
    fn a_merchant_record_keeps_the_higher_version_so_repeats_and_late_copies_change_nothing() {
        let (mut books, mut lsn) = books_with_genesis(0, 1);
        let mut apply = |books: &mut ShardBooks, r: LedgerRecord| {
            lsn += 1;
            books.apply(lsn, &r)
        };
        apply(&mut books, set(1, 1, m("m1", MerchantStatus::Active))).unwrap();
        apply(&mut books, set(1, 2, m("m1", MerchantStatus::Suspended))).unwrap();
        // A repeat of version 1, arriving late: ignored.
        apply(&mut books, set(1, 1, m("m1", MerchantStatus::Active))).unwrap();
        let held = books.merchant(MerchantNo(1)).unwrap();
        assert_eq!(
            (held.version, held.merchant.status),
            (2, MerchantStatus::Suspended)
        );
        // Number 1 is m1's: a record giving it to another merchant is refused.
        let before = books.merchants().cloned().collect::<Vec<_>>();
        assert!(matches!(
            apply(&mut books, set(1, 3, m("m9", MerchantStatus::Active))),
            Err(BooksError::MerchantNoTaken { .. })
        ));
        assert_eq!(books.merchants().cloned().collect::<Vec<_>>(), before);
    }
}
