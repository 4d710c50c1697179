//! The cyber division account of seed 001(a) (INSTRUMENTS.md §1): the rules of a master's
//! division accounts, one per slave, without storage or I/O.
//!
//! - [`DivisionNumber`]: `DA-`, 12 digits and a Luhn check digit over them (D-1.3).
//! - [`DivisionStatus`] and the master's changes ([`DivisionAction`], F3): suspend,
//!   resume, unlock (the wrong PINs' count to zero, the PIN kept), reset the PIN (back to
//!   `PENDING_ACTIVATION` with a new activation code), close.
//! - [`Slave`]: the identity the master gives at I1 (D-1.6), and who counts as a minor
//!   (D-1.5: under 19 by calendar year) or needs a guardian's consent (under 14).
//! - [`DivisionControls`]: what the master sets at issue, with D-1.5's defaults, checked
//!   by [`DivisionControls::validate`], and turned into the §6.2 [`Controls`] every
//!   authorization runs ([`DivisionControls::controls`]): the PIN always, the per-payment
//!   cap, the period budget on the KST calendar (D-1.8), the validity window, the blocked
//!   categories (and, while the slave is a minor, the adult and gambling ones).
//! - [`Activation`]: the one-time code that passes through the master (D-1.12): 8 digits,
//!   72 hours, void after the fifth wrong try.
//!
//! The budget's counters are the §6.2 [`super::controls::Counters`]: reserved at the
//! authorization, committed with the sale, released when it did not happen, and given
//! back by a refund in the same period (D-1.7).

use std::fmt;

use super::card_number::luhn_check_digit;
use super::codes::RefusalCode;
use super::controls::{Budget, Controls, Counters, InstrumentStatus, Period};
use super::kst::{date_of_day, day_of_date, kst_day};
use super::secret::{CredentialIndex, StoredSecret};
use crate::ids::{CardSeq, CustomerId, MerchantId, Tag};

/// D-1.5: the per-payment cap when the master sets none.
pub const DEFAULT_PER_TX_MAX_KRW: u64 = 300_000;
/// D-1.5: how long a division account is valid when the master sets no end.
pub const DEFAULT_VALIDITY_MS: u64 = 365 * 86_400_000;
/// D-1.5: the categories blocked while the slave is a minor (the Youth Protection Act).
pub const MINOR_BLOCKED_CATEGORIES: [&str; 2] = ["adult", "gambling"];
/// D-1.12: how long an activation code may be used.
pub const ACTIVATION_TTL_MS: u64 = 72 * 3_600_000;
/// D-1.12: the wrong activation codes that void the code.
pub const ACTIVATION_TRIES: u8 = 5;
/// D-1.5: a person is a minor until 1 January of the year they turn this old.
pub const MAJORITY_AGE: u32 = 19;
/// D-1.6: below this age (in full years) the master must record a guardian's consent.
pub const CONSENT_AGE: u32 = 14;

/// Why a division number does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DivisionNumberError {
    /// Not `DA-` and 13 digits.
    Shape,
    /// The last digit is not the Luhn check digit of the 12 before it.
    CheckDigit,
}

impl fmt::Display for DivisionNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DivisionNumberError::Shape => "a division number is DA- and 13 digits",
            DivisionNumberError::CheckDigit => "the division number's check digit is wrong",
        })
    }
}

impl std::error::Error for DivisionNumberError {}

/// A division number (D-1.3): `DA-`, 12 digits and their Luhn check digit. Visibly not a
/// card number; never in a URL path; shown masked but to its master at issue.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DivisionNumber {
    digits: [u8; 13],
}

impl DivisionNumber {
    /// The number of 12 payload digits (each 0–9), with its check digit.
    pub fn from_payload(payload: [u8; 12]) -> Self {
        assert!(payload.iter().all(|d| *d <= 9), "decimal digits");
        let mut digits = [0u8; 13];
        digits[..12].copy_from_slice(&payload);
        digits[12] = luhn_check_digit(&payload);
        Self { digits }
    }

