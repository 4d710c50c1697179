//! A prepaid card of seed 004 (INSTRUMENTS.md §5), as the books keep it: the instrument
//! of type `prepaid_card` (§6.2) over its own prepaid balance, `pocket[c,card]`
//! (`AccountId::Pocket`), at the financial company, in the owner's shard.
//!
//! What the books hold of a card is never its number or its password in clear (D-0.3):
//! the number as its credential index (`HMAC(index_key, number)`, how a payment finds the
//! card), its last 4 digits, and its 16 digits sealed under `data_key` for the owner's
//! `reveal`; the password as a keyed MAC under `pin_key`. Each change of a card (its
//! issue, a wrong password, its lock, a suspension, its closing) is one `card_set`
//! record carrying the whole card at a new version; applying one keeps the higher
//! version, as a merchant's does.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::controls::{Controls, Counters, InstrumentStatus};
use super::kst::{date_of_day, day_of_date, kst_day, kst_day_start_ms};
use super::secret::{CredentialIndex, SealedNumber, StoredSecret};
use crate::ids::{CardName, CardSeq, CustomerId};

/// How long a prepaid card is valid (D-5.2), in years.
pub const CARD_VALID_YEARS: u32 = 5;

/// A card's status (§5.7). Only `Active` may pay or be charged.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum CardStatus {
    Active,
    /// The fifth wrong password in a row (§6.2 step 3); unlocked by the owner after a
    /// further check.
    Locked,
    /// By its owner (a card thought lost), until resumed.
    Suspended,
    /// For good; its pocket's money went back to the owner's balance (D-5.13).
    Closed,
    Expired,
}

impl CardStatus {
    pub const fn instrument(self) -> InstrumentStatus {
        match self {
            CardStatus::Active => InstrumentStatus::Active,
            CardStatus::Locked => InstrumentStatus::Locked,
            CardStatus::Suspended => InstrumentStatus::Suspended,
            CardStatus::Closed => InstrumentStatus::Closed,
            CardStatus::Expired => InstrumentStatus::Expired,
        }
    }

    /// Whether the card may be charged (D-5.7): not when suspended, closed or expired. A
    /// locked card may (the lock is against paying with a guessed password).
    pub const fn chargeable(self) -> bool {
        matches!(self, CardStatus::Active | CardStatus::Locked)
    }
}

/// What the owner may do to a card (§5.7 `PATCH /v1/prepaid-cards/{instrument_id}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardAction {
    /// A card thought lost: it pays nothing and takes no charge until resumed.
    Suspend,
    Resume,
    /// After the owner's further check (D-5.3; an SMS check is not built): ACTIVE again,
    /// the count of wrong passwords at zero.
    Unlock,
    /// For good; the pocket's money goes back to the owner's balance (D-5.13).
    Close,
}

impl CardStatus {
    /// The status `action` leaves, or why it may not be done. Doing again what is done
    /// (suspending a suspended card, closing a closed one) leaves it as it is.
    pub fn after(self, action: CardAction) -> Result<CardStatus, &'static str> {
        use CardStatus::*;
        match (action, self) {
            (CardAction::Close, _) => Ok(Closed),
            (_, Closed) => Err("the card is closed"),
            (_, Expired) => Err("the card has expired"),
            (CardAction::Suspend, Active | Locked | Suspended) => Ok(Suspended),
            (CardAction::Resume, Suspended | Active) => Ok(Active),
            (CardAction::Resume, Locked) => Err("a locked card is unlocked, not resumed"),
            (CardAction::Unlock, Locked | Active) => Ok(Active),
            (CardAction::Unlock, Suspended) => Err("a suspended card is resumed, not unlocked"),
        }
    }
}

/// A prepaid card at one version.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PrepaidCard {
    pub owner: CustomerId,
    pub seq: CardSeq,
    pub name: CardName,
    /// `HMAC(index_key, number)`: how a payment carrying the number finds the card.
    pub number_index: CredentialIndex,
    /// The last 4 digits, as ASCII: all that any answer but the owner's reveal shows.
    pub last4: [u8; 4],
    /// The 16 digits under `data_key`, for the owner's reveal.
    pub number: SealedNumber,
    /// The card password (4 digits) under `pin_key`.
    pub password: StoredSecret,
    pub status: CardStatus,
    /// Wrong passwords in a row; the fifth locks the card.
    pub failed_password_count: u8,
    /// FIG. 3: whether a physical card bearing the same number was asked for.
    pub physical: bool,
    /// FIG. 3: whether each use is reported by e-mail.
    pub notify_by_email: bool,
    pub issued_at_ms: u64,
}

impl PrepaidCard {
    /// The card's `instrument_id` in the API: `pc_<customer>_<seq>`.
    pub fn instrument_id(&self) -> CardId {
        CardId {
            customer: self.owner,
            seq: self.seq,
        }
    }

