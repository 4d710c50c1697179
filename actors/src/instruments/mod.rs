//! The instruments: the products the engine carries out over the saga runtime, as they
//! exist today: charges (A1, A2, refunds), remittances (X1, X2, recoveries), payment
//! instructions (over-limit remittances, signed and authenticated) and settlement sweeps
//! (the house's own transfers between parent accounts).
//!
//! Each product's actor-side half is a file of its own: the rail request each of its
//! steps makes (through [`RailCalls`], which the saga runtime calls without knowing the
//! products), and what only it needs (a payment instruction's issued texts and its
//! authentication; a sweep's house request). What follows each step, and the legs of
//! each step, are the core instrument's (`omnibus_core::instruments`).
//!
//! - `mod.rs`: [`Instruments`], one per shard: a submission from admission to its flow;
//!   the rail call of each step, by instrument.
//! - `admission.rs`: idempotency, validity (S31-S33, S71-S73), the request date, routing
//!   by the usage limit: what to do with a submission.
//! - `charge.rs`, `remit.rs`, `payment_instruction.rs`, `settlement.rs`, `sale.rs`,
//!   `pocket_charge.rs`, `va_credit.rs`: one product each.
//! - `payment_record.rs`: a payment's record with what it does to a division account's
//!   budget, for the shard's handlers and the supervisors.

mod admission;
mod charge;
mod payment_instruction;
mod payment_record;
mod payout;
mod pocket_charge;
mod remit;
mod sale;
mod settlement;
mod va_credit;
mod verifying_keys;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use omnibus_core::ledger::{CustomerEntry, ShardBooks};
use omnibus_core::request_log::Step;
use omnibus_core::saga::{Accepted, LogEntry};
use omnibus_core::{CustomerId, RequestNo};

pub use self::admission::same_submission;
use self::admission::Prepared;
use self::payment_instruction::{IssuedText, SignedInstruction};
use crate::api::{Outcome, Submission};
use crate::error::EngineError;
use crate::ledger::ShardLedger;
use crate::rails::{Answer as RailResult, Authentication, RailFuture, RailRequestId, Rails};
use crate::reply::Reply;
use crate::saga::{self, Live, RailCalls, SagaRuntime};

pub use self::payment_record::{record_payment, sale_decline};
pub use self::payout::start as start_payout;
pub use self::pocket_charge::start_release;
pub use self::settlement::start as start_settlement;
pub use self::va_credit::start as start_va_credit;

/// A shard's instruments, shared by its customer account actors on the shard's thread.
pub struct Instruments {
    saga: Rc<SagaRuntime>,
    ledger: Rc<RefCell<ShardLedger>>,
    /// The authentication server, asked about a signed instruction's key (S7).
    authentication: Arc<dyn Authentication>,
    /// Signing texts issued and not yet used (bounded by `signing.original_texts_max`).
    texts: RefCell<HashMap<(CustomerId, RequestNo), IssuedText>>,
    /// Customers' public keys, decoded (bounded by `signing.verifying_keys_cached_max`).
    keys: verifying_keys::VerifyingKeys,
}

impl Instruments {
    pub fn new(
        saga: Rc<SagaRuntime>,
        ledger: Rc<RefCell<ShardLedger>>,
        authentication: Arc<dyn Authentication>,
    ) -> Self {
        let keys_max = saga.config().signing.verifying_keys_cached_max as usize;
        Self {
            saga,
            ledger,
            authentication,
            texts: RefCell::new(HashMap::new()),
            keys: verifying_keys::VerifyingKeys::new(keys_max),
        }
    }

