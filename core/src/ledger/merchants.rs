//! The merchants of the instruments layer as each shard's books keep them
//! (docs/payments.md): the registry is replicated to every shard, one `MerchantSet`
//! record per merchant and version, and applying one keeps the higher version. A
//! merchant's account, `merchant[m]` (`AccountId::Merchant`), has a slice in every shard,
//! made with the merchant, at zero, and never below it.

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks, SliceEntry};
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
        self.merchant_slices.entry(no).or_insert(SliceEntry {
            balance: Decimal::ZERO,
            held: Decimal::ZERO,
            floor: Decimal::ZERO,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::ids::{AccountNo, BankCode, MerchantId, Tag};
    use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, FIN};
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

    #[test]
    fn a_merchant_account_has_a_slice_in_every_shard_and_never_goes_below_zero() {
        let (mut books, mut lsn) = books_with_genesis(1, 2);
        let mut apply = |books: &mut ShardBooks, r: LedgerRecord| {
            lsn += 1;
            books.apply(lsn, &r)
        };
        let account = AccountId::merchant(MerchantNo(1));
        assert!(matches!(
            books.balance(account),
            Err(BooksError::UnknownMerchant(MerchantNo(1)))
        ));
        apply(&mut books, set(1, 1, m("m1", MerchantStatus::Active))).unwrap();
        assert!(books.is_local(account), "a slice in every shard");
        assert!(books.balance(account).unwrap().is_zero());
        let c = customer_in(1, 2, 0);
        apply(&mut books, opened(c)).unwrap();
        let post = |debit, credit, won| LedgerRecord::Posted {
            debit,
            credit,
            amount: krw(won),
        };
        apply(&mut books, post(FIN, AccountId::customer(c), 50_000)).unwrap();
        // A sale: the payer's balance to the merchant's slice in the payer's shard.
        apply(&mut books, post(AccountId::customer(c), account, 35_000)).unwrap();
        assert_eq!(
            books.balance(account).unwrap().value(),
            Decimal::from(35_000)
        );
        // A refund beyond what the slice holds is refused, and changes nothing.
        let sum = books.sum().unwrap();
        assert!(matches!(
            apply(&mut books, post(account, AccountId::customer(c), 35_001)),
            Err(BooksError::MerchantShort { .. })
        ));
        assert_eq!(
            books.balance(account).unwrap().value(),
            Decimal::from(35_000)
        );
        apply(&mut books, post(account, AccountId::customer(c), 35_000)).unwrap();
        assert!(books.balance(account).unwrap().is_zero());
        // The slices count in the books' sum, as every account does.
        assert_eq!(books.sum().unwrap(), sum);
        assert_eq!(books.sum_by_scan().unwrap(), books.sum().unwrap());
    }
}
