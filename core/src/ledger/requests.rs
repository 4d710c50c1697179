//! Requests as the books hold them: what was accepted ([`Accepted`], of a [`RequestKind`]),
//! the answer, the entries made for it and what it set aside ([`RequestState`]).

use serde::{Deserialize, Serialize};

use super::{Answer, EntryId, Reserve};
use crate::ids::{CustomerId, RequestNo};
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

/// A request and its entries, as the books hold it.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct RequestState {
    pub accepted: Accepted,
    pub answer: Option<Answer>,
    pub entries: Vec<EntryId>,
    /// `None` for requests accepted before reservations existed (they hold per entry, as
    /// they always did); otherwise what the request holds now, by account.
    pub reserved: Option<Vec<Reserve>>,
}