    pub fn last4(&self) -> &str {
        std::str::from_utf8(&self.last4).expect("four ASCII digits")
    }

    /// When the card expires (D-5.2): five years on, at the end of its issue's KST month,
    /// as a card printed `MM/YY` is valid through the last day of that month; that is,
    /// 00:00 KST of the first day of the month after.
    pub fn expires_at_ms(&self) -> u64 {
        let issued = date_of_day(kst_day(self.issued_at_ms));
        let year = issued.year as u32 + CARD_VALID_YEARS;
        let (year, month) = if issued.month == 12 {
            (year + 1, 1)
        } else {
            (year, issued.month + 1)
        };
        kst_day_start_ms(day_of_date(year, month, 1))
    }

    /// The card's status at `now_ms`: `Expired` once its expiry has come, whatever the
    /// books say yet (the expiry pass writes it down), unless it is closed.
    pub fn status_at(&self, now_ms: u64) -> CardStatus {
        if self.status != CardStatus::Closed && now_ms >= self.expires_at_ms() {
            CardStatus::Expired
        } else {
            self.status
        }
    }

    /// The controls of §6.2 a prepaid card pays under: the password is always required;
    /// nothing else is limited but the full-amount rule (step 9, D-5.8) and `sale_max_krw`
    /// (step 7, D-0.1), which the caller gives.
    pub fn controls() -> Controls {
        Controls {
            require_secret: true,
            ..Controls::default()
        }
    }

    /// The counters of §6.2 as the card keeps them: only the wrong passwords in a row.
    pub fn counters(&self) -> Counters {
        Counters {
            failed_secret_count: self.failed_password_count,
            ..Counters::default()
        }
    }
}

/// A prepaid card's `instrument_id`: its owner and its number among the owner's cards,
/// written `pc_<customer>_<seq>`. The owner's shard is where the card lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId {
    pub customer: CustomerId,
    pub seq: CardSeq,
}

impl CardId {
    /// The bytes the card's password MAC and its sealed number are bound to.
    pub fn bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The nonce its number is sealed under: unique per card (the owner, then the seq).
    pub fn nonce(&self) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.customer.get().to_be_bytes());
        nonce[8..10].copy_from_slice(&self.seq.0.to_be_bytes());
        nonce
    }
}

impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pc_{}_{}", self.customer, self.seq)
    }
}

impl FromStr for CardId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("instrument_id {s:?} is not pc_<customer>_<seq>");
        let rest = s.strip_prefix("pc_").ok_or_else(bad)?;
        let (customer, seq) = rest.split_once('_').ok_or_else(bad)?;
        let customer: CustomerId = customer.parse().map_err(|_| bad())?;
        let seq: u16 = seq.parse().map_err(|_| bad())?;
        if seq == 0 {
            return Err(bad());
        }
        Ok(CardId {
            customer,
            seq: CardSeq(seq),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_id_is_written_pc_customer_seq_and_read_back() {
        let id = CardId {
            customer: CustomerId::new(42).unwrap(),
            seq: CardSeq(3),
        };
        assert_eq!(id.to_string(), "pc_42_3");
        assert_eq!("pc_42_3".parse::<CardId>().unwrap(), id);
        for bad in [
            "pc_42",
            "pc_x_1",
            "42_3",
            "pc_42_0",
            "pc_0_1",
            "pc_42_70000",
        ] {
            assert!(bad.parse::<CardId>().is_err(), "{bad}");
        }
        let other = CardId {
            seq: CardSeq(4),
            ..id
        };
        assert_ne!(id.nonce(), other.nonce());
    }

    #[test]
    fn an_owner_suspends_resumes_unlocks_and_closes_a_card_and_a_closed_card_stays_closed() {
        use CardAction::*;
        use CardStatus::*;
        assert_eq!(Active.after(Suspend), Ok(Suspended));
        assert_eq!(Suspended.after(Resume), Ok(Active));
        assert_eq!(Locked.after(Unlock), Ok(Active));
        assert!(Locked.after(Resume).is_err());
        assert!(Suspended.after(Unlock).is_err());
        assert_eq!(Suspended.after(Close), Ok(Closed));
        assert_eq!(Closed.after(Close), Ok(Closed));
        for action in [Suspend, Resume, Unlock] {
            assert!(Closed.after(action).is_err(), "{action:?}");
        }
    }

    #[test]
    fn a_locked_card_may_be_charged_but_a_suspended_or_closed_one_may_not() {
        assert!(CardStatus::Active.chargeable());
        assert!(CardStatus::Locked.chargeable());
        assert!(!CardStatus::Suspended.chargeable());
        assert!(!CardStatus::Closed.chargeable());
        assert!(!CardStatus::Expired.chargeable());
        assert_eq!(CardStatus::Locked.instrument(), InstrumentStatus::Locked);
    }
}
