//! Requests as the books hold them: what was accepted ([`Accepted`]), the answer, the entries made for it and what it set aside ([`RequestState`]); accepting
//! a request and recording its answer.

use super::retention::DAY_MS;
use super::{Accepted, Answer, BooksError, EntryId, LogEntry, Reserve, ShardBooks};
use crate::ids::{CustomerId, RequestNo};
use crate::instruments;
use crate::saga::{Named, Settled};

/// Where a request stands for good ([`Settled`]), from its entries: its instrument's
/// [`crate::saga::settled_outcome`].
pub fn settled_outcome(request: &RequestState, entries: &[LogEntry]) -> Settled {
    instruments::settled_outcome(&request.accepted, request.answer.map(|a| a.told), entries)
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

impl ShardBooks {
    pub fn request(&self, customer: CustomerId, request_no: RequestNo) -> Option<&RequestState> {
        self.requests.get(&(customer, request_no))
    }

    /// The accounts beyond the customer's own a request's legs name: what its acceptance
    /// named (while it is not settled), or else what its entries name.
    pub fn named(&self, request: &RequestState, entries: &[LogEntry]) -> Named {
        let key = (request.accepted.customer, request.accepted.request_no);
        self.named
            .get(&key)
            .copied()
            .unwrap_or_default()
            .or(Named::in_entries(entries))
    }

    /// What a request's acceptance named, while it is not settled (nothing for requests
    /// accepted before version 3 of `request_accepted`: their entries name it).
    pub fn named_on_record(&self, customer: CustomerId, request_no: RequestNo) -> Named {
        self.named
            .get(&(customer, request_no))
            .copied()
            .unwrap_or_default()
    }

    /// The requests not settled yet whose acceptance named some account beyond the
    /// customer's own, with what it named (few: the instruments' requests in flight).
    pub fn named_requests(&self) -> impl Iterator<Item = (&RequestState, Named)> {
        self.named
            .iter()
            .filter_map(|(key, named)| Some((self.requests.get(key)?, *named)))
    }

    /// What is on its way into a card's pocket (D-5.6): every open entry crediting it
    /// (charges, cancels, refunds, reversals in flight), and every charge from the linked
    /// account naming it that is not settled and whose credit has no entry yet (its A1
    /// may still be done, by the bank or by a confirm).
    pub fn pocket_incoming(
        &self,
        customer: CustomerId,
        card: crate::ids::CardSeq,
    ) -> rust_decimal::Decimal {
        let pocket = crate::ids::AccountId::pocket(customer, card);
        let fills: rust_decimal::Decimal = self
            .named_requests()
            .filter(|(request, named)| {
                request.accepted.customer == customer
                    && request.accepted.kind == crate::saga::RequestKind::Charge
                    && named.pocket == Some(card)
            })
            .filter(|(request, _)| {
                !request.entries.iter().any(|id| {
                    self.entries
                        .get(id)
                        .is_some_and(|e| e.step == crate::request_log::Step::ChargeCredit)
                })
            })
            .map(|(request, _)| request.accepted.amount.value())
            .sum();
        self.open_credits_to(pocket) + fills
    }

    pub fn requests(&self) -> impl Iterator<Item = &RequestState> {
        self.requests.values()
    }

    pub fn request_count(&self) -> usize {
        self.requests.len()
    }

    /// Customers' requests not answered yet, oldest acceptance first: `(at_ms, customer,
    /// request number)`.
    pub fn unanswered_requests(&self) -> impl Iterator<Item = (u64, CustomerId, RequestNo)> + '_ {
        self.unanswered.iter().copied()
    }

    /// How many customers' requests are not answered yet.
    pub fn unanswered_count(&self) -> usize {
        self.unanswered.len()
    }

    /// The entries of a request, in the order they were created.
    pub fn request_entries(&self, request: &RequestState) -> Vec<LogEntry> {
        request
            .entries
            .iter()
            .filter_map(|id| self.entries.get(id).copied())
            .collect()
    }

    pub(super) fn apply_accepted(
        &mut self,
        accepted: &Accepted,
        reserves: Option<&[Reserve]>,
        named: Named,
    ) -> Result<(), BooksError> {
        // The house's own requests (sweeps) have no customer account.
        let house = instruments::of(accepted.kind).is_house();
        if !house {
            self.customer_checked(accepted.customer)?;
        }
        self.check_amount(accepted.amount)?;
        let key = (accepted.customer, accepted.request_no);
        if self.requests.contains_key(&key) {
            return Err(BooksError::RequestExists {
                customer: accepted.customer,
                request_no: accepted.request_no,
            });
        }
        let reserved = self.check_reserves(reserves.unwrap_or(&[]))?;
        for (account, amount) in &reserved {
            self.hold_reserve(&key, *account, *amount, accepted.at_ms);
        }
        self.requests.insert(
            key,
            RequestState {
                accepted: *accepted,
                answer: None,
                entries: Vec::new(),
                reserved: reserves.map(|_| reserved),
            },
        );
        if !named.is_empty() {
            self.named.insert(key, named);
        }
        self.index_payout(accepted, named);
        self.by_day.insert((accepted.at_ms / DAY_MS, key.0, key.1));
        if !house {
            self.unanswered
                .insert((accepted.at_ms, accepted.customer, accepted.request_no));
        }
        Ok(())
    }

    /// An `Answered` record: what the customer was told, once.
    pub(super) fn apply_answered(
        &mut self,
        customer: &CustomerId,
        request_no: &RequestNo,
        answer: &Answer,
    ) -> Result<(), BooksError> {
        let request =
            self.requests
                .get_mut(&(*customer, *request_no))
                .ok_or(BooksError::UnknownRequest {
                    customer: *customer,
                    request_no: *request_no,
                })?;
        if request.answer.is_some() {
            return Err(BooksError::AlreadyAnswered {
                customer: *customer,
                request_no: *request_no,
            });
        }
        request.answer = Some(*answer);
        let at_ms = request.accepted.at_ms;
        self.unanswered.remove(&(at_ms, *customer, *request_no));
        // Told it failed, a remittance no longer goes on: what it set aside for
        // its further steps may be free now.
        self.release_if_settled(&(*customer, *request_no));
        self.note_if_settled(&(*customer, *request_no));
        Ok(())
    }
}