    /// The engine's clock, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.saga.now_ms()
    }

    pub fn config(&self) -> &omnibus_core::Config {
        self.saga.config()
    }

    /// For the customer's account actor, once a request is answered: `Some` while the
    /// request's turn lasts past its answer (answered early: see `saga/turns.rs`).
    pub fn turn_over(
        &self,
        customer: CustomerId,
        request_no: RequestNo,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        self.saga.turn_over((customer, request_no))
    }

    /// Whether a request number of a customer is on record (accepted, answered or not).
    pub fn on_record(&self, customer: CustomerId, request_no: RequestNo) -> bool {
        let in_books = self
            .ledger
            .borrow()
            .books()
            .request(customer, request_no)
            .is_some();
        // An archive that cannot be read counts as on record: the idempotency path then
        // reports the failure rather than starting the request again.
        in_books || !matches!(self.archived(customer, request_no), Ok(None))
    }

    /// A request of this shard's customer, settled and moved to the shard's archive.
    pub fn archived(
        &self,
        customer: CustomerId,
        request_no: RequestNo,
    ) -> Result<Option<omnibus_core::ledger::archived::SettledRequest>, EngineError> {
        let ledger = self.ledger.borrow();
        let Some(archive) = ledger.archive() else {
            return Ok(None);
        };
        archive
            .get_of(customer, request_no)
            .map_err(|cause| EngineError::Storage {
                shard: ledger.shard(),
                cause: format!("archive: {cause}"),
            })
    }
}

/// Carries out a submission: validation, then acceptance and the flow, answering `reply`
/// once the customer's answer is durable. `received_ms`: when the customer's account
/// actor received it (the request's time on record: see `Instruments::prepare`).
pub fn submit(
    ctx: &Rc<Instruments>,
    submission: Submission,
    received_ms: u64,
    reply: Reply<Outcome>,
) {
    let customer = submission.customer();
    let request_no = submission.request_no();
    match ctx.prepare(&submission, received_ms) {
        Err(e) => reply.send(Err(e)),
        Ok(Prepared::Answered(outcome)) => reply.send(Ok(outcome)),
        Ok(Prepared::InProgress) => ctx.saga.add_caller(customer, request_no, reply),
        Ok(Prepared::Ready {
            accepted,
            signed: None,
        }) => start(ctx, accepted, submission.named(), None, reply),
        Ok(Prepared::Ready {
            accepted,
            signed: Some(instruction),
        }) => payment_instruction::authenticate_then_start(
            ctx,
            submission,
            received_ms,
            accepted,
            instruction,
            reply,
        ),
    }
}

/// A submission that waited its turn past its answer deadline: put on record as failed,
/// `not_carried_out`, never to start (`saga::not_carried_out`); `reply` is answered once
/// that is durable. One already on record (it cannot be, as only its customer's actor
/// puts its requests on record, but should it be) is answered as a resubmission.
pub fn not_carried_out(
    ctx: &Rc<Instruments>,
    submission: Submission,
    received_ms: u64,
    reply: Reply<Outcome>,
) {
    let (customer, request_no) = (submission.customer(), submission.request_no());
    if ctx.on_record(customer, request_no) {
        return submit(ctx, submission, received_ms, reply);
    }
    match ctx.unstarted(&submission, received_ms) {
        Ok(accepted) => {
            let uses_text = matches!(submission, Submission::RemitSigned(..));
            saga::not_carried_out(&ctx.saga, accepted, reply, || {
                // On record: its signing text serves no other submission.
                if uses_text {
                    ctx.use_text(customer, request_no);
                }
            });
        }
        Err(e) => reply.send(Err(e)),
    }
}

/// Accepts a prepared request and drives its flow once the acceptance is durable; an
/// accepted payment instruction's text is used up.
fn start(
    ctx: &Rc<Instruments>,
    accepted: Accepted,
    named: omnibus_core::saga::Named,
    signed: Option<SignedInstruction>,
    reply: Reply<Outcome>,
) {
    let (customer, request_no) = (accepted.customer, accepted.request_no);
    let uses_text = signed.is_some();
    saga::start(
        &ctx.saga,
        accepted,
        named,
        signed.map(Live::new),
        reply,
        || {
            if uses_text {
                ctx.use_text(customer, request_no);
            }
        },
    );
}

