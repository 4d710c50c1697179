//! Identifiers: customers, accounts of every kind in SPEC §1, bank codes, external
//! account numbers, request numbers (the idempotency key) and transfer ids.
//!
//! Each is validated on construction and is `Copy` with a fixed size, so that a passive
//! customer stays a compact table entry and a write-ahead-log record has no heap parts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an identifier was refused. The message says what the input must look like.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} bytes, got {len}")]
    TooLong { max: usize, len: usize },
    #[error("must be {expected}, got {got:?}")]
    Malformed { expected: &'static str, got: String },
}

/// A customer: the owner of one customer financial company account (seed numeral 20).
/// The customer account number is a positive integer, shown in decimal.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct CustomerId(u64);

impl CustomerId {
    /// The lowest and highest numbers, for ranges over a map keyed by customer.
    pub const MIN: CustomerId = CustomerId(1);
    pub const MAX: CustomerId = CustomerId(u64::MAX);

    pub fn new(number: u64) -> Result<Self, IdError> {
        if number == 0 {
            return Err(IdError::Malformed {
                expected: "a positive integer",
                got: "0".into(),
            });
        }
        Ok(Self(number))
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// `new` in a constant context.
    pub const fn new_const(number: u64) -> Option<Self> {
        if number == 0 {
            None
        } else {
            Some(Self(number))
        }
    }
}

impl TryFrom<u64> for CustomerId {
    type Error = IdError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<CustomerId> for u64 {
    fn from(id: CustomerId) -> u64 {
        id.0
    }
}

impl FromStr for CustomerId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || IdError::Malformed {
            expected: "a positive integer",
            got: s.into(),
        };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        Self::new(s.parse().map_err(|_| malformed())?)
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Korean financial institution code: exactly three ASCII digits, such as `004`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct BankCode([u8; 3]);

impl BankCode {
    pub fn new(code: &str) -> Result<Self, IdError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(IdError::Malformed {
                expected: "three digits such as 004",
                got: code.into(),
            });
        }
        Ok(Self([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).expect("bank code is ASCII")
    }
}

impl TryFrom<String> for BankCode {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<BankCode> for String {
    fn from(code: BankCode) -> String {
        code.as_str().to_owned()
    }
}

impl FromStr for BankCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for BankCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr, $expected:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        #[rkyv(derive(Debug, PartialEq, Eq, Hash))]
        pub struct $name {
            bytes: [u8; $max],
            len: u8,
        }

        impl $name {
            /// The most bytes the text may have.
            pub const MAX_BYTES: usize = $max;

            pub fn new(text: &str) -> Result<Self, IdError> {
                if text.is_empty() {
                    return Err(IdError::Empty);
                }
                if text.len() > $max {
                    return Err(IdError::TooLong { max: $max, len: text.len() });
                }
                let allowed: fn(&str) -> bool = $allowed;
                if !allowed(text) {
                    return Err(IdError::Malformed { expected: $expected, got: text.into() });
                }
                let mut bytes = [0u8; $max];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Ok(Self { bytes, len: text.len() as u8 })
            }