    /// Parses `DA-` and 13 digits (spaces and further hyphens among the digits allowed),
    /// checking the Luhn digit.
    pub fn parse(text: &str) -> Result<Self, DivisionNumberError> {
        let rest = text
            .trim()
            .strip_prefix("DA-")
            .ok_or(DivisionNumberError::Shape)?;
        let mut digits = [0u8; 13];
        let mut n = 0;
        for c in rest.chars().filter(|c| *c != ' ' && *c != '-') {
            let d = c.to_digit(10).ok_or(DivisionNumberError::Shape)?;
            if n == 13 {
                return Err(DivisionNumberError::Shape);
            }
            digits[n] = d as u8;
            n += 1;
        }
        if n != 13 {
            return Err(DivisionNumberError::Shape);
        }
        if luhn_check_digit(&digits[..12]) != digits[12] {
            return Err(DivisionNumberError::CheckDigit);
        }
        Ok(Self { digits })
    }

    /// The number as typed, `DA-` and 13 digits: what its credential index is made of.
    pub fn ascii(&self) -> String {
        let mut s = String::with_capacity(16);
        s.push_str("DA-");
        s.extend(self.digits.iter().map(|d| char::from(b'0' + d)));
        s
    }

    /// The last 4 digits, as ASCII.
    pub fn last4(&self) -> [u8; 4] {
        let mut last4 = [0u8; 4];
        for (i, d) in self.digits[9..].iter().enumerate() {
            last4[i] = b'0' + d;
        }
        last4
    }

    /// The number masked but for its last 4 digits: `DA-*********0128`.
    pub fn masked(&self) -> String {
        masked(self.last4())
    }
}

/// A division number masked but for its `last4` digits.
pub fn masked(last4: [u8; 4]) -> String {
    format!("DA-*********{}", String::from_utf8_lossy(&last4))
}

/// Only the masked form: a number in a log or a debug print shows 4 digits.
impl fmt::Debug for DivisionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DivisionNumber({})", self.masked())
    }
}

/// A division account's status (§1.2). Only `Active` may pay.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum DivisionStatus {
    /// Issued, or its PIN reset by the master: the slave has not set a PIN yet (I5).
    PendingActivation,
    Active,
    /// By the master, until resumed.
    Suspended,
    /// The fifth wrong PIN in a row; until the master unlocks it.
    Locked,
    /// For good. Approvals already given stand; their refunds still credit the master.
    Closed,
}

impl DivisionStatus {
    pub const fn instrument(self) -> InstrumentStatus {
        match self {
            DivisionStatus::PendingActivation => InstrumentStatus::PendingActivation,
            DivisionStatus::Active => InstrumentStatus::Active,
            DivisionStatus::Suspended => InstrumentStatus::Suspended,
            DivisionStatus::Locked => InstrumentStatus::Locked,
            DivisionStatus::Closed => InstrumentStatus::Closed,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            DivisionStatus::PendingActivation => "PENDING_ACTIVATION",
            DivisionStatus::Active => "ACTIVE",
            DivisionStatus::Suspended => "SUSPENDED",
            DivisionStatus::Locked => "LOCKED",
            DivisionStatus::Closed => "CLOSED",
        }
    }

    /// The status the master's `action` leaves (F3), or why it may not be done. Doing
    /// again what is done (suspending a suspended account) leaves it as it is.
    pub fn after(self, action: DivisionAction) -> Result<DivisionStatus, &'static str> {
        use DivisionStatus::*;
        match (action, self) {
            (DivisionAction::Close, _) => Ok(Closed),
            (_, Closed) => Err("the division account is closed"),
            (DivisionAction::ResetPin, _) => Ok(PendingActivation),
            (DivisionAction::Suspend, Active | Locked | Suspended | PendingActivation) => {
                Ok(Suspended)
            }
            (DivisionAction::Resume, Suspended | Active) => Ok(Active),
            (DivisionAction::Resume, Locked) => Err("a locked account is unlocked, not resumed"),
            (DivisionAction::Resume, PendingActivation) => {
                Err("the slave has not activated it yet")
            }
            (DivisionAction::Unlock, Locked | Active) => Ok(Active),
            (DivisionAction::Unlock, Suspended) => {
                Err("a suspended account is resumed, not unlocked")
            }
            (DivisionAction::Unlock, PendingActivation) => {
                Err("the slave has not activated it yet")
            }
        }
    }
}

