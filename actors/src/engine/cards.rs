//! Prepaid cards of seed 004 (INSTRUMENTS.md §5; docs/payments.md): issuing one under the
//! configured IIN (a1–a5), reading one, the owner's reveal of its number (D-5.2), and the
//! credential index (§6.2) that finds a card by its number.
//!
//! The credential index is the engine's map from `HMAC(index_key, number)` to the card
//! (its owner, hence its shard): rebuilt from the shards at start, and given a number
//! before the card is written, so that two cards never share one.

use dashmap::DashMap;
use omnibus_core::ids::CardName;
use omnibus_core::ledger::CardEntry;
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::payments::prepaid_card::{CardAction, CardId};
use omnibus_core::payments::secret::CredentialIndex;
use omnibus_core::payments::RefusalCode;
use omnibus_core::CustomerId;
use rand::Rng;

use super::Engine;
use crate::error::EngineError;
use crate::shard::{CardQuery, ChangeCard, IssueCard};

/// How many random serials an issue tries before it gives up (each one taken already):
/// with a 9-digit serial space this only happens when it is nearly full.
const SERIAL_TRIES: usize = 16;

/// The credential index (§6.2): a card's number, as its keyed hash, to the card.
pub(super) type CardDirectory = DashMap<CredentialIndex, CardId>;

/// What a prepaid card's issue asks for (FIG. 3): its name, its 4-digit password, whether
/// a physical card is wanted, whether each use is reported by e-mail.
#[derive(Clone, Debug)]
pub struct CardApplication {
    pub name: CardName,
    pub password: SecretText,
    pub physical: bool,
    pub notify_by_email: bool,
}

impl Engine {
    /// Issues a prepaid card to `customer` (a1–a5): a 16-digit number under
    /// `payments.card_iin` with a random serial and a Luhn check digit, ACTIVE, its pocket
    /// at zero. Only its last 4 digits are in the answer; [`Engine::reveal_prepaid_card`]
    /// is the one way to the full number. The password must be 4 digits (FIG. 3).
    pub async fn issue_prepaid_card(
        &self,
        customer: CustomerId,
        application: CardApplication,
    ) -> Result<CardEntry, EngineError> {
        let password = application.password.expose();
        if password.len() != 4 || !password.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::refusal(
                RefusalCode::InvalidRequest,
                "card_password: 4 digits",
            ));
        }
        let config = &self.inner.config.payments;
        let keys = self.inner.payment_keys.clone();
        let (number, index) = self.new_card_number(&config.card_iin)?;
        let shard = self.shard_of(customer);
        let issued = self
            .ask(shard, |reply| IssueCard {
                customer,
                name: application.name,
                number,
                password: application.password,
                physical: application.physical,
                notify_by_email: application.notify_by_email,
                cards_max: config.cards_per_customer_max,
                keys,
                reply,
            })
            .await;
        match &issued {
            Ok(entry) => {
                self.inner.cards.insert(index, entry.card.instrument_id());
                tracing::info!(card = %entry.card.instrument_id(), last4 = entry.card.last4(), "prepaid card issued");
            }
            // Not written: the number is free again. (A shard that wrote the card and then
            // failed before it was durable keeps the number reserved until a restart,
            // which rebuilds the index from what is on record.)
            Err(EngineError::Refusal { .. }) | Err(EngineError::Refused(_)) => {
                self.inner.cards.remove(&index);
            }
            Err(_) => {}
        }
        issued
    }

    /// A fresh number under `iin`, reserved in the credential index.
    fn new_card_number(&self, iin: &str) -> Result<(CardNumber, CredentialIndex), EngineError> {
        let mut rng = rand::rng();
        for _ in 0..SERIAL_TRIES {
            let digits = 15 - iin.len() as u32;
            let serial = rng.random_range(0..10u64.pow(digits));
            let number = CardNumber::issue(iin, serial)
                .map_err(|e| EngineError::Internal(format!("card number under {iin}: {e}")))?;
            let index = self.inner.payment_keys.index.index(&number.ascii());
            // Reserved now with a placeholder owner; replaced by the card once written.
            let placeholder = CardId {
                customer: CustomerId::new(u64::MAX >> 1).expect("a valid customer number"),
                seq: omnibus_core::ids::CardSeq(0),
            };
            if let dashmap::Entry::Vacant(slot) = self.inner.cards.entry(index) {
                slot.insert(placeholder);
                return Ok((number, index));
            }
        }
        Err(EngineError::refusal(
            RefusalCode::IssueRefused,
            format!("no free card number under IIN {iin} after {SERIAL_TRIES} tries"),
        ))
    }

    /// A prepaid card as its owner's shard holds it; `NOT_FOUND` if there is none.
    pub async fn prepaid_card(&self, card: CardId) -> Result<CardEntry, EngineError> {
        self.ask(self.shard_of(card.customer), |reply| CardQuery {
            card,
            reply,
        })
        .await?
        .ok_or_else(|| {
            EngineError::refusal(RefusalCode::NotFound, format!("no prepaid card {card}"))
        })
    }

    /// The card's full number, opened from its copy under `data_key`: the one answer that
    /// shows a card to its owner (D-5.2). Never logged.
    pub async fn reveal_prepaid_card(&self, card: CardId) -> Result<CardNumber, EngineError> {
        let entry = self.prepaid_card(card).await?;
        let digits = self
            .inner
            .payment_keys
            .data
            .open_number(&entry.card.number, card.nonce(), &card.bytes())
            .ok_or_else(|| {
                EngineError::Internal(format!(
                    "the number of {card} does not open under the data keys on hand (key id {} retired?)",
                    entry.card.number.kid
                ))
            })?;
        CardNumber::from_ascii(&digits)
            .map_err(|e| EngineError::Internal(format!("the number of {card}: {e}")))
    }

    /// The card a number belongs to, through the credential index; `None` if no card has
    /// it. The number is hashed under the current `index_key`.
    pub fn card_by_number(&self, number: &CardNumber) -> Option<CardId> {
        let index = self.inner.payment_keys.index.index(&number.ascii());
        self.inner
            .cards
            .get(&index)
            .map(|c| *c)
            .filter(|c| c.seq.0 != 0)
    }
}

