//! What a request is, as accepted and recorded: its [`RequestKind`] (which instrument
//! carries it out), the fields of [`Accepted`], the house's own owner ([`HOUSE`]), and a
//! [`Reserve`] it sets aside before its first call.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, CustomerId, RequestNo};
use crate::money::Amount;
use crate::request::{Payee, RequestDate};
use crate::routing::RemitPath;

/// What a request asks for.
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
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Balance increase.
    Charge,
    /// Balance deduction to a customer-designated account.
    Remit,
    /// A settlement sweep between two parent accounts: the house's own request, of no
    /// customer (see [`HOUSE`]).
    Settlement,
    /// A sale to a merchant from the customer's balance (INSTRUMENTS.md §6.3). Added last,
    /// so the archived tags of the kinds before it are unchanged.
    Sale,
    /// A prepaid card's charge from the customer's balance (INSTRUMENTS.md D-5.7). Added
    /// after `Sale`, for the same reason.
    PocketCharge,
    /// A merchant's cancel of a payment (§6.4), paid back to its payer. Added last.
    MerchantRefund,
    /// A closed card's pocket back to its owner (D-5.13). Added last.
    PocketRelease,
    /// A merchant's payout (INSTRUMENTS.md §6.6, D-5.11): the house's own request. Added
    /// last.
    Payout,
    /// The credit of a virtual-account deposit in mode B or C (INSTRUMENTS.md §2.7:
    /// V-b2, V-s): the house's own request, A2 `fin_parent → merchant[p]` or `→
    /// suspense`. Added last.
    VaCredit,
}

impl RequestKind {
    /// Its stable name, as the API and the events say it.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestKind::Charge => "charge",
            RequestKind::Remit => "remit",
            RequestKind::Settlement => "settlement",
            RequestKind::Sale => "sale",
            RequestKind::PocketCharge => "pocket_charge",
            RequestKind::MerchantRefund => "merchant_refund",
            RequestKind::PocketRelease => "pocket_release",
            RequestKind::Payout => "payout",
            RequestKind::VaCredit => "va_credit",
        }
    }
}

/// The customer number of the house: the owner of the company's own requests (settlement
/// sweeps). It is never a customer's: customer numbers are below 2^63 and this one is
/// reserved; the books open no account for it.
pub const HOUSE: CustomerId = match CustomerId::new_const((1 << 63) - 1) {
    Some(id) => id,
    None => panic!("the house number is positive"),
};

/// An accepted request, as the WAL records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Accepted {
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub request_date: RequestDate,
    pub kind: RequestKind,
    pub amount: Amount,
    pub payee: Option<Payee>,
    pub path: Option<RemitPath>,
    /// The deficit charged first (claim 13), if the balance was short.
    pub deficit: Option<Amount>,
    pub at_ms: u64,
}

/// Money a request sets aside on a parent account's slice before its first outside call,
/// so the steps it may still need (a credit, a payout, a refund, a recovery) are never
/// refused for want of funds: the amount is held on the account until the step that
/// uses it is final, or the request needs it no more.
pub type Reserve = (AccountId, Amount);