impl Instruments {
    /// Admission, by instrument: what a submission that passed the generic checks
    /// (idempotency, the customer's validity, the date) is accepted as.
    fn admit(
        &self,
        submission: &Submission,
        entry: &CustomerEntry,
        books: &ShardBooks,
        at_ms: u64,
    ) -> Result<Prepared, EngineError> {
        match submission {
            Submission::Charge(_) => Ok(Prepared::Ready {
                accepted: charge::accept(submission, at_ms),
                signed: None,
            }),
            Submission::Remit(r) => self.accept_remit(submission, r, None, entry, books, at_ms),
            Submission::RemitSigned(r, signed) => {
                self.accept_remit(submission, r, Some(signed), entry, books, at_ms)
            }
            Submission::Sale(s) => Ok(Prepared::Ready {
                accepted: sale::accept(submission, s, books, at_ms)?,
                signed: None,
            }),
            Submission::MerchantRefund(r) => Ok(Prepared::Ready {
                accepted: sale::accept(
                    submission,
                    &crate::api::SaleRequest {
                        header: r.header,
                        merchant: r.merchant,
                        pocket: r.pocket,
                    },
                    books,
                    at_ms,
                )?,
                signed: None,
            }),
            Submission::PocketRelease(c) => Ok(Prepared::Ready {
                accepted: pocket_charge::accept_release(submission, c, books, at_ms)?,
                signed: None,
            }),
            Submission::PocketCharge(c) | Submission::PocketFill(c) => Ok(Prepared::Ready {
                accepted: pocket_charge::accept(
                    submission,
                    c,
                    books,
                    &self.saga.config().payments,
                    at_ms,
                )?,
                signed: None,
            }),
        }
    }

    /// What a request that waited its turn past its answer deadline is put on record as,
    /// never to start, by instrument: its own fields, and no deficit, since its balance
    /// was never looked at. Nothing is checked: nothing will be carried out.
    fn admit_unstarted(
        &self,
        submission: &Submission,
        at_ms: u64,
    ) -> Result<Accepted, EngineError> {
        match submission {
            Submission::Charge(_)
            | Submission::Sale(_)
            | Submission::PocketCharge(_)
            | Submission::PocketFill(_)
            | Submission::MerchantRefund(_)
            | Submission::PocketRelease(_) => Ok(charge::accept(submission, at_ms)),
            Submission::Remit(_) | Submission::RemitSigned(..) => {
                self.unstarted_remit(submission, at_ms)
            }
        }
    }
}

/// The rail call of each step, by instrument: what the saga runtime calls through
/// [`RailCalls`].
pub struct StepCalls;

/// The instruments' [`RailCalls`], handed to each shard's saga runtime.
pub static STEP_CALLS: StepCalls = StepCalls;

impl RailCalls for StepCalls {
    fn call(
        &self,
        rails: &Rails,
        books: &ShardBooks,
        entry: &LogEntry,
        id: RailRequestId,
        live: Option<&Live>,
    ) -> Option<RailFuture<RailResult>> {
        if entry.step == Step::Settlement {
            // The house's sweep: its legs are the two parent accounts; no customer.
            return settlement::settle(rails, id, entry);
        }
        // Each step looks up only what its call needs (the customer's linked account, the
        // request's payee or signed text): one map lookup per step is a share of a saga's
        // cost worth saving (issue 12's profile).
        let customer = || books.customer(entry.customer);
        let request = || books.request(entry.customer, entry.request_no);
        match entry.step {
            Step::ChargeWithdrawal => Some(charge::withdraw(rails, id, entry, customer()?)),
            Step::ChargeCredit => Some(charge::credit(rails, id, entry)),
            Step::Refund => Some(charge::refund(rails, id, entry, customer()?)),
            Step::RemitDeduction => Some(remit::deduct(rails, id, entry)),
            Step::RemitDeposit => remit::deposit(rails, id, entry, request()?),
            Step::Recovery => Some(remit::recover(rails, id, entry)),
            Step::PaymentInstruction => {
                payment_instruction::instruct(rails, id, entry, request()?, live)
            }
            Step::Sale
            | Step::SaleReversal
            | Step::PocketCharge
            | Step::PocketChargeReversal
            | Step::MerchantRefund
            | Step::PocketRelease => sale::transfer(rails, id, entry),
            // Settlements returned above: they have no customer.
            Step::Settlement => None,
        }
    }
}
