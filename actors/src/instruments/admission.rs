//! Admission: what to do with a submission. Idempotency against the books (a known
//! request number with the same fields is answered, or waited for; other fields are
//! refused), the customer's validity (S31-S33, S71-S73), the request date's window,
//! routing by the usage limit (deficit first) and, over the limit, the signature (S5, S6).
//!
//! Here rather than in the saga runtime, where the code review of 2026-11-30 drew it:
//! today it builds each product's `Accepted` itself (routing is the remittance's rule, the
//! signature the payment instruction's). Its generic part (idempotency, validity, the
//! date) can move down once an instrument trait carries the products' part.

use omnibus_core::books::{BooksError, CustomerEntry};
use omnibus_core::flow::{Accepted, RequestKind};
use omnibus_core::{route, CustomerId, RemitPath, RemitRequest, RequestDate};

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
            if !same_request(&existing.accepted, submission) {
                return Err(Rejection::RequestNoReused { request_no }.into());
            }
            return Ok(match &existing.answer {
                Some(answer) => Prepared::Answered(Outcome::new(&existing.accepted, answer)),
                None => Prepared::InProgress,
            });
        }
        let entry = self.valid_customer(books.customer(customer), customer)?;
        let now = received_ms;
        self.check_request_date(submission.header().request_date, now)?;
        let (header, payee, signed) = match submission {
            Submission::Charge(c) => {
                let accepted = Accepted {
                    customer,
                    request_no,
                    request_date: c.header.request_date,
                    kind: RequestKind::Charge,
                    amount: c.header.amount,
                    payee: None,
                    path: None,
                    deficit: None,
                    at_ms: now,
                };
                return Ok(Prepared::Ready {
                    accepted,
                    signed: None,
                });
            }
            Submission::Remit(r) => (&r.header, r.payee, None),
            Submission::RemitSigned(r, signed) => (&r.header, r.payee, Some(signed)),
        };
        let available = books.money(entry.balance - entry.held);
        let plan = route(header.amount, available, self.saga.config().usage_limit())
            .map_err(|e| EngineError::Internal(format!("routing: {e}")))?;
        let instruction = match (plan.path, signed) {
            (RemitPath::PaymentInstruction, None) => {
                return Err(Rejection::SignatureRequired.into())
            }
            (RemitPath::First, Some(_)) => return Err(Rejection::NotOverLimit.into()),
            (RemitPath::First, None) => None,
            (RemitPath::PaymentInstruction, Some(signed)) => {
                let request = RemitRequest {
                    header: *header,
                    payee,
                };
                Some(self.check_signature(entry, &request, signed, now)?)
            }
        };
        let accepted = Accepted {
            customer,
            request_no,
            request_date: header.request_date,
            kind: RequestKind::Remit,
            amount: header.amount,
            payee: Some(payee),
            path: Some(plan.path),
            deficit: plan.deficit_charge,
            at_ms: now,
        };
        Ok(Prepared::Ready {
            accepted,
            signed: instruction,
        })
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
        let header = submission.header();
        let (kind, payee, path) = match submission {
            Submission::Charge(_) => (RequestKind::Charge, None, None),
            Submission::Remit(r) | Submission::RemitSigned(r, _) => {
                // Routed as if the balance covered it: the path, and no deficit.
                let plan = route(
                    header.amount,
                    header.amount.money(),
                    self.saga.config().usage_limit(),
                )
                .map_err(|e| EngineError::Internal(format!("routing: {e}")))?;
                (RequestKind::Remit, Some(r.payee), Some(plan.path))
            }
        };
        Ok(Accepted {
            customer: submission.customer(),
            request_no: submission.request_no(),
            request_date: header.request_date,
            kind,
            amount: header.amount,
            payee,
            path,
            deficit: None,
            at_ms: received_ms,
        })
    }

    /// A request's date must be within `actors.request_date_window_days` of the engine's
    /// own date (UTC): the date is the client's, and nothing the engine keeps depends on
    /// it, but a date far off is a client's mistake, refused naming the field.
    fn check_request_date(&self, date: RequestDate, now: u64) -> Result<(), EngineError> {
        const DAY_MS: u64 = 86_400_000;
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

/// Whether two submissions are the same request (kind, date, amount, payee): a
/// resubmission of a request still waiting its turn, or in progress, joins it.
pub fn same_submission(a: &Submission, b: &Submission) -> bool {
    let fields = |s: &Submission| match s {
        Submission::Charge(c) => (RequestKind::Charge, c.header, None),
        Submission::Remit(r) | Submission::RemitSigned(r, _) => {
            (RequestKind::Remit, r.header, Some(r.payee))
        }
    };
    fields(a) == fields(b)
}

/// Whether a resubmission carries the same fields as the accepted request.
fn same_request(accepted: &Accepted, submission: &Submission) -> bool {
    let (kind, header, payee) = match submission {
        Submission::Charge(c) => (RequestKind::Charge, &c.header, None),
        Submission::Remit(r) | Submission::RemitSigned(r, _) => {
            (RequestKind::Remit, &r.header, Some(r.payee))
        }
    };
    accepted.kind == kind
        && accepted.request_date == header.request_date
        && accepted.amount == header.amount
        && accepted.payee == payee
}
