//! Payment instructions (SPEC §5a): a remittance over the usage limit, made only with the
//! customer terminal's signature over a text the engine issued. The engine issues the
//! transaction original text (S2, S3; bounded by `signing.original_texts_max`, expiring),
//! checks the signature and the certificate (S5, S6), asks the authentication server
//! about the key (S7) before anything is accepted, and sends the signed instruction to the
//! financial company server once, live.

use std::rc::Rc;
use std::time::Duration;

use omnibus_core::ledger::CustomerEntry;
use omnibus_core::ledger::RequestState;
use omnibus_core::record::SigningKey;
use omnibus_core::saga::{Accepted, LogEntry};
use omnibus_core::signing::OriginalText;
use omnibus_core::{CustomerId, RemitRequest, RequestNo};

use super::Instruments;
use crate::api::{Outcome, Signed, SigningText, Submission};
use crate::error::{EngineError, Rejection};
use crate::rails::{Answer as RailResult, PaymentInstruction, RailFuture, RailRequestId, Rails};
use crate::reply::Reply;
use crate::saga::Live;

/// The signed instruction carried to the payment-instruction step.
#[derive(Clone, Debug)]
pub struct SignedInstruction {
    text: String,
    signature: [u8; 64],
    key: SigningKey,
}

/// A signing text as issued: parsed, to check a submission against, and rendered, as the
/// terminal signed it.
pub(super) struct IssuedText {
    parsed: OriginalText,
    text: String,
}

impl Instruments {
    /// Issues the transaction original text of an over-limit remittance (S2, S3).
    pub fn issue_text(&self, request: RemitRequest) -> Result<SigningText, EngineError> {
        let now = self.saga.now_ms();
        let customer = request.header.customer;
        {
            let ledger = self.ledger.borrow();
            ledger.check_usable()?;
            let books = ledger.books();
            let entry = self.valid_customer(books.customer(customer), customer)?;
            if entry.signing_key.is_none() {
                return Err(Rejection::NoSigningKey(customer).into());
            }
            if request.header.amount.value() <= self.saga.config().usage_limit().value() {
                return Err(Rejection::NotOverLimit.into());
            }
            if books.request(customer, request.header.request_no).is_some() {
                return Err(Rejection::RequestNoReused {
                    request_no: request.header.request_no,
                }
                .into());
            }
        }
        let mut texts = self.texts.borrow_mut();
        if texts.len() >= self.saga.config().signing.original_texts_max as usize {
            texts.retain(|_, t| t.parsed.expires_at_ms > now);
            if texts.len() >= self.saga.config().signing.original_texts_max as usize {
                return Err(EngineError::Overloaded(crate::error::Bound::SigningTexts));
            }
        }
        let parsed = OriginalText {
            request,
            nonce: rand::random::<u128>(),
            expires_at_ms: now + self.saga.config().signing.original_text_ttl_ms,
        };
        let text = parsed.render();
        let issued = SigningText {
            text: text.clone(),
            expires_at_ms: parsed.expires_at_ms,
        };
        texts.insert(
            (customer, request.header.request_no),
            IssuedText { parsed, text },
        );
        Ok(issued)
    }

