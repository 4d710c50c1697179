//! Division accounts of seed 001(a) (INSTRUMENTS.md §1): a master's issue of one account
//! per slave (I1–I4), the slave's activation (I5), the master's changes (F3), and the
//! credential index a payment finds an account by (§6.2 step 2). The rules are the core's
//! (`omnibus_core::payments::division`); the records are written on the master's shard
//! (`shard/divisions.rs`); a payment with `instrument: {type: "division", number, pin}`
//! goes through `payments.rs`.
//!
//! The bank's check of the paying account at issue (I2) and the mobile identity check at
//! activation (I5) are rails (`BankFirm::verify_account`, `IdentityCheck`).

use dashmap::DashMap;
use omnibus_core::ids::CardSeq;
use omnibus_core::ids::PayeeName;
use omnibus_core::ledger::{DivisionEntry, MerchantEntry};
use omnibus_core::payments::controls::Ask;
use omnibus_core::payments::division::{
    DivisionAction, DivisionControls, DivisionId, DivisionNumber, Slave,
};
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::{PayerKind, PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{PaymentRequest, SecretText};
use omnibus_core::payments::secret::CredentialIndex;
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::request_log::Told;
use omnibus_core::saga::Reason;
use omnibus_core::{AccountNo, BankCode, ChargeRequest, CustomerId};
use rand::Rng;

use super::payments::{declined, requested};
use super::Engine;
use crate::error::EngineError;
use crate::rails::{AccountInquiry, AccountVerdict, IdentityClaim};
use crate::shard::RecordPayment;
use crate::shard::{
    ActivateDivision, ChangeDivision, ChangeDivisionPin, DivisionAuthorizations, DivisionQuery,
    IssueDivisions, NewDivision,
};

/// The division accounts by the keyed hash of their numbers.
pub(super) type DivisionDirectory = DashMap<CredentialIndex, DivisionId>;

/// Tries at drawing a free number before an issue is refused.
const NUMBER_TRIES: usize = 16;

/// One slave's division account as the master asks for it (I1).
#[derive(Clone, Debug)]
pub struct DivisionApplication {
    pub slave: Slave,
    pub controls: DivisionControls,
    /// Top a short balance up from the master's linked account (D-1.2; not built yet).
    pub auto_top_up: bool,
}

/// A master's request for division accounts (I1): the paying account, which must be the
/// master's linked account (D-1.2), its holder's name as the master gives it (the bank
/// checks it at I2), and one application per slave.
#[derive(Clone, Debug)]
pub struct DivisionIssue {
    pub bank: BankCode,
    pub account_no: AccountNo,
    pub holder_name: PayeeName,
    pub slaves: Vec<DivisionApplication>,
}

/// A division account just issued (I4): its number and activation code, shown to the
/// master this once. The master never learns a PIN.
#[derive(Clone, Debug)]
pub struct IssuedDivision {
    pub entry: DivisionEntry,
    pub number: DivisionNumber,
    pub activation_code: SecretText,
}

impl Engine {
    /// Issues one division account per slave to `master` (I1, I3, I4): all or none, each
    /// PENDING_ACTIVATION with a fresh `DA-` number and an 8-digit activation code valid
    /// 72 hours. Refused `OWNER_NOT_TRADABLE`, `TOO_MANY_INSTRUMENTS`, `CONTROLS_INVALID`,
    /// `GUARDIAN_CONSENT_REQUIRED`, `INVALID_REQUEST`, with nothing created.
    pub async fn issue_division_accounts(
        &self,
        master: CustomerId,
        issue: DivisionIssue,
    ) -> Result<Vec<IssuedDivision>, EngineError> {
        let DivisionIssue {
            bank,
            account_no,
            holder_name,
            slaves,
        } = issue;
        if slaves.is_empty() {
            return Err(EngineError::refusal(
                RefusalCode::InvalidRequest,
                "slaves: at least one",
            ));
        }
        let config = &self.inner.config.payments;
        let max = usize::from(config.divisions_per_master_max);
        if slaves.len() > max {
            return Err(EngineError::refusal(
                RefusalCode::TooManyInstruments,
                format!(
                    "{} slaves; payments.divisions_per_master_max is {max}",
                    slaves.len()
                ),
            ));
        }
        // I1 on the master's shard, nothing written; then I2, the bank; then I3 (which
        // checks I1 again: the master may have changed meanwhile).
        self.ask(self.shard_of(master), |reply| IssueDivisions {
            master,
            linked: (bank, account_no),
            slaves: slaves
                .iter()
                .map(|a| NewDivision {
                    number: DivisionNumber::from_payload([0; 12]),
                    activation_code: SecretText::new(String::new()),
                    slave: a.slave.clone(),
                    controls: a.controls.clone(),
                    auto_top_up: a.auto_top_up,
                })
                .collect(),
            check_only: true,
            max: config.divisions_per_master_max,
            sale_max_krw: config.sale_max_krw,
            keys: self.inner.payment_keys.clone(),
            reply,
        })
        .await?;
        self.verify_paying_account(master, bank, account_no, &holder_name)
            .await?;
        let mut numbers: Vec<(DivisionNumber, CredentialIndex)> = Vec::with_capacity(slaves.len());
        for _ in &slaves {
            match self.new_division_number() {
                Ok(drawn) => numbers.push(drawn),
                Err(e) => {
                    for (_, index) in numbers {
                        self.inner.divisions.remove(&index);
                    }
                    return Err(e);
                }
            }
        }
        let new: Vec<NewDivision> = slaves
            .into_iter()
            .zip(&numbers)
            .map(|(a, (number, _))| NewDivision {
                number: *number,
                activation_code: activation_code(),
                slave: a.slave,
                controls: a.controls,
                auto_top_up: a.auto_top_up,
            })
            .collect();
        let codes: Vec<SecretText> = new.iter().map(|n| n.activation_code.clone()).collect();
        let issued = self
            .ask(self.shard_of(master), |reply| IssueDivisions {
                master,
                linked: (bank, account_no),
                slaves: new,
                check_only: false,
                max: config.divisions_per_master_max,
                sale_max_krw: config.sale_max_krw,
                keys: self.inner.payment_keys.clone(),
                reply,
            })
            .await;
        match issued {
            Ok(entries) => {
                let mut answer = Vec::with_capacity(entries.len());
                for ((entry, (number, index)), code) in entries.into_iter().zip(numbers).zip(codes)
                {
                    self.inner
                        .divisions
                        .insert(index, entry.account.instrument_id());
                    tracing::info!(account = %entry.account.instrument_id(), number = %entry.account.masked(), "division account issued");
                    answer.push(IssuedDivision {
                        entry,
                        number,
                        activation_code: code,
                    });
                }
                Ok(answer)
            }
            Err(e) => {
                // Not issued, or not known to be (a storage failure): the numbers are not
                // handed out; a restart rebuilds the index from what is on record.
                for (_, index) in numbers {
                    self.inner.divisions.remove(&index);
                }
                Err(e)
            }
        }
    }

    /// I2: `BS.verify_account` at the master's bank, within the bank's timeout. Refused
    /// `HOLDER_MISMATCH`, `ACCOUNT_NOT_VERIFIED` (closed or unknown), `RAIL_UNAVAILABLE`
    /// (no answer in time, or an error: "try later"). A read-only inquiry: it moves
    /// nothing and is never confirmed, so it is not a request-log entry (as the S7 key
    /// check is not); it is logged here, before and after.
    async fn verify_paying_account(
        &self,
        master: CustomerId,
        bank: BankCode,
        account: AccountNo,
        holder_name: &PayeeName,
    ) -> Result<(), EngineError> {
        let timeout =
            std::time::Duration::from_millis(self.inner.config.rails.bank_firm.timeout_ms);
        tracing::info!(%master, %bank, "BS.verify_account asked");
        let asked = self.inner.rails.bank_firm.verify_account(AccountInquiry {
            bank,
            account,
            holder_name: holder_name.to_string(),
        });
        let refused = |code, why: String| Err(EngineError::refusal(code, why));
        let answer = tokio::time::timeout(timeout, asked).await;
        tracing::info!(%master, %bank, answer = ?answer.as_ref().map(|a| a.as_ref().map_err(|e| e.system)), "BS.verify_account answered");
        match answer {
            Ok(Ok(AccountVerdict::Verified)) => Ok(()),
            Ok(Ok(AccountVerdict::HolderMismatch)) => refused(
                RefusalCode::HolderMismatch,
                format!("bank {bank} holds the account in another name than {holder_name}"),
            ),
            Ok(Ok(AccountVerdict::NotOpen)) => refused(
                RefusalCode::AccountNotVerified,
                format!("bank {bank} reports the account closed or unknown"),
            ),
            // The bank's own error text may name the account: not echoed.
            Ok(Err(_)) => refused(
                RefusalCode::RailUnavailable,
                format!("bank {bank} could not verify the account; try later"),
            ),
            Err(_) => refused(
                RefusalCode::RailUnavailable,
                format!(
                    "bank {bank} did not answer within {} ms; try later",
                    timeout.as_millis()
                ),
            ),
        }
    }

    /// A fresh number, reserved in the credential index.
    fn new_division_number(&self) -> Result<(DivisionNumber, CredentialIndex), EngineError> {
        let mut rng = rand::rng();
        for _ in 0..NUMBER_TRIES {
            let mut payload = [0u8; 12];
            for d in &mut payload {
                *d = rng.random_range(0..10);
            }
            let number = DivisionNumber::from_payload(payload);
            let index = self
                .inner
                .payment_keys
                .index
                .index(number.ascii().as_bytes());
            // Reserved now with a placeholder; replaced by the account once written.
            let placeholder = DivisionId {
                master: CustomerId::new(u64::MAX >> 1).expect("a valid customer number"),
                seq: CardSeq(0),
            };
            if let dashmap::Entry::Vacant(slot) = self.inner.divisions.entry(index) {
                slot.insert(placeholder);
                return Ok((number, index));
            }
        }
        Err(EngineError::refusal(
            RefusalCode::IssueRefused,
            format!("no free division number after {NUMBER_TRIES} tries"),
        ))
    }

    /// The credential index of a number, if it is a division number.
    fn division_index(&self, number: &str) -> Option<CredentialIndex> {
        let number = DivisionNumber::parse(number).ok()?;
        Some(
            self.inner
                .payment_keys
                .index
                .index(number.ascii().as_bytes()),
        )
    }

    /// The division account a credential index names, if any (an issue in progress is not
    /// one yet).
    fn division_at(&self, index: &CredentialIndex) -> Option<DivisionId> {
        self.inner
            .divisions
            .get(index)
            .map(|d| *d)
            .filter(|d| d.seq.0 != 0)
    }

    /// The division account a number names, if any (an issue in progress is not one yet).
    pub(super) fn division_by_number(&self, number: &str) -> Option<DivisionId> {
        self.division_at(&self.division_index(number)?)
    }

    /// A master's division accounts, in the order issued (numbers masked: only their last
    /// 4 digits are kept).
    pub async fn division_accounts(
        &self,
        master: CustomerId,
    ) -> Result<Vec<DivisionEntry>, EngineError> {
        self.ask(self.shard_of(master), |reply| DivisionQuery {
            master,
            seq: None,
            reply,
        })
        .await
    }

    /// One division account; `NOT_FOUND` if there is none.
    pub async fn division_account(&self, id: DivisionId) -> Result<DivisionEntry, EngineError> {
        self.ask(self.shard_of(id.master), |reply| DivisionQuery {
            master: id.master,
            seq: Some(id.seq),
            reply,
        })
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            EngineError::refusal(RefusalCode::NotFound, format!("no division account {id}"))
        })
    }

    /// The slave's activation (I5, D-1.12): the number, the activation code, the identity
    /// the mobile check found, and a new 6-digit PIN. ACTIVE after it. Refused
    /// `ACTIVATION_CODE_INVALID` (a wrong, expired or void code; the fifth wrong code voids
    /// it), `IDENTITY_CHECK_FAILED` (the identity check's provider does not vouch for the
    /// phone's holder, or the identity is not the one the master gave), `INVALID_REQUEST`
    /// (a PIN not 6 digits), `RAIL_UNAVAILABLE` (the identity check did not answer: not
    /// counted); an unknown number is `ACTIVATION_CODE_INVALID` too, so that numbers
    /// cannot be probed.
    pub async fn activate_division(
        &self,
        number: &str,
        code: SecretText,
        identity: Slave,
        pin: SecretText,
    ) -> Result<DivisionEntry, EngineError> {
        let Some(id) = self.division_by_number(number) else {
            return Err(EngineError::refusal(
                RefusalCode::ActivationCodeInvalid,
                "no such division number, or a wrong code",
            ));
        };
        let identity_verified = self.check_identity(&identity).await?;
        self.ask(self.shard_of(id.master), |reply| ActivateDivision {
            id,
            code,
            identity,
            identity_verified,
            pin,
            keys: self.inner.payment_keys.clone(),
            reply,
        })
        .await
    }

    /// The mobile identity check (D-1.6, D-1.12) at its provider: whether the phone is held
    /// by the person claimed. Within the authentication server's timeout
    /// (`rails.authentication.timeout_ms`; the two are identity services); no answer or an
    /// error is refused `RAIL_UNAVAILABLE`, not counted against the code.
    async fn check_identity(&self, identity: &Slave) -> Result<bool, EngineError> {
        let timeout =
            std::time::Duration::from_millis(self.inner.config.rails.authentication.timeout_ms);
        let b = identity.birth_date;
        let claim = IdentityClaim {
            name: identity.name.to_string(),
            birth_date: format!("{:04}-{:02}-{:02}", b.year, b.month, b.day),
            phone: identity.phone.clone(),
        };
        match tokio::time::timeout(timeout, self.inner.rails.identity.check(claim)).await {
            Ok(Ok(verified)) => Ok(verified),
            Ok(Err(e)) => Err(EngineError::refusal(
                RefusalCode::RailUnavailable,
                format!("the identity check could not answer ({e}); try later"),
            )),
            Err(_) => Err(EngineError::refusal(
                RefusalCode::RailUnavailable,
                format!(
                    "the identity check did not answer within {} ms; try later",
                    timeout.as_millis()
                ),
            )),
        }
    }

    /// The master's change of a division account (F3): a status action and/or new
    /// controls. A PIN reset answers the new activation code for the master. Refused
    /// `INVALID_STATE` for an action the status does not allow, `CONTROLS_INVALID`.
    pub async fn change_division(
        &self,
        id: DivisionId,
        action: Option<DivisionAction>,
        controls: Option<DivisionControls>,
    ) -> Result<(DivisionEntry, Option<SecretText>), EngineError> {
        let new_code = (action == Some(DivisionAction::ResetPin)).then(activation_code);
        let config = &self.inner.config.payments;
        let entry = self
            .ask(self.shard_of(id.master), |reply| ChangeDivision {
                id,
                action,
                new_code: new_code.clone(),
                controls,
                sale_max_krw: config.sale_max_krw,
                keys: self.inner.payment_keys.clone(),
                reply,
            })
            .await?;
        Ok((entry, new_code))
    }

    /// The slave's change of their own PIN (F3), with the current one. Refused
    /// `WRONG_SECRET` (counted: the fifth wrong PIN in a row locks the account, as at a
    /// payment), `LOCKED`, `INVALID_STATE` (not active), `INVALID_REQUEST` (not 6 digits).
    pub async fn change_division_pin(
        &self,
        id: DivisionId,
        current: SecretText,
        new: SecretText,
    ) -> Result<DivisionEntry, EngineError> {
        self.ask(self.shard_of(id.master), |reply| ChangeDivisionPin {
            id,
            current,
            new,
            keys: self.inner.payment_keys.clone(),
            reply,
        })
        .await
    }

    /// A division account's authorizations (§1.7), approved and declined, newest first,
    /// at most `limit` (`payments.authorizations_list_max` at most). `NOT_FOUND` if there
    /// is no such account.
    pub async fn division_authorizations(
        &self,
        id: DivisionId,
        limit: usize,
    ) -> Result<Vec<PaymentEntry>, EngineError> {
        let limit = limit.min(usize::from(
            self.inner.config.payments.authorizations_list_max,
        ));
        self.ask(self.shard_of(id.master), |reply| DivisionAuthorizations {
            id,
            limit,
            reply,
        })
        .await
    }

    /// A division payment (§1.3 F2): steps 0 and 1 here, steps 2–9 and the budget's
    /// reservation on the master's shard, then the sale from the master's balance.
    pub(super) async fn pay_by_division(
        &self,
        request: &PaymentRequest,
        merchant: &MerchantEntry,
        number: &str,
        pin: SecretText,
    ) -> Result<PaymentEntry, EngineError> {
        // The number's keyed index, computed once: the fingerprint's and the lookup's.
        let index = self.division_index(number);
        // The PIN is not part of the fingerprint (E9).
        let fingerprint = request.fingerprint(&[index]).0;
        let key = (merchant.no, request.merchant_request_no);
        if let Some(id) = self.claim_payment_key(key).await? {
            return self.replay(id, fingerprint).await;
        }
        let now = self.now_ms();
        let mut payment = requested(request, merchant.no, fingerprint, now, PayerKind::Division);
        let division = index.as_ref().and_then(|i| self.division_at(i));
        let recorded = match (
            merchant
                .merchant
                .admits(InstrumentType::Division, request.terminal),
            division,
        ) {
            (Err(code), _) => self
                .record_new(self.key_shard(&key), declined(payment, code))
                .await
                .map(|p| (p, 0)),
            (Ok(()), None) => self
                .record_new(
                    self.key_shard(&key),
                    declined(payment, DeclineCode::InvalidCredential),
                )
                .await
                .map(|p| (p, 0)),
            (Ok(()), Some(id)) => {
                payment.card = Some((id.master, id.seq));
                let ask = Ask {
                    merchant: merchant.merchant.id,
                    merchant_category: merchant.merchant.category,
                    terminal: request.terminal,
                    region: request.region,
                    purpose: None,
                    amount_krw: request.amount_krw,
                    at_ms: now,
                };
                self.ask(self.shard_of(id.master), |reply| {
                    crate::shard::AuthorizeDivisionPayment {
                        payment,
                        pin,
                        ask,
                        sale_max_krw: self.inner.config.payments.sale_max_krw,
                        keys: self.inner.payment_keys.clone(),
                        reply,
                    }
                })
                .await
            }
        };
        self.settle_payment_key(key, recorded.as_ref().ok().map(|(p, _)| p.id));
        let (recorded, top_up_krw) = recorded?;
        if recorded.state != PaymentState::Requested {
            return Ok(recorded);
        }
        if top_up_krw > 0 {
            if let Some(code) = self.top_up_master(&recorded, top_up_krw).await {
                // The sale is never sent: the budget's reservation is released with the
                // answer (the top-up charge goes on by itself, its money staying in the
                // master's balance if it completes).
                let mut done = recorded;
                done.version += 1;
                done.state = PaymentState::Declined;
                done.decline = Some(code.byte());
                // Written only if no resubmission asked the sale meanwhile (on the shard,
                // where a sale is accepted): else the sale decides the payment.
                let now = self
                    .ask(done.id.shard(), |reply| RecordPayment {
                        payment: done,
                        new_id: false,
                        fixed: false,
                        unless_sale_asked: true,
                        reply,
                    })
                    .await?;
                if now.state != PaymentState::Requested {
                    return Ok(now);
                }
                return self.complete(now).await;
            }
        }
        self.complete(recorded).await
    }

    /// Step 9 with `auto_top_up` (D-1.2, E5, E6): the master's deficit charged from its
    /// linked account by a charge of its own, `TU-<payment id>` (the SPEC §3 deficit
    /// charge, with its own SPEC §4 outcome), before the sale. `None` once it succeeded;
    /// else the payment's decline: `TIMEOUT` if it timed out (its entry stays UNKNOWN
    /// until confirmed, and a withdrawal found done is credited to the master's balance),
    /// `FUNDING_FAILED` otherwise.
    async fn top_up_master(&self, payment: &PaymentEntry, deficit_krw: u64) -> Option<DeclineCode> {
        let header = match self.payment_header(
            payment,
            payment.id.top_up_request_no(),
            deficit_krw,
            payment.created_at_ms,
        ) {
            Ok(header) => header,
            Err(e) => {
                tracing::warn!(payment = %payment.id, error = %e, "a top-up could not be asked");
                return Some(DeclineCode::FundingFailed);
            }
        };
        match self.charge(ChargeRequest { header }).await {
            Ok(outcome) if outcome.told == Told::Succeeded => None,
            Ok(outcome) if outcome.timed_out || outcome.reason == Reason::Timeout => {
                Some(DeclineCode::Timeout)
            }
            Ok(_) => Some(DeclineCode::FundingFailed),
            Err(e) => {
                tracing::warn!(payment = %payment.id, error = %e, "a top-up was refused");
                Some(DeclineCode::FundingFailed)
            }
        }
    }
}

/// A fresh 8-digit activation code (D-1.12).
fn activation_code() -> SecretText {
    let code: u32 = rand::rng().random_range(0..100_000_000);
    SecretText::new(format!("{code:08}"))
}