/// What the master may do to a slave's division account (F3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DivisionAction {
    Suspend,
    Resume,
    /// The count of wrong PINs to zero; the slave's PIN stays.
    Unlock,
    /// Back to `PENDING_ACTIVATION` with a new activation code for the master; the slave
    /// sets a new PIN at I5. The master never sees a PIN.
    ResetPin,
    Close,
}

/// A calendar date of birth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BirthDate {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl BirthDate {
    /// A real date from 1900 on, given as `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = BirthDate {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        date.is_real().then_some(date)
    }

    fn is_real(&self) -> bool {
        if !(1900..=9999).contains(&self.year) || !(1..=12).contains(&self.month) {
            return false;
        }
        if self.day == 0 || self.day > 31 || self.year < 1970 {
            // `day_of_date` counts from 1970; earlier dates are checked by month length.
            let leap = self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0);
            let len = match self.month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            return self.day >= 1 && self.day <= len;
        }
        let back = date_of_day(day_of_date(self.year, self.month, self.day));
        (back.year as u32, back.month, back.day) == (self.year, self.month, self.day)
    }
}

/// A slave as the master gives them at I1 (D-1.6): checked at activation against the
/// mobile identity check.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Slave {
    pub name: crate::ids::PayeeName,
    pub birth_date: BirthDate,
    /// Digits only, 10 or 11 of them (a Korean mobile number).
    pub phone: String,
    /// When the master recorded their consent as the slave's legal guardian (needed under
    /// [`CONSENT_AGE`]).
    pub guardian_consent_at_ms: Option<u64>,
}

impl Slave {
    /// Whether the slave is a minor at `at_ms` (D-1.5): under [`MAJORITY_AGE`] counted by
    /// calendar year, so a minor until 1 January (KST) of the year they turn 19.
    pub fn is_minor_at(&self, at_ms: u64) -> bool {
        let year = date_of_day(kst_day(at_ms)).year as u32;
        year < self.birth_date.year + MAJORITY_AGE
    }

    /// The slave's age in full years at `at_ms` (KST).
    pub fn age_at(&self, at_ms: u64) -> u32 {
        let today = date_of_day(kst_day(at_ms));
        let (y, m, d) = (today.year as u32, today.month, today.day);
        let b = self.birth_date;
        let had_birthday = (m, d) >= (b.month, b.day);
        y.saturating_sub(b.year) - u32::from(!had_birthday && y > b.year)
    }

    /// I1's check of the slave's data: `INVALID_REQUEST` for a phone that is not 10 or 11
    /// digits or a birth date to come, `GUARDIAN_CONSENT_REQUIRED` under
    /// [`CONSENT_AGE`] without the consent.
    pub fn validate(&self, at_ms: u64) -> Result<(), (RefusalCode, &'static str)> {
        if !(10..=11).contains(&self.phone.len()) || !self.phone.bytes().all(|b| b.is_ascii_digit())
        {
            return Err((RefusalCode::InvalidRequest, "phone: 10 or 11 digits"));
        }
        let today = date_of_day(kst_day(at_ms));
        let born = (
            self.birth_date.year,
            self.birth_date.month,
            self.birth_date.day,
        );
        if born > (today.year as u32, today.month, today.day) {
            return Err((RefusalCode::InvalidRequest, "birth_date: a day to come"));
        }
        if self.age_at(at_ms) < CONSENT_AGE && self.guardian_consent_at_ms.is_none() {
            return Err((
                RefusalCode::GuardianConsentRequired,
                "a slave under 14 needs the master's consent as legal guardian",
            ));
        }
        Ok(())
    }
}

/// What the master sets for a slave at issue, or changes later (F3).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct DivisionControls {
    /// Default [`DEFAULT_PER_TX_MAX_KRW`]; at most `sale_max_krw`.
    pub per_tx_max_krw: Option<u64>,
    /// Default a calendar month (KST).
    pub period: Period,
    /// Must be given (D-1.5): there is no default budget.
    pub period_budget_krw: u64,
    pub valid_from_ms: Option<u64>,
    /// Default one year after the issue.
    pub valid_until_ms: Option<u64>,
    pub blocked_categories: Vec<Tag>,
    /// Empty: every merchant that accepts division accounts.
    pub allowed_merchants: Vec<MerchantId>,
}

