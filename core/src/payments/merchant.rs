//! Merchants and their terminals (INSTRUMENTS.md §6.1, §6.4): who may be paid, with which
//! instrument types, and where its money is paid out. Step 1 of the fixed order of checks
//! (§6.2) reads a merchant: [`Merchant::admits`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::codes::DeclineCode;
use crate::ids::{AccountNo, BankCode, MerchantId, Tag, TerminalId};

/// The types of instrument a payment can name (§6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum InstrumentType {
    /// A division account of seed 001(a): `{number, pin}`.
    Division = 0,
    /// A temporary payment token of seed 003: `{token_no, usage_auth, target_device}`.
    Temp = 1,
    /// The prepaid card of seed 004, paid directly: `{number, password}` (D-5.18).
    PrepaidCard = 2,
    /// A wallet checkout of seed 004's flow B: `{checkout_id}` (D-5.17).
    Wallet = 3,
    /// A card session of seed 002, through a terminal: `{session_id, link_id}`.
    CardSession = 4,
}

impl InstrumentType {
    pub const ALL: [InstrumentType; 5] = [
        InstrumentType::Division,
        InstrumentType::Temp,
        InstrumentType::PrepaidCard,
        InstrumentType::Wallet,
        InstrumentType::CardSession,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            InstrumentType::Division => "division",
            InstrumentType::Temp => "temp",
            InstrumentType::PrepaidCard => "prepaid_card",
            InstrumentType::Wallet => "wallet",
            InstrumentType::CardSession => "card_session",
        }
    }
}

impl fmt::Display for InstrumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of instrument types, one bit each: what a merchant accepts.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, Default, PartialEq, Eq))]
pub struct InstrumentTypes(u8);

impl InstrumentTypes {
    pub fn of(types: &[InstrumentType]) -> Self {
        Self(types.iter().fold(0, |bits, t| bits | 1 << *t as u8))
    }

    pub const fn contains(self, t: InstrumentType) -> bool {
        self.0 & (1 << t as u8) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = InstrumentType> {
        InstrumentType::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }

    /// The stored form.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set of a stored byte; `None` if it names a type no build has.
    pub fn from_bits(bits: u8) -> Option<Self> {
        (bits < 1 << InstrumentType::ALL.len()).then_some(Self(bits))
    }
}

/// Whether a merchant may take payments.
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
#[rkyv(derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MerchantStatus {
    Active,
    /// No new payments; refunds, cancels and payouts go on.
    Suspended,
    /// No new payments; what it is owed is still paid out.
    Closed,
}

/// When a merchant is paid out (§6.6).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "snake_case")]
pub enum PayoutSchedule {
    /// D+1: the day's net, the next day (the default).
    #[default]
    Daily,
    /// As soon as the payout supervisor sees money to pay.
    Realtime,
}

/// A merchant as the engine keeps it (and as its record in every shard's log carries it:
/// the layout is frozen once a build has written it, docs/wal-format.md).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct Merchant {
    pub id: MerchantId,
    pub status: MerchantStatus,
    /// The merchant's category, which an instrument's controls may allow or block.
    pub category: Tag,
    pub accepts: InstrumentTypes,
    /// The settlement bank account a payout is deposited into (`merchant_bank[m]`).
    pub payout_bank: BankCode,
    pub payout_account: AccountNo,
    pub payout_schedule: PayoutSchedule,
    /// Kept back in `merchant[m]` at each payout, so that refunds after settlement can
    /// be paid (§6.6). 0 by default.
    pub payout_reserve_krw: u64,
    /// The merchant's terminals; a payment naming a terminal must name one of these.
    pub terminals: Vec<Terminal>,
}

/// A terminal of a merchant (a POS, a web shop's server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct Terminal {
    pub id: TerminalId,
    pub active: bool,
}

impl Merchant {
    /// Step 1 of §6.2: the merchant is active, accepts the instrument's type, and the
    /// terminal, if the payment names one, is one of its active terminals.
    pub fn admits(
        &self,
        instrument: InstrumentType,
        terminal: Option<TerminalId>,
    ) -> Result<(), DeclineCode> {
        let terminal_ok = terminal.is_none_or(|t| {
            self.terminals
                .iter()
                .any(|known| known.id == t && known.active)
        });
        if self.status == MerchantStatus::Active && self.accepts.contains(instrument) && terminal_ok
        {
            Ok(())
        } else {
            Err(DeclineCode::MerchantNotAllowed)
        }
    }

    /// The terminal of that id, if the merchant has one.
    pub fn terminal(&self, id: TerminalId) -> Option<&Terminal> {
        self.terminals.iter().find(|t| t.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m2() -> Merchant {
        Merchant {
            id: MerchantId::new("m2").unwrap(),
            status: MerchantStatus::Active,
            category: Tag::new("books").unwrap(),
            accepts: InstrumentTypes::of(&[InstrumentType::PrepaidCard]),
            payout_bank: BankCode::new("004").unwrap(),
            payout_account: AccountNo::new("110-222-333").unwrap(),
            payout_schedule: PayoutSchedule::Daily,
            payout_reserve_krw: 0,
            terminals: vec![Terminal {
                id: TerminalId::new("web-1").unwrap(),
                active: true,
            }],
        }
    }

    #[test]
    fn a_merchant_admits_only_the_types_it_accepts_while_active_at_its_own_terminals() {
        let mut m = m2();
        let web = Some(TerminalId::new("web-1").unwrap());
        assert_eq!(m.admits(InstrumentType::PrepaidCard, None), Ok(()));
        assert_eq!(m.admits(InstrumentType::PrepaidCard, web), Ok(()));
        let no = Err(DeclineCode::MerchantNotAllowed);
        assert_eq!(m.admits(InstrumentType::Division, None), no);
        assert_eq!(
            m.admits(
                InstrumentType::PrepaidCard,
                Some(TerminalId::new("pos-9").unwrap())
            ),
            no,
            "a terminal the merchant does not have"
        );
        m.terminals[0].active = false;
        assert_eq!(m.admits(InstrumentType::PrepaidCard, web), no);
        m.status = MerchantStatus::Suspended;
        assert_eq!(m.admits(InstrumentType::PrepaidCard, None), no);
    }

    #[test]
    fn a_set_of_instrument_types_round_trips_through_its_bits() {
        let set = InstrumentTypes::of(&[InstrumentType::Division, InstrumentType::Wallet]);
        assert_eq!(InstrumentTypes::from_bits(set.bits()), Some(set));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [InstrumentType::Division, InstrumentType::Wallet]
        );
        assert_eq!(InstrumentTypes::from_bits(1 << 5), None);
        assert!(InstrumentTypes::default().is_empty());
    }
}