impl Engine {
    /// A card's statement of the KST day `date` (D-5.10, P7): the notice made at 09:00
    /// the next day, with its delivery, or the day as it stands before that. Refused
    /// `NOT_FOUND` for an unknown card or a day the pocket did not move (or no longer
    /// kept: `omnibus_core::ledger::POCKET_DAYS_KEPT` days).
    pub async fn card_statement(
        &self,
        card: CardId,
        date: omnibus_core::RequestDate,
    ) -> Result<crate::api::CardStatement, EngineError> {
        let (y, m, d) = date.ymd();
        let day = omnibus_core::payments::kst::day_of_date(y, m, d);
        let answer = self
            .ask(self.shard_of(card.customer), |reply| crate::shard::Query {
                kind: crate::shard::QueryKind::CardStatement { card, day },
                reply,
            })
            .await?;
        let crate::shard::QueryAnswer::CardStatement(found) = answer else {
            unreachable!("a statement query answers with a statement");
        };
        found.map(|s| *s).ok_or_else(|| {
            EngineError::refusal(
                RefusalCode::NotFound,
                format!("prepaid card {card} has no statement for {date}: its pocket did not move that day, or the day is no longer kept"),
            )
        })
    }

    /// The owner's change of a card (§5.7 `PATCH`): suspend, resume, unlock (the count of
    /// wrong passwords back to zero), close. Closing moves the pocket's money to the
    /// owner's balance (D-5.13) by a request of the owner's, `PR-<customer>-<seq>`, owed
    /// from its entry on; closing again finishes that if a crash came in between.
    /// Refused `INVALID_STATE` for a change the status does not allow.
    pub async fn change_prepaid_card(
        &self,
        card: CardId,
        action: CardAction,
    ) -> Result<CardEntry, EngineError> {
        let changed = self
            .ask(self.shard_of(card.customer), |reply| ChangeCard {
                card,
                action,
                reply,
            })
            .await?;
        if action != CardAction::Close || changed.pocket.balance.is_zero() {
            return Ok(changed);
        }
        let left = changed.pocket.balance - changed.pocket.held;
        if left > rust_decimal::Decimal::ZERO {
            let header = omnibus_core::RequestHeader {
                customer: card.customer,
                request_date: omnibus_core::RequestDate::from_unix_ms(self.now_ms())
                    .ok_or_else(|| EngineError::Internal("the engine's date".into()))?,
                request_no: omnibus_core::RequestNo::new(&format!(
                    "PR-{}-{}",
                    card.customer, card.seq
                ))
                .map_err(|e| EngineError::Internal(format!("a release's number: {e}")))?,
                amount: omnibus_core::Amount::new(self.inner.config.engine.currency, left)
                    .map_err(|e| EngineError::Internal(format!("a pocket's balance: {e}")))?,
            };
            self.release_pocket(crate::api::PocketChargeRequest {
                header,
                card: card.seq,
            })
            .await?;
        }
        self.prepaid_card(card).await
    }
}