            pub fn as_str(&self) -> &str {
                // Only whole UTF-8 strings are ever stored.
                std::str::from_utf8(&self.bytes[..self.len as usize]).expect("stored text is UTF-8")
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// The text, not the storage bytes.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }
    };
}

/// What the identifiers clients choose may hold: letters, digits, `-` and `_`.
const KEY_TEXT: &str = "letters, digits, '-' and '_'";

fn is_key_text(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

bounded_text!(
    /// An account number at a bank (a linked or a designated account): digits and
    /// hyphens, starting with a digit, at most 20 bytes.
    AccountNo,
    20,
    "digits and hyphens, starting with a digit",
    |text| text.starts_with(|c: char| c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_digit() || c == '-')
);

bounded_text!(
    /// The request number of a charge or remittance: the idempotency key. Letters,
    /// digits, `-` and `_`, at most 32 bytes.
    RequestNo,
    32,
    KEY_TEXT,
    is_key_text
);

bounded_text!(
    /// The payee name on a remittance: at most 48 bytes of UTF-8 (16 Hangul syllables),
    /// no control characters.
    PayeeName,
    48,
    "printable text without control characters",
    |text| !text.chars().any(char::is_control)
);

/// The engine's number of a merchant, given densely at onboarding (1, 2, ...) and the same
/// on every shard: what an account of a merchant names, so that `AccountId` keeps its
/// size (docs/payments.md).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord))]
pub struct MerchantNo(pub u32);

impl fmt::Display for MerchantNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "M{}", self.0)
    }
}

/// A prepaid card of one customer (INSTRUMENTS.md §5): its number among the customer's
/// cards, from 1. With the customer it names the card and its pocket; the API writes the
/// pair as the card's `instrument_id`, `pc_<customer>_<seq>` ([`crate::payments::prepaid_card`]).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord))]
pub struct CardSeq(pub u16);

impl fmt::Display for CardSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

bounded_text!(
    /// A prepaid card's name (INSTRUMENTS.md §5.2, FIG. 3): up to 16 letters, digits and
    /// spaces in roman letters, or up to 7 characters in Hangul.
    CardName,
    24,
    "up to 16 roman letters, digits and spaces, or up to 7 Hangul characters",
    is_card_name
);

fn is_card_name(text: &str) -> bool {
    let chars = text.chars().count();
    text.chars().all(|c| c.is_alphanumeric() || c == ' ')
        && text.trim() == text
        && if text.is_ascii() {
            chars <= 16
        } else {
            chars <= 7
        }
}

bounded_text!(
    /// A merchant of the instruments layer (INSTRUMENTS.md §6.1): letters, digits, `-` and
    /// `_`, at most 32 bytes. Chosen by the operator at onboarding.
    MerchantId,
    32,
    KEY_TEXT,
    is_key_text
);

bounded_text!(
    /// A terminal of a merchant: letters, digits, `-` and `_`, at most 32 bytes, unique
    /// within its merchant.
    TerminalId,
    32,
    KEY_TEXT,
    is_key_text
);

bounded_text!(
    /// A merchant category, a region or a purpose that an instrument's controls allow or
    /// block (INSTRUMENTS.md §6.2, step 5): lowercase letters, digits, `-` and `_`, at
    /// most 16 bytes, compared exactly.
    Tag,
    16,
    "lowercase letters, digits, '-' and '_'",
    |text| text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
);

bounded_text!(
    /// A member's ID (INSTRUMENTS.md §5.2, FIG. 2): 8 to 12 letters and digits, kept in
    /// lowercase (a member logs in with it in any case).
    MemberId,
    12,
    "8 to 12 lowercase letters and digits",
    |text| (8..=12).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
);

/// The id of one transfer between shards; the destination credits each id at most once.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct TransferId(pub u64);

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{:016x}", self.0)
    }
}

/// A parent (omnibus) account of SPEC §1. Accounts held at a bank are one per bank.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
#[serde(tag = "kind", content = "bank", rename_all = "snake_case")]
pub enum ParentAccount {
    /// Withdrawal firm parent account (112): receives charges pulled from linked accounts.
    WithdrawalFirm(BankCode),
    /// Collection parent account (114): pools withdrawal-firm funds.
    Collection,
    /// Deposit firm parent account (116): pays remittances out to designated accounts.
    DepositFirm(BankCode),
    /// Financial company parent account (212): funds every customer account.
    FinParent,
    /// Financial company deposit parent account: the financial company's own deposit base.
    FinDeposit,
}

impl fmt::Display for ParentAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParentAccount::WithdrawalFirm(bank) => write!(f, "withdrawal_firm[{bank}]"),
            ParentAccount::Collection => f.write_str("collection"),
            ParentAccount::DepositFirm(bank) => write!(f, "deposit_firm[{bank}]"),
            ParentAccount::FinParent => f.write_str("fin_parent"),
            ParentAccount::FinDeposit => f.write_str("fin_deposit"),
        }
    }
}

