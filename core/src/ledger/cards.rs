//! The prepaid cards of seed 004 as their owner's shard keeps them (INSTRUMENTS.md §5.7):
//! each card at the version the books hold, and its pocket, `pocket[c,card]`
//! (`AccountId::Pocket`), made with the card at zero and never below it. One `card_set`
//! record per change of a card carries the whole card; applying one keeps the higher
//! version, so a repeat or a late copy changes nothing.

use rust_decimal::Decimal;

use super::{BooksError, ShardBooks, SliceEntry};
use crate::ids::{CardSeq, CustomerId};
use crate::payments::prepaid_card::PrepaidCard;

/// A card at the version the books hold, and its pocket (floor zero).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct CardEntry {
    pub version: u32,
    pub card: PrepaidCard,
    pub pocket: SliceEntry,
}

impl ShardBooks {
    /// Every card of this shard, by owner and number.
    pub fn cards(&self) -> impl Iterator<Item = &CardEntry> {
        self.cards.values()
    }

    pub fn card(&self, customer: CustomerId, seq: CardSeq) -> Option<&CardEntry> {
        self.cards.get(&(customer, seq))
    }

    /// The customer's cards, in the order they were issued.
    pub fn cards_of(&self, customer: CustomerId) -> impl Iterator<Item = &CardEntry> {
        self.cards
            .range((customer, CardSeq(0))..=(customer, CardSeq(u16::MAX)))
            .map(|(_, entry)| entry)
    }

    pub(super) fn pocket_checked(
        &self,
        customer: CustomerId,
        card: CardSeq,
    ) -> Result<&SliceEntry, BooksError> {
        self.cards
            .get(&(customer, card))
            .map(|entry| &entry.pocket)
            .ok_or(BooksError::UnknownCard { customer, card })
    }

    pub(super) fn pocket_mut(&mut self, customer: CustomerId, card: CardSeq) -> &mut SliceEntry {
        &mut self
            .cards
            .get_mut(&(customer, card))
            .expect("checked before")
            .pocket
    }

    /// A card at `version`: kept if newer than the one the books hold. Its owner must be
    /// a customer of this shard.
    pub(super) fn apply_card_set(
        &mut self,
        version: u32,
        card: &PrepaidCard,
    ) -> Result<(), BooksError> {
        self.customer_checked(card.owner)?;
        let key = (card.owner, card.seq);
        match self.cards.get_mut(&key) {
            Some(held) if held.version >= version => {}
            Some(held) => {
                held.version = version;
                held.card = card.clone();
            }
            None => {
                self.cards.insert(
                    key,
                    CardEntry {
                        version,
                        card: card.clone(),
                        pocket: SliceEntry {
                            balance: Decimal::ZERO,
                            held: Decimal::ZERO,
                            floor: Decimal::ZERO,
                        },
                    },
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, CardName};
    use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, FIN};
    use crate::payments::prepaid_card::CardStatus;
    use crate::payments::secret::{CredentialIndex, SealedNumber, StoredSecret};
    use crate::record::LedgerRecord;

    pub(crate) fn card(owner: CustomerId, seq: u16, status: CardStatus) -> PrepaidCard {
        PrepaidCard {
            owner,
            seq: CardSeq(seq),
            name: CardName::new("ALICE").unwrap(),
            number_index: CredentialIndex {
                kid: 1,
                mac: [seq as u8; 32],
            },
            last4: *b"0018",
            number: SealedNumber {
                kid: 1,
                sealed: [0; 32],
            },
            password: StoredSecret {
                kid: 1,
                mac: [9; 32],
            },
            status,
            failed_password_count: 0,
            physical: false,
            notify_by_email: true,
            issued_at_ms: 1,
        }
    }

    #[test]
    fn a_card_record_keeps_the_higher_version_and_its_pocket_never_goes_below_zero() {
        let (mut books, mut lsn) = books_with_genesis(0, 1);
        let mut apply = |books: &mut ShardBooks, r: LedgerRecord| {
            lsn += 1;
            books.apply(lsn, &r)
        };
        let c = customer_in(0, 1, 0);
        let set = |version, card| LedgerRecord::CardSet { version, card };
        // The owner must be a customer of the shard.
        assert!(matches!(
            apply(&mut books, set(1, card(c, 1, CardStatus::Active))),
            Err(BooksError::UnknownCustomer(_))
        ));
        apply(&mut books, opened(c)).unwrap();
        apply(&mut books, set(1, card(c, 1, CardStatus::Active))).unwrap();
        apply(&mut books, set(2, card(c, 1, CardStatus::Locked))).unwrap();
        apply(&mut books, set(1, card(c, 1, CardStatus::Active))).unwrap();
        let held = books.card(c, CardSeq(1)).unwrap();
        assert_eq!((held.version, held.card.status), (2, CardStatus::Locked));
        let pocket = AccountId::pocket(c, CardSeq(1));
        assert!(books.is_local(pocket));
        assert!(books.balance(pocket).unwrap().is_zero());
        assert!(matches!(
            books.balance(AccountId::pocket(c, CardSeq(2))),
            Err(BooksError::UnknownCard { .. })
        ));
        let post = |debit, credit, won| LedgerRecord::Posted {
            debit,
            credit,
            amount: krw(won),
        };
        apply(&mut books, post(FIN, AccountId::customer(c), 50_000)).unwrap();
        apply(&mut books, post(AccountId::customer(c), pocket, 30_000)).unwrap();
        let sum = books.sum().unwrap();
        assert!(matches!(
            apply(&mut books, post(pocket, AccountId::customer(c), 30_001)),
            Err(BooksError::PocketShort { .. })
        ));
        assert_eq!(
            books.balance(pocket).unwrap().value(),
            Decimal::from(30_000)
        );
        assert_eq!(books.sum().unwrap(), sum);
        assert_eq!(
            books.sum_by_scan().unwrap(),
            sum,
            "pockets count in the sum"
        );
        assert_eq!(books.cards_of(c).count(), 1);
        // A snapshot keeps the card and its pocket.
        let back = ShardBooks::from_snapshot(books.plan().clone(), books.snapshot()).unwrap();
        assert_eq!(back.card(c, CardSeq(1)), books.card(c, CardSeq(1)));
    }

    #[test]
    fn a_card_expires_five_years_on_at_the_end_of_its_issue_month_kst() {
        use crate::payments::kst::{day_of_date, kst_day_start_ms};
        let at = |y, m, d| kst_day_start_ms(day_of_date(y, m, d));
        let mut c = card(CustomerId::new(1).unwrap(), 1, CardStatus::Active);
        c.issued_at_ms = at(2026, 3, 15) + 10 * 3_600_000;
        assert_eq!(c.expires_at_ms(), at(2031, 4, 1));
        assert_eq!(c.status_at(at(2031, 4, 1) - 1), CardStatus::Active);
        assert_eq!(c.status_at(at(2031, 4, 1)), CardStatus::Expired);
        c.issued_at_ms = at(2026, 12, 31);
        assert_eq!(c.expires_at_ms(), at(2032, 1, 1));
        c.status = CardStatus::Closed;
        assert_eq!(c.status_at(at(2040, 1, 1)), CardStatus::Closed);
        c.status = CardStatus::Suspended;
        assert_eq!(c.status_at(at(2040, 1, 1)), CardStatus::Expired);
    }
}
