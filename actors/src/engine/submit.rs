//! Charges, remittances and payment instructions, one at a time or in batches; each
//! request number is claimed in the engine-wide registry first (`registry.rs`).

use omnibus_core::{ChargeRequest, RemitRequest};

use super::Engine;
use crate::api::{Outcome, SaleRequest, Signed, SigningText, Submission};
use crate::error::EngineError;
use crate::reply::{Collector, Reply};
use crate::shard::{IssueTextRequest, SubmitBatch, SubmitRequest};

impl Engine {
    /// A charge (balance increase, SPEC §3): A1 then A2, answered per the SPEC §4 table.
    pub async fn charge(&self, request: ChargeRequest) -> Result<Outcome, EngineError> {
        self.submit(Submission::Charge(request)).await
    }

    /// A sale (INSTRUMENTS.md §6.3): the customer's balance pays the merchant through
    /// `SS.transfer`, in the customer's shard (the merchant's slice there). Told
    /// `succeeded` when done; `failed` when refused, when the balance is short (nothing
    /// moves), or when it times out (D-0.2: a supervisor confirms it, and reverses it if
    /// it was done). Idempotent by request number, the merchant included.
    pub async fn sale(&self, request: SaleRequest) -> Result<Outcome, EngineError> {
        self.submit(Submission::Sale(request)).await
    }

    /// A prepaid card's charge from the customer's balance (INSTRUMENTS.md D-5.7):
    /// `SS.transfer` `customer[c]` → `pocket[c,card]`. Refused `OVER_BALANCE_CAP` when
    /// the pocket would pass `payments.pocket_balance_cap_krw` (D-5.6), `INVALID_STATE`
    /// for a suspended, closed or expired card. Told `failed` when the balance is short
    /// or the transfer fails or times out (one done after that is reversed). Idempotent by
    /// request number, the card included.
    pub async fn charge_pocket(
        &self,
        request: crate::api::PocketChargeRequest,
    ) -> Result<Outcome, EngineError> {
        self.submit(Submission::PocketCharge(request)).await
    }

    /// A prepaid card's charge from the customer's linked bank account (INSTRUMENTS.md
    /// D-5.7, Charge-to(`pocket[c,card]`)): A1 `linked[c] → withdrawal_firm[bank]`, then A2
    /// `fin_parent → pocket[c,card]`, with every rule of a charge (SPEC §3, §4). Refused
    /// like a charge from the balance (`OVER_BALANCE_CAP`, `INVALID_STATE`); its headroom
    /// under the cap is held from its acceptance until its credit is done or it fails for
    /// good (D-5.6).
    pub async fn fill_pocket(
        &self,
        request: crate::api::PocketChargeRequest,
    ) -> Result<Outcome, EngineError> {
        self.submit(Submission::PocketFill(request)).await
    }

    /// A merchant's cancel paid back to the payer (INSTRUMENTS.md §6.4): `SS.transfer`
    /// `merchant[m]` → the pocket (or the customer's balance). Told `succeeded` when it is
    /// done; retried until it is. Idempotent by request number.
    pub async fn merchant_refund(
        &self,
        request: crate::api::MerchantRefundRequest,
    ) -> Result<Outcome, EngineError> {
        self.submit(Submission::MerchantRefund(request)).await
    }

    /// A closed card's pocket back to its owner (D-5.13): `SS.transfer` `pocket[c,card]` →
    /// `customer[c]`, owed and retried until done (told `succeeded` at its entry).
    pub async fn release_pocket(
        &self,
        request: crate::api::PocketChargeRequest,
    ) -> Result<Outcome, EngineError> {
        self.submit(Submission::PocketRelease(request)).await
    }

    /// A remittance up to the usage limit: SS deduction (X1), then BS deposit (X2), with a
    /// deficit charged first if the balance is short. An amount over the limit is refused
    /// here (`Rejection::SignatureRequired`): use `signing_text` and `remit_signed`.
    pub async fn remit(&self, request: RemitRequest) -> Result<Outcome, EngineError> {
        self.submit(Submission::Remit(request)).await
    }

    /// The transaction original text to sign for an over-limit remittance (S2, S3). It
    /// expires after `signing.original_text_ttl_ms` and serves one submission.
    pub async fn signing_text(&self, request: RemitRequest) -> Result<SigningText, EngineError> {
        let shard = self.shard_of(request.header.customer);
        self.ask(shard, |reply| IssueTextRequest { request, reply })
            .await
    }

    /// An over-limit remittance with the terminal's signature over its issued text (S5):
    /// the key is looked up by certificate serial (S6), confirmed by the authentication
    /// server (S7), and the payment instruction goes to the financial company server.
    pub async fn remit_signed(
        &self,
        request: RemitRequest,
        signed: Signed,
    ) -> Result<Outcome, EngineError> {
        self.submit(Submission::RemitSigned(request, signed)).await
    }

    async fn submit(&self, submission: Submission) -> Result<Outcome, EngineError> {
        let (customer, request_no) = (submission.customer(), submission.request_no());
        let claimed = self.claim(customer, request_no)?;
        let result = self
            .ask(self.shard_of(customer), |reply| SubmitRequest {
                submission,
                reply,
            })
            .await;
        self.release_claim(claimed, customer, request_no, &result);
        result
    }

    /// Many charges and remittances at once: one message per shard, one answer for all,
    /// once each is answered. Each request is still its own flow with its own outcome, in
    /// the order given, exactly as if submitted alone (idempotency included); this only
    /// spares the caller a round trip per request. (A signed remittance's text is fetched
    /// with `signing_text` beforehand, as for `remit_signed`.)
    pub async fn submit_batch(
        &self,
        submissions: Vec<Submission>,
    ) -> Vec<Result<Outcome, EngineError>> {
        let (collector, done) = Collector::new(submissions.len());
        let mut claims = Vec::with_capacity(submissions.len());
        let mut by_shard: Vec<Vec<(usize, Submission)>> = vec![Vec::new(); self.inner.shards.len()];
        for (index, submission) in submissions.into_iter().enumerate() {
            let (customer, request_no) = (submission.customer(), submission.request_no());
            match self.claim(customer, request_no) {
                Ok(claimed) => {
                    claims.push((claimed, customer, request_no));
                    by_shard[self.shard_of(customer) as usize].push((index, submission));
                }
                Err(e) => {
                    claims.push((false, customer, request_no));
                    Reply::Slot(collector.clone(), index).send(Err(e));
                }
            }
        }
        self.send_batches(by_shard, |items| SubmitBatch {
            items,
            collector: collector.clone(),
        });
        drop(collector);
        let results = done.await.unwrap_or_else(|_| {
            claims
                .iter()
                .map(|_| Err(EngineError::ShuttingDown))
                .collect()
        });
        for ((claimed, customer, request_no), result) in claims.iter().zip(&results) {
            self.release_claim(*claimed, *customer, *request_no, result);
        }
        results
    }
}