/// Every account a posting can name (SPEC §1), internal and external.
///
/// The engine books external accounts too, as the counterparties of money that enters or
/// leaves it, so that the sum over all accounts is constant (SPEC §6.1).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountId {
    /// Internal: the customer financial company account (20), the balance the customer sees.
    Customer { customer: CustomerId },
    /// External: the customer-linked bank account (10) charges are drawn from.
    Linked { customer: CustomerId },
    /// External: the payees of remittances at one bank, booked together per bank.
    Designated { bank: BankCode },
    /// Internal: a parent account.
    Parent { parent: ParentAccount },
    /// External: the operator's own funds that seed parent accounts at genesis.
    Funding,
    /// Internal: `merchant[m]` of the instruments layer (INSTRUMENTS.md §0.3), money owed
    /// to a merchant not paid out yet: an account at the financial company, sliced per
    /// shard like a parent account, never below zero. Added last, so the tags of the
    /// variants before it (in every record written before) are unchanged.
    Merchant { merchant: MerchantNo },
    /// Internal: `pocket[c,card]` (INSTRUMENTS.md §5.7, D-5.1), the prepaid balance of one
    /// prepaid card of customer `customer`, at the financial company, in the customer's
    /// shard; never below zero. Added after `Merchant`, for the same reason. `card` comes
    /// first so that the archived variant stays 16 bytes like the others.
    Pocket { card: CardSeq, customer: CustomerId },
    /// External: `va_payer[bank]` (INSTRUMENTS.md §0.3), whoever deposits into a virtual
    /// account at one bank, booked per bank in every shard. Added after `Pocket`, for the
    /// same reason.
    VaPayer { bank: BankCode },
    /// Internal: `suspense` (INSTRUMENTS.md §0.3, D-2.4), the company's account at the
    /// financial company for money that arrived but belongs to no one yet; booked per
    /// shard, never below zero.
    Suspense,
    /// Internal: `recall_receivable` (D-2.21), what merchants and customers owe the
    /// company for recalled deposits it could not take back; booked per shard, and may go
    /// below zero.
    RecallReceivable,
}

impl AccountId {
    pub const fn merchant(merchant: MerchantNo) -> Self {
        AccountId::Merchant { merchant }
    }

    pub const fn customer(customer: CustomerId) -> Self {
        AccountId::Customer { customer }
    }

    pub const fn pocket(customer: CustomerId, card: CardSeq) -> Self {
        AccountId::Pocket { card, customer }
    }

    pub const fn linked(customer: CustomerId) -> Self {
        AccountId::Linked { customer }
    }

    pub const fn parent(parent: ParentAccount) -> Self {
        AccountId::Parent { parent }
    }

    /// Whether the account is outside the engine (its real balance lives at a bank).
    pub const fn is_external(&self) -> bool {
        matches!(
            self,
            AccountId::Linked { .. }
                | AccountId::Designated { .. }
                | AccountId::Funding
                | AccountId::VaPayer { .. }
        )
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountId::Customer { customer } => write!(f, "customer[{customer}]"),
            AccountId::Linked { customer } => write!(f, "linked[{customer}]"),
            AccountId::Designated { bank } => write!(f, "designated[{bank}]"),
            AccountId::Parent { parent } => parent.fmt(f),
            AccountId::Funding => f.write_str("funding"),
            AccountId::Merchant { merchant } => write!(f, "merchant[{merchant}]"),
            AccountId::Pocket { card, customer } => write!(f, "pocket[{customer},{card}]"),
            AccountId::VaPayer { bank } => write!(f, "va_payer[{bank}]"),
            AccountId::Suspense => f.write_str("suspense"),
            AccountId::RecallReceivable => f.write_str("recall_receivable"),
        }
    }
}

#[cfg(test)]
mod tests;
