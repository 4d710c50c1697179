//! Payments of the instruments layer (INSTRUMENTS.md §6.2, §6.4, §6.5; docs/payments.md):
//! `POST /v1/payments` with a direct prepaid card (D-5.18), idempotent by the merchant's
//! request number, and the lookup by that number.
//!
//! A payment goes through the one fixed order of checks:
//! - step 0 here: well formed, and its number new for the merchant (a known number
//!   answers what is on record; other fields under it are refused `IDEMPOTENCY_CONFLICT`);
//! - step 1 here: the merchant is active and accepts the type;
//! - step 2 here: the number resolves through the credential index;
//! - steps 2–9 on the card's shard thread (`shard/payments.rs`), ending with the
//!   full-amount rule (D-5.8);
//!
//! then the payment is on record REQUESTED and its money leg, a sale from the card's
//! pocket, runs as a request of the payer's; its answer makes the payment APPROVED or
//! DECLINED (`TIMEOUT` when the sale timed out: D-0.2, a reversal follows if it was done).
//! A decline at any step is on record under the merchant's number too, so that a retry
//! gets it again.
//!
//! The directory of merchants' numbers is in memory, rebuilt from every shard's
//! `payment_log` at start, like the request registry. It grows with the payments kept;
//! moving settled payments out of memory, as issue 13 did for requests, is not built yet.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use omnibus_core::ids::{MerchantId, MerchantNo};
use omnibus_core::ledger::MerchantEntry;
use omnibus_core::payments::controls::Ask;
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::{PayerKind, PaymentEntry, PaymentId, PaymentState};
use omnibus_core::payments::payment_request::{InstrumentRef, PaymentRequest, SecretText};
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::request_log::Told;
use omnibus_core::{Amount, RequestDate, RequestHeader, RequestNo};
use rust_decimal::Decimal;

use super::Engine;
use crate::api::SaleRequest;
use crate::error::EngineError;
use crate::shard::{AuthorizeCardPayment, CardUse, PaymentQuery, RecordPayment};

/// Where a merchant's request number stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeySlot {
    /// A submission under it is being authorized now.
    InFlight,
    Known(PaymentId),
}

/// Payments by (merchant, merchant's request number).
pub(super) type PaymentDirectory = DashMap<(MerchantNo, RequestNo), KeySlot>;

/// The directory from every payment on record.
pub(super) fn directory<'a>(payments: impl Iterator<Item = &'a PaymentEntry>) -> PaymentDirectory {
    payments
        .map(|p| ((p.merchant, p.merchant_request_no), KeySlot::Known(p.id)))
        .collect()
}

/// How long a second submission under a number waits for the first one's authorization
/// before it is refused `OVERLOADED` (a retry then finds the first one's outcome).
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);

/// A payment as step 0 takes it: REQUESTED under a number just claimed, not yet
/// authorized (its id, payer and sale come with the authorization).
pub(super) fn requested(
    request: &PaymentRequest,
    merchant: MerchantNo,
    fingerprint: [u8; 32],
    now_ms: u64,
    payer: PayerKind,
) -> PaymentEntry {
    PaymentEntry {
        id: PaymentId(0),
        version: 1,
        merchant,
        merchant_request_no: request.merchant_request_no,
        order_no: request.order_no,
        fingerprint,
        amount_krw: request.amount_krw,
        card: None,
        state: PaymentState::Requested,
        decline: None,
        sale: None,
        created_at_ms: now_ms,
        approved_at_ms: 0,
        refunded_krw: 0,
        refunds: Vec::new(),
        payer,
    }
}

/// `payment` DECLINED with `code`, moving nothing.
pub(super) fn declined(mut payment: PaymentEntry, code: DeclineCode) -> PaymentEntry {
    payment.state = PaymentState::Declined;
    payment.decline = Some(code.byte());
    payment
}