    /// S5, S6 and the engine's own checks of a signed instruction. The issued text is used
    /// up only when the request is accepted ([`Instruments::use_text`]): a refusal that
    /// changed nothing (a bad signature, the authentication server unreachable) leaves it
    /// usable, so that the documented retry can succeed. An expired text is dropped. A text
    /// and its signature still serve one request, once: a second submission of an
    /// accepted request is answered as a resubmission, never executed again.
    pub(super) fn check_signature(
        &self,
        customer: &CustomerEntry,
        request: &RemitRequest,
        signed: &Signed,
        now: u64,
    ) -> Result<SignedInstruction, EngineError> {
        let key = customer
            .signing_key
            .ok_or(Rejection::NoSigningKey(customer.id))?;
        let text_key = (customer.id, request.header.request_no);
        let mut texts = self.texts.borrow_mut();
        let issued = texts
            .get(&text_key)
            .ok_or(Rejection::NoSigningText(request.header.request_no))?;
        if issued.parsed.expires_at_ms <= now {
            let expires_at_ms = issued.parsed.expires_at_ms;
            texts.remove(&text_key);
            return Err(
                Rejection::Signing(omnibus_core::signing::SigningError::Expired {
                    expires_at_ms,
                    now_ms: now,
                })
                .into(),
            );
        }
        issued
            .parsed
            .check_matches(request)
            .map_err(Rejection::Signing)?;
        if signed.cert_serial != key.cert_serial {
            return Err(Rejection::UnknownCertificate {
                given: signed.cert_serial,
            }
            .into());
        }
        self.keys
            .verify(
                &issued.text,
                &signed.signature,
                &key.public_key,
                key.cert_serial,
            )
            .map_err(Rejection::Signing)?;
        Ok(SignedInstruction {
            text: issued.text.clone(),
            signature: signed.signature,
            key,
        })
    }

    /// The issued text of an accepted request is used up: it never serves another.
    pub(super) fn use_text(&self, customer: CustomerId, request_no: RequestNo) {
        self.texts.borrow_mut().remove(&(customer, request_no));
    }
}

/// S7: the authentication server confirms the key before anything is accepted; then the
/// request starts (or, if another submission of it was accepted meanwhile, it is answered
/// as a resubmission). Counted among the flows in flight while the server is asked.
pub(super) fn authenticate_then_start(
    ctx: &Rc<Instruments>,
    submission: Submission,
    received_ms: u64,
    accepted: Accepted,
    instruction: SignedInstruction,
    reply: Reply<Outcome>,
) {
    let (customer, request_no) = (submission.customer(), submission.request_no());
    let ctx = ctx.clone();
    let timeout = Duration::from_millis(ctx.saga.config().rails.authentication.timeout_ms);
    let check = ctx.authentication.key_valid(instruction.key);
    ctx.saga.flow_started();
    actix::spawn(async move {
        let verdict = tokio::time::timeout(timeout, check).await;
        ctx.saga.flow_ended();
        match verdict {
            Ok(Ok(true)) => {
                // Another submission of the same request may have been accepted
                // while the key was checked; it is then answered as a resubmission.
                let accepted_meanwhile = ctx
                    .ledger
                    .borrow()
                    .books()
                    .request(customer, request_no)
                    .is_some();
                if accepted_meanwhile {
                    super::submit(&ctx, submission, received_ms, reply);
                } else {
                    super::start(&ctx, accepted, Default::default(), Some(instruction), reply);
                }
            }
            Ok(Ok(false)) => reply.send(Err(
                Rejection::KeyNotValid(instruction.key.cert_serial).into()
            )),
            Ok(Err(e)) => reply.send(Err(
                Rejection::AuthenticationUnavailable(e.to_string()).into()
            )),
            Err(_) => reply.send(Err(Rejection::AuthenticationUnavailable(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))
            .into())),
        }
    });
}

/// The payment instruction to the financial company server (PI).
pub(super) fn instruct(
    rails: &Rails,
    id: RailRequestId,
    entry: &LogEntry,
    request: &RequestState,
    live: Option<&Live>,
) -> Option<RailFuture<RailResult>> {
    // The signed text lives only in memory: a payment instruction is made
    // once, live. After a restart its entry is confirmed, never re-sent.
    let signed = live?.get::<SignedInstruction>()?;
    let payee = request.accepted.payee?;
    Some(rails.financial_company.instruct(PaymentInstruction {
        id,
        customer: entry.customer,
        request_date: request.accepted.request_date,
        request_no: entry.request_no,
        amount: entry.amount,
        payee,
        original_text: signed.text.clone(),
        signature: signed.signature,
        certificate: signed.key,
    }))
}