impl DivisionControls {
    /// `CONTROLS_INVALID` for a budget of 0, a cap above `sale_max_krw` (it could never
    /// be used) or of 0, or an empty validity window.
    pub fn validate(&self, sale_max_krw: u64) -> Result<(), (RefusalCode, &'static str)> {
        let invalid = |why| Err((RefusalCode::ControlsInvalid, why));
        if self.period_budget_krw == 0 {
            return invalid("period_budget_krw must be given, above 0");
        }
        if self.per_tx_max_krw == Some(0) {
            return invalid("per_tx_max_krw is 0");
        }
        self.controls_for(false).validate(sale_max_krw)
    }

    /// The §6.2 controls of a slave's payments at `at_ms`: the PIN always; D-1.5's
    /// defaults where the master set nothing (the validity counted from `issued_at_ms`);
    /// the minors' categories blocked while the slave is one.
    pub fn controls(&self, slave: &Slave, issued_at_ms: u64, at_ms: u64) -> Controls {
        let mut controls = self.controls_for(slave.is_minor_at(at_ms));
        if controls.valid_until_ms.is_none() {
            controls.valid_until_ms = Some(issued_at_ms + DEFAULT_VALIDITY_MS);
        }
        controls
    }

    /// The budget's period (every division account has a budget, D-1.5).
    pub const fn budget_period(&self) -> Option<Period> {
        Some(self.period)
    }

    fn controls_for(&self, minor: bool) -> Controls {
        let mut blocked = self.blocked_categories.clone();
        if minor {
            for c in MINOR_BLOCKED_CATEGORIES {
                let tag = Tag::new(c).expect("a valid tag");
                if !blocked.contains(&tag) {
                    blocked.push(tag);
                }
            }
        }
        Controls {
            valid_from_ms: self.valid_from_ms,
            valid_until_ms: self.valid_until_ms,
            per_tx_max_krw: Some(self.per_tx_max_krw.unwrap_or(DEFAULT_PER_TX_MAX_KRW)),
            budget: Some(Budget {
                period: self.period,
                budget_krw: self.period_budget_krw,
            }),
            allowed_merchants: self.allowed_merchants.clone(),
            blocked_categories: blocked,
            require_secret: true,
            ..Controls::default()
        }
    }
}

/// An activation code's state (D-1.12). The code itself is kept only as a keyed hash by
/// whoever stores the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Activation {
    pub expires_at_ms: u64,
    pub failed_count: u8,
}

/// A slave's division account at one version, as its master's shard keeps it (§1.2,
/// §1.7): never its number or PIN in clear (D-0.3). The number is kept as its credential
/// index (`HMAC(index_key, number)`, how a payment finds the account) and its last 4
/// digits; the PIN and the outstanding activation code as keyed MACs under `pin_key`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct DivisionAccount {
    /// The master: the customer whose balance pays.
    pub master: CustomerId,
    /// Its number among the master's division accounts, from 1.
    pub seq: CardSeq,
    pub number_index: CredentialIndex,
    /// The last 4 digits, as ASCII.
    pub last4: [u8; 4],
    pub slave: Slave,
    /// The slave's PIN, once activated.
    pub pin: Option<StoredSecret>,
    /// The activation code outstanding, if any (D-1.12).
    pub activation: Option<(StoredSecret, Activation)>,
    pub status: DivisionStatus,
    pub controls: DivisionControls,
    /// The budget's counters and the wrong PINs in a row (§6.2).
    pub counters: Counters,
    /// Whether a short balance is topped up from the master's linked account (D-1.2).
    pub auto_top_up: bool,
    pub issued_at_ms: u64,
}

impl DivisionAccount {
    /// The account's `instrument_id` in the API: `da_<master>_<seq>`.
    pub fn instrument_id(&self) -> DivisionId {
        DivisionId {
            master: self.master,
            seq: self.seq,
        }
    }

    /// The §6.2 controls of its payments at `at_ms`.
    pub fn controls_at(&self, at_ms: u64) -> Controls {
        self.controls
            .controls(&self.slave, self.issued_at_ms, at_ms)
    }

    pub fn masked(&self) -> String {
        masked(self.last4)
    }
}

