//! Admission: what to do with a submission. Idempotency against the books (a known
//! request number with the same fields is answered, or waited for; other fields are
//! refused), the customer's validity (S31-S33, S71-S73), the request date's window; then
//! the instrument's own admission (for a remittance: routing by the usage limit, deficit
//! first, and over the limit the signature, S5, S6).
//!
//! The generic part is here (idempotency, by the instrument's
//! [`omnibus_core::saga::Instrument::same_request`]; validity; the date); what each
//! instrument checks and how it builds its `Accepted` (routing is the remittance's rule,
//! the signature the payment instruction's) is in its own file, reached through
//! `Instruments::admit` in `mod.rs`.

use omnibus_core::instruments;
use omnibus_core::ledger::{BooksError, CustomerEntry, DAY_MS};
use omnibus_core::saga::Accepted;
use omnibus_core::{CustomerId, RequestDate};

use super::payment_instruction::SignedInstruction;
use super::Instruments;
use crate::api::{Outcome, Submission};
use crate::error::{EngineError, Rejection};

impl Instruments {
    pub(super) fn valid_customer<'a>(
        &self,
        entry: Option<&'a CustomerEntry>,
        customer: CustomerId,
    ) -> Result<&'a CustomerEntry, EngineError> {
        let entry = entry.ok_or(BooksError::UnknownCustomer(customer))?;
        if !entry.tradable {
            return Err(Rejection::NotTradable(customer).into());
        }
        if !entry.subscription_valid {
            return Err(Rejection::SubscriptionInvalid(customer).into());
        }
        Ok(entry)
    }

    /// Idempotency and validation (S31-S33, S71-S73, S6): what to do with a submission.
    /// The request is judged as of `received_ms`, when its customer's account actor
    /// received it (its time on record, its date's window, its signing text's expiry),
    /// and routed against the balance as it stands now, when its turn came.
    pub(super) fn prepare(
        &self,
        submission: &Submission,
        received_ms: u64,
    ) -> Result<Prepared, EngineError> {
        let ledger = self.ledger.borrow();
        ledger.check_usable()?;
        let books = ledger.books();
        let customer = submission.customer();
        let request_no = submission.request_no();
        if let Some(existing) = books.request(customer, request_no) {
            // Only a payment or a pocket charge names accounts to compare: no other
            // resubmission reads entries.
            let same_named = || {
                submission.named() == Default::default() || {
                    let entries = books.request_entries(existing);
                    let on_record = books.named(existing, &entries);
                    (on_record.is_empty() && entries.is_empty()) || on_record == submission.named()
                }
            };
            if !same_request(&existing.accepted, submission) || !same_named() {
                return Err(Rejection::RequestNoReused { request_no }.into());
            }
            return Ok(match &existing.answer {
                Some(answer) => Prepared::Answered(Outcome::new(&existing.accepted, answer)),
                None => Prepared::InProgress,
            });
        }
        if let Some(settled) = self.archived(customer, request_no)? {
            // Settled long ago and moved to the archive: its original answer.
            if !same_request(&settled.accepted, submission)
                || !super::sale::same_named(&settled.entries, submission.named())
            {
                return Err(Rejection::RequestNoReused { request_no }.into());
            }
            return match &settled.answer {
                Some(answer) => Ok(Prepared::Answered(Outcome::new(&settled.accepted, answer))),
                None => Err(Rejection::UnknownRequest(request_no).into()),
            };
        }
        let entry = self.valid_customer(books.customer(customer), customer)?;
        let now = received_ms;
        self.check_request_date(submission.header().request_date, now)?;
        self.admit(submission, entry, books, now)
    }

    /// What a request that waited its turn past its answer deadline is put on record as,
    /// never to start: its own fields, its path (which depends on the amount alone), and
    /// no deficit, since its balance was never looked at. Nothing is checked: nothing will
    /// be carried out.
    pub(super) fn unstarted(
        &self,
        submission: &Submission,
        received_ms: u64,
    ) -> Result<Accepted, EngineError> {
        self.admit_unstarted(submission, received_ms)
    }

    /// A request's date must be within `actors.request_date_window_days` of the engine's
    /// own date (UTC): the date is the client's, and nothing the engine keeps depends on
    /// it, but a date far off is a client's mistake, refused naming the field.
    fn check_request_date(&self, date: RequestDate, now: u64) -> Result<(), EngineError> {
        let window = u64::from(self.saga.config().actors.request_date_window_days) * DAY_MS;
        let earliest = RequestDate::from_unix_ms(now.saturating_sub(window));
        let latest = RequestDate::from_unix_ms(now.saturating_add(window));
        let today = RequestDate::from_unix_ms(now);
        let inside = earliest.is_none_or(|e| date >= e) && latest.is_none_or(|l| date <= l);
        if inside {
            return Ok(());
        }
        Err(Rejection::RequestDateOutsideWindow {
            date,
            today: today.map_or_else(|| "unknown".to_string(), |t| t.to_string()),
            window_days: self.saga.config().actors.request_date_window_days,
        }
        .into())
    }
}

// A transient value, built and matched once per submission: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Prepared {
    Answered(Outcome),
    InProgress,
    Ready {
        accepted: Accepted,
        signed: Option<SignedInstruction>,
    },
}

/// A submission's own fields as a request on record would hold them (its path and
/// deficit, which depend on the balance when its turn comes, left out): what an
/// instrument's [`omnibus_core::saga::Instrument::same_request`] compares.
pub(super) fn as_submitted(submission: &Submission, at_ms: u64) -> Accepted {
    let header = submission.header();
    Accepted {
        customer: header.customer,
        request_no: header.request_no,
        request_date: header.request_date,
        kind: submission.kind(),
        amount: header.amount,
        payee: submission.payee(),
        path: None,
        deficit: None,
        at_ms,
    }
}

/// Whether two submissions are the same request (by their instrument's
/// [`omnibus_core::saga::Instrument::same_request`]): a resubmission of a request still waiting its turn, or
/// in progress, joins it.
pub fn same_submission(a: &Submission, b: &Submission) -> bool {
    let (a, b) = (as_submitted(a, 0), as_submitted(b, 0));
    instruments::of(a.kind).same_request(&a, &b)
}

/// Whether a resubmission is the same request as the accepted one (by its instrument's
/// [`omnibus_core::saga::Instrument::same_request`]).
fn same_request(accepted: &Accepted, submission: &Submission) -> bool {
    instruments::of(accepted.kind).same_request(accepted, &as_submitted(submission, 0))
}