impl Engine {
    /// The engine's clock, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The shard that records a decline reached before a payer was known: one chosen by
    /// the merchant's number, so that its retry finds it.
    pub(super) fn key_shard(&self, key: &(MerchantNo, RequestNo)) -> u16 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % u64::from(self.shard_count())) as u16
    }

    /// A merchant's payment (`POST /v1/payments`): APPROVED, or DECLINED with its
    /// `DeclineCode`, as on record (see the module's notes). Refused (nothing recorded):
    /// `INVALID_REQUEST` for a malformed request or an instrument type not built yet,
    /// `NOT_FOUND` for an unknown merchant, `IDEMPOTENCY_CONFLICT` for other fields under
    /// a known number.
    ///
    /// Carried out to its end even if the caller stops waiting (an HTTP client that hangs
    /// up): its number is claimed until the payment is on record, and a claim left behind
    /// would hold every retry under the number off.
    pub async fn pay(&self, request: PaymentRequest) -> Result<PaymentEntry, EngineError> {
        let engine = self.clone();
        tokio::spawn(async move { engine.pay_to_the_end(request).await })
            .await
            .map_err(|e| EngineError::Internal(format!("a payment's task: {e}")))?
    }

    async fn pay_to_the_end(&self, request: PaymentRequest) -> Result<PaymentEntry, EngineError> {
        request
            .validate()
            .map_err(|e| EngineError::refusal(RefusalCode::InvalidRequest, e.to_string()))?;
        let merchant = self.merchant(request.merchant).ok_or_else(|| {
            EngineError::refusal(
                RefusalCode::NotFound,
                format!("no merchant {}", request.merchant),
            )
        })?;
        let [leg] = request.legs.as_slice() else {
            return Err(EngineError::refusal(
                RefusalCode::InvalidRequest,
                "legs: one instrument per payment (split tender and group payment come with seeds 002 and 003)",
            ));
        };
        if let InstrumentRef::Division { number, pin } = &leg.instrument {
            return self
                .pay_by_division(&request, &merchant, number.reveal(), pin.clone())
                .await;
        }
        // The card: by its number and password (D-5.18), or by a wallet checkout the member
        // confirmed with the card's password (flow B, D-5.17).
        let (index, password, checkout_id) = match &leg.instrument {
            InstrumentRef::PrepaidCard { number, password } => (
                Some(self.inner.payment_keys.index.index(&number.ascii())),
                password.clone(),
                None,
            ),
            InstrumentRef::Wallet { checkout_id } => (
                None,
                SecretText::new(String::new()),
                Some(checkout_id.clone()),
            ),
            other => {
                return Err(EngineError::refusal(
                    RefusalCode::InvalidRequest,
                    format!(
                    "instrument: type {} is not built yet; prepaid_card, wallet and division are",
                    other.kind().as_str()
                ),
                ))
            }
        };
        let fingerprint = request.fingerprint(&[index]).0;
        let key = (merchant.no, request.merchant_request_no);
        // Step 0: the number, claimed, or answered from the record.
        if let Some(id) = self.claim_payment_key(key).await? {
            return self.replay(id, fingerprint).await;
        }
        let new = requested(
            &request,
            merchant.no,
            fingerprint,
            self.now_ms(),
            PayerKind::PrepaidCard,
        );
        // A checkout is used up here, once the number is claimed: a resubmission was
        // answered above, from the record.
        let (card, itype, mode) = match &checkout_id {
            None => (
                index.and_then(|i| self.inner.cards.get(&i).map(|c| *c)),
                InstrumentType::PrepaidCard,
                CardUse::Direct,
            ),
            Some(id) => (
                self.take_checkout(id, request.merchant, request.amount_krw)
                    .map(|c| c.card),
                InstrumentType::Wallet,
                CardUse::ConfirmedCheckout,
            ),
        };
        let recorded = self
            .authorize_card(&request, &merchant, new, (card, itype, mode), &password)
            .await;
        self.settle_payment_key(key, recorded.as_ref().ok().map(|p| p.id));
        let recorded = recorded?;
        if recorded.state == PaymentState::Requested {
            self.complete(recorded).await
        } else {
            Ok(recorded)
        }
    }

    /// A merchant's number: `Some(id)` when a payment is on record under it; `None` when
    /// it was free and is now claimed by the caller, who must then settle it
    /// ([`Self::settle_payment_key`]). A number another submission holds is waited for.
    pub(super) async fn claim_payment_key(
        &self,
        key: (MerchantNo, RequestNo),
    ) -> Result<Option<PaymentId>, EngineError> {
        let started = std::time::Instant::now();
        loop {
            match self.inner.payment_keys_seen.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(KeySlot::InFlight);
                    return Ok(None);
                }
                Entry::Occupied(slot) => match *slot.get() {
                    KeySlot::Known(id) => return Ok(Some(id)),
                    KeySlot::InFlight => {
                        drop(slot);
                        if started.elapsed() > IN_FLIGHT_WAIT {
                            return Err(EngineError::refusal(
                                RefusalCode::Overloaded,
                                format!("{} is being authorized; ask again", key.1),
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                },
            }
        }
    }

    /// Ends a claim: the payment now on record under the number, or the number free again
    /// when nothing was recorded.
    pub(super) fn settle_payment_key(&self, key: (MerchantNo, RequestNo), id: Option<PaymentId>) {
        match id {
            Some(id) => {
                self.inner.payment_keys_seen.insert(key, KeySlot::Known(id));
            }
            None => {
                self.inner.payment_keys_seen.remove(&key);
            }
        }
    }

    /// Steps 1 and 2 here, 2–9 on the card's shard; the payment on record, DECLINED or
    /// REQUESTED.
    async fn authorize_card(
        &self,
        request: &PaymentRequest,
        merchant: &MerchantEntry,
        mut payment: PaymentEntry,
        (card, itype, mode): (Option<CardId>, InstrumentType, CardUse),
        password: &SecretText,
    ) -> Result<PaymentEntry, EngineError> {
        if let Err(code) = merchant.merchant.admits(itype, request.terminal) {
            let shard = self.key_shard(&(payment.merchant, payment.merchant_request_no));
            return self.record_new(shard, declined(payment, code)).await;
        }
        // Seq 0: a number reserved by an issue in progress, not a card yet.
        let card = card.filter(|c| c.seq.0 != 0);
        let Some(card) = card else {
            let shard = self.key_shard(&(payment.merchant, payment.merchant_request_no));
            return self
                .record_new(shard, declined(payment, DeclineCode::InvalidCredential))
                .await;
        };
        payment.card = Some((card.customer, card.seq));
        let ask = Ask {
            merchant: merchant.merchant.id,
            merchant_category: merchant.merchant.category,
            terminal: request.terminal,
            region: request.region,
            purpose: None,
            amount_krw: request.amount_krw,
            at_ms: payment.created_at_ms,
        };
        let keys = self.inner.payment_keys.clone();
        let sale_max_krw = self.inner.config.payments.sale_max_krw;
        let password = password.clone();
        self.ask(self.shard_of(card.customer), |reply| AuthorizeCardPayment {
            payment,
            password,
            ask,
            sale_max_krw,
            keys,
            mode,
            reply,
        })
        .await
    }

    /// A wallet checkout's confirmation (b5, D-5.17): steps 2, 2a and 3 of §6.2 on the
    /// card, its password checked and counted on the card's shard. `Some(code)`: refused.
    pub(super) async fn confirm_card(
        &self,
        card: CardId,
        merchant: &MerchantEntry,
        amount_krw: u64,
        password: SecretText,
        now: u64,
    ) -> Result<Option<DeclineCode>, EngineError> {
        let payment = PaymentEntry {
            id: PaymentId(0),
            version: 0,
            merchant: merchant.no,
            merchant_request_no: RequestNo::new("CHECKOUT").expect("well formed"),
            order_no: None,
            fingerprint: [0; 32],
            amount_krw,
            card: Some((card.customer, card.seq)),
            state: PaymentState::Requested,
            decline: None,
            sale: None,
            created_at_ms: now,
            approved_at_ms: 0,
            refunded_krw: 0,
            refunds: Vec::new(),
            payer: omnibus_core::payments::payment::PayerKind::PrepaidCard,
        };
        let ask = Ask {
            merchant: merchant.merchant.id,
            merchant_category: merchant.merchant.category,
            terminal: None,
            region: None,
            purpose: None,
            amount_krw,
            at_ms: now,
        };
        let keys = self.inner.payment_keys.clone();
        let sale_max_krw = self.inner.config.payments.sale_max_krw;
        let judged = self
            .ask(self.shard_of(card.customer), |reply| AuthorizeCardPayment {
                payment,
                password,
                ask,
                sale_max_krw,
                keys,
                mode: CardUse::ConfirmCheckout,
                reply,
            })
            .await?;
        Ok(judged.decline_code())
    }

    pub(super) async fn record_new(
        &self,
        shard: u16,
        payment: PaymentEntry,
    ) -> Result<PaymentEntry, EngineError> {
        self.ask(shard, |reply| RecordPayment {
            payment,
            new_id: true,
            fixed: false,
            unless_sale_asked: false,
            reply,
        })
        .await
    }

    /// The money leg of an authorized payment: its sale (a request of the payer's,
    /// idempotent by its number, so asking again after a crash or a timeout of the
    /// caller answers the same), then the payment APPROVED or DECLINED on record.
    pub(super) async fn complete(
        &self,
        payment: PaymentEntry,
    ) -> Result<PaymentEntry, EngineError> {
        let (Some((_, card)), Some(sale)) = (payment.card, payment.sale) else {
            return Ok(payment);
        };
        let outcome = match self
            .sale(SaleRequest {
                header: self.payment_header(
                    &payment,
                    sale,
                    payment.amount_krw,
                    payment.created_at_ms,
                )?,
                merchant: payment.merchant,
                // A division account pays from its master's balance (D-1.2).
                pocket: (payment.payer == PayerKind::PrepaidCard).then_some(card),
            })
            .await
        {
            Ok(outcome) => outcome,
            Err(e) => {
                // Finished meanwhile by the supervisors (`supervisors/payments.rs`), whose
                // decline refuses the sale from then on: the payment as it stands.
                if let Ok(now) = self.payment(payment.id).await {
                    if now.state != PaymentState::Requested {
                        return Ok(now);
                    }
                }
                return Err(e);
            }
        };
        let mut done = payment.clone();
        done.version += 1;
        match outcome.told {
            Told::Succeeded => {
                done.state = PaymentState::Approved;
                done.approved_at_ms = self.now_ms();
            }
            Told::Failed => {
                done.state = PaymentState::Declined;
                done.decline = Some(
                    crate::instruments::sale_decline(outcome.reason, outcome.timed_out).byte(),
                );
            }
        }
        let shard = payment.id.shard();
        // The sale's answer is durable: it fixes the payment's (a crash before this record
        // is durable leaves the payment REQUESTED, completed again from its sale).
        self.ask(shard, |reply| RecordPayment {
            payment: done,
            new_id: false,
            fixed: true,
            unless_sale_asked: false,
            reply,
        })
        .await
    }

    /// The header of a request of the payer's made for a payment (its sale, a cancel's or refund's
    /// legs), dated `at_ms`.
    pub(super) fn payment_header(
        &self,
        payment: &PaymentEntry,
        request_no: RequestNo,
        won: u64,
        at_ms: u64,
    ) -> Result<RequestHeader, EngineError> {
        let (customer, _) = payment
            .card
            .ok_or_else(|| EngineError::Internal(format!("{} has no payer", payment.id)))?;
        let amount =
            Amount::new(self.inner.config.engine.currency, Decimal::from(won)).map_err(|e| {
                EngineError::refusal(RefusalCode::InvalidRequest, format!("amount_krw: {e}"))
            })?;
        let request_date = RequestDate::from_unix_ms(at_ms)
            .ok_or_else(|| EngineError::Internal("the engine's date".into()))?;
        Ok(RequestHeader {
            customer,
            request_date,
            request_no,
            amount,
        })
    }

    /// A known number submitted again: the payment on record if the fields are the same
    /// (one still REQUESTED is completed first), else `IDEMPOTENCY_CONFLICT`.
    pub(super) async fn replay(
        &self,
        id: PaymentId,
        fingerprint: [u8; 32],
    ) -> Result<PaymentEntry, EngineError> {
        let payment = self.payment(id).await?;
        if super::cancels::is_cancelled_before_arrival(&payment) {
            // The merchant cancelled the number before this arrived (§6.4).
            return Ok(payment);
        }
        if payment.fingerprint != fingerprint {
            return Err(EngineError::refusal(
                RefusalCode::IdempotencyConflict,
                format!(
                    "merchant_request_no {} is on record with other fields",
                    payment.merchant_request_no
                ),
            ));
        }
        if payment.state == PaymentState::Requested {
            return self.complete(payment).await;
        }
        Ok(payment)
    }

    /// A payment by id; `NOT_FOUND` if none.
    pub async fn payment(&self, id: PaymentId) -> Result<PaymentEntry, EngineError> {
        if id.shard() >= self.shard_count() {
            return Err(EngineError::refusal(
                RefusalCode::NotFound,
                format!("no payment {id}"),
            ));
        }
        self.ask(id.shard(), |reply| PaymentQuery { id, reply })
            .await?
            .ok_or_else(|| EngineError::refusal(RefusalCode::NotFound, format!("no payment {id}")))
    }

    /// A merchant's payment by its own request number (§6.4, the lookup after its client
    /// timed out); `NOT_FOUND` if no such request arrived. One still being authorized is
    /// waited for.
    pub async fn payment_by_request(
        &self,
        merchant: MerchantId,
        merchant_request_no: RequestNo,
    ) -> Result<PaymentEntry, EngineError> {
        let not_found = || {
            EngineError::refusal(
                RefusalCode::NotFound,
                format!("merchant {merchant} sent no request {merchant_request_no}"),
            )
        };
        let no = self.merchant(merchant).ok_or_else(not_found)?.no;
        let started = std::time::Instant::now();
        loop {
            let slot = self
                .inner
                .payment_keys_seen
                .get(&(no, merchant_request_no))
                .map(|s| *s);
            match slot {
                None => return Err(not_found()),
                Some(KeySlot::Known(id)) => {
                    let payment = self.payment(id).await?;
                    if payment.state == PaymentState::Requested {
                        return self.complete(payment).await;
                    }
                    return Ok(payment);
                }
                Some(KeySlot::InFlight) if started.elapsed() > IN_FLIGHT_WAIT => {
                    return Err(EngineError::refusal(
                        RefusalCode::Overloaded,
                        format!("{merchant_request_no} is being authorized; ask again"),
                    ))
                }
                Some(KeySlot::InFlight) => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }
}