/// A division account's `instrument_id`: its master and its number among the master's
/// division accounts, written `da_<master>_<seq>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionId {
    pub master: CustomerId,
    pub seq: CardSeq,
}

impl DivisionId {
    /// The bytes its PIN's and activation code's MACs are bound to.
    pub fn bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for DivisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "da_{}_{}", self.master, self.seq)
    }
}

impl std::str::FromStr for DivisionId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("instrument_id {s:?} is not da_<master>_<seq>");
        let rest = s.strip_prefix("da_").ok_or_else(bad)?;
        let (master, seq) = rest.split_once('_').ok_or_else(bad)?;
        let master: CustomerId = master.parse().map_err(|_| bad())?;
        let seq: u16 = seq.parse().map_err(|_| bad())?;
        if seq == 0 {
            return Err(bad());
        }
        Ok(DivisionId {
            master,
            seq: CardSeq(seq),
        })
    }
}

/// What an activation attempt (I5) comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationVerdict {
    /// ACTIVE, with the slave's new PIN.
    Activated,
    /// Refused with nothing changed but the count of wrong codes (`counted`), which voids
    /// the code at the fifth (`voids`).
    Refused {
        code: RefusalCode,
        counted: bool,
        voids: bool,
    },
}

impl Activation {
    /// A code issued at `at_ms`.
    pub const fn issued_at(at_ms: u64) -> Self {
        Self {
            expires_at_ms: at_ms + ACTIVATION_TTL_MS,
            failed_count: 0,
        }
    }

    /// Whether the code may still be used at `at_ms`.
    pub const fn usable_at(&self, at_ms: u64) -> bool {
        at_ms < self.expires_at_ms && self.failed_count < ACTIVATION_TRIES
    }

    /// I5: the code `code_right` or not, the identity check `identity_ok` or not, at
    /// `at_ms`, for an account in `status`. Only a `PENDING_ACTIVATION` account with a
    /// usable code may be activated; a wrong code counts; a wrong identity does not (the
    /// code was right) but refuses.
    pub fn attempt(
        &self,
        status: DivisionStatus,
        code_right: bool,
        identity_ok: bool,
        at_ms: u64,
    ) -> ActivationVerdict {
        let refused = |code, counted: bool| ActivationVerdict::Refused {
            code,
            counted,
            voids: counted && self.failed_count + 1 >= ACTIVATION_TRIES,
        };
        if status != DivisionStatus::PendingActivation || !self.usable_at(at_ms) {
            return refused(RefusalCode::ActivationCodeInvalid, false);
        }
        if !code_right {
            return refused(RefusalCode::ActivationCodeInvalid, true);
        }
        if !identity_ok {
            return refused(RefusalCode::IdentityCheckFailed, false);
        }
        ActivationVerdict::Activated
    }
}

/// What a division payment's new record does to its account's counters (§6.2 reserve,
/// then commit; D-1.7): its sale done (REQUESTED → APPROVED) commits the reservation in
/// the period of the authorization; its sale not done (REQUESTED → DECLINED) releases
/// it; more of it refunded gives that back to the budget if still in the same period (and
/// the use too for a cancel). `on_record`: the payment as the books hold it. Answers the
/// counters after, or `None` when nothing changes, so that a record written again
/// changes nothing twice.
pub fn counters_after(
    counters: &Counters,
    budget: Option<Period>,
    on_record: &crate::payments::payment::PaymentEntry,
    new: &crate::payments::payment::PaymentEntry,
) -> Option<Counters> {
    use crate::payments::payment::PaymentState as S;
    let mut after = *counters;
    match (on_record.state, new.state) {
        (S::Requested, S::Approved | S::PartiallyRefunded | S::Refunded | S::Cancelled) => {
            after.commit(new.amount_krw, budget, new.created_at_ms);
        }
        (S::Requested, S::Declined) => after.release(new.amount_krw),
        _ => {}
    }
    let given_back = new.refunded_krw.saturating_sub(on_record.refunded_krw);
    if given_back > 0 {
        after.restore(
            given_back,
            new.state == S::Cancelled,
            budget,
            new.created_at_ms,
        );
    }
    (after != *counters).then_some(after)
}

#[cfg(test)]
mod tests;
