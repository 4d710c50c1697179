//! `payment_log` on the payer's shard (INSTRUMENTS.md §6.2, §6.5): a direct card
//! payment's authorization (steps 2–9 of the fixed order on the card, on the card's own
//! thread, so that two payments of one card are judged one after the other), and the
//! payment's records. The sale that moves the money is a request of the payer's, started
//! by the engine once the authorization is durable (`engine/payments.rs`).

use actix::{Context, Handler};
use omnibus_core::ledger::BooksError;
use omnibus_core::payments::controls::{authorize, Authorizing, Funds, Secret, SecretEffect};
use omnibus_core::payments::payment::PaymentState;
use omnibus_core::payments::prepaid_card::{CardStatus, PrepaidCard};
use omnibus_core::payments::secret::{PinVerifier, SecretCheck};
use omnibus_core::payments::DeclineCode;
use omnibus_core::record::{ActorId, LedgerRecord};
use rust_decimal::prelude::ToPrimitive;

use super::protocol::{AuthorizeCardPayment, CardUse, PaymentQuery, RecordPayment};
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;

impl Handler<AuthorizeCardPayment> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: AuthorizeCardPayment, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let mut ledger = self.ledger.borrow_mut();
        // The payment, and the card if the password changed its counters.
        if let Err(e) = ledger.admit(2, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        let Some((customer, seq)) = msg.payment.card else {
            msg.reply.send(Err(EngineError::Internal(
                "a card payment without its card".into(),
            )));
            return;
        };
        let Some(held) = books.card(customer, seq).cloned() else {
            msg.reply.send(Err(BooksError::UnknownCard {
                customer,
                card: seq,
            }
            .into()));
            return;
        };
        let owner_tradable = books
            .customer(customer)
            .is_some_and(|c| c.tradable && c.subscription_valid);
        let card = &held.card;
        let id = card.instrument_id();
        let check = match msg.mode {
            // Checked at the checkout (D-5.17): right, and nothing to reseal.
            CardUse::ConfirmedCheckout => SecretCheck::Right { resealed: None },
            CardUse::Direct | CardUse::ConfirmCheckout => msg.keys.pin.check(
                &card.password,
                &id.bytes(),
                msg.password.expose().as_bytes(),
            ),
        };
        let secret = Secret::from(check);
        let available = match msg.mode {
            // A checkout confirms the card and its password (steps 2, 2a, 3); the funds
            // are judged when the merchant pays it (b8).
            CardUse::ConfirmCheckout => u64::MAX,
            _ => (held.pocket.balance - held.pocket.held)
                .to_u64()
                .unwrap_or(0),
        };
        let verdict = authorize(
            &Authorizing {
                status: card.status_at(msg.ask.at_ms).instrument(),
                owner_tradable,
                controls: &PrepaidCard::controls(),
                counters: &card.counters(),
                sale_max_krw: Some(msg.sale_max_krw),
            },
            secret,
            &msg.ask,
            Funds {
                available_krw: available,
                // The full-amount rule (D-5.8): no top-up, no partial approval.
                top_up_krw: 0,
            },
        );
        // What the password's check does to the card: counted, locked, reset, or
        // resealed under the current key.
        let mut changed = card.clone();
        match verdict.secret {
            SecretEffect::Wrong { locks } => {
                changed.failed_password_count = changed.failed_password_count.saturating_add(1);
                if locks {
                    changed.status = CardStatus::Locked;
                }
            }
            SecretEffect::Reset => changed.failed_password_count = 0,
            SecretEffect::Unchanged => {}
        }
        if let (
            SecretCheck::Right {
                resealed: Some(new),
            },
            Ok(_),
        ) = (check, verdict.outcome)
        {
            changed.password = new;
        }
        let mut payment = msg.payment;
        payment.id = books.next_payment_id();
        payment.version = 1;
        match verdict.outcome {
            Ok(_) => {
                payment.state = PaymentState::Requested;
                payment.sale = Some(payment.id.sale_request_no());
            }
            Err(code) => {
                payment.state = PaymentState::Declined;
                payment.decline = Some(code.byte());
            }
        }
        if changed != *card {
            let record = LedgerRecord::CardSet {
                version: held.version + 1,
                card: changed,
            };
            if let Err(e) = ledger.execute_unwaited(ActorId::Customer(customer), &record) {
                msg.reply.send(Err(e));
                return;
            }
        }
        if msg.mode == CardUse::ConfirmCheckout {
            // No payment yet: the verdict, once the card's counters are durable.
            let reply = msg.reply;
            ledger.after_durable(Box::new(move |durable| {
                reply.send(durable.map(|()| payment))
            }));
            return;
        }
        let record = LedgerRecord::PaymentSet {
            payment: payment.clone(),
        };
        if let Err(e) = ledger.execute_unwaited(ActorId::Shard, &record) {
            msg.reply.send(Err(e));
            return;
        }
        if payment.state == PaymentState::Declined {
            tracing::info!(
                payment = %payment.id,
                code = %payment.decline_code().unwrap_or(DeclineCode::FundingFailed),
                "card payment declined"
            );
        }
        // A decline is answered once it is durable. An authorization is answered at once:
        // its sale comes next in this same log, and the sale's first call waits for its
        // entry to be durable, so nothing goes out before this record is (the log is
        // written in order). One group commit less per payment.
        let reply = msg.reply;
        if payment.state == PaymentState::Requested {
            reply.send(Ok(payment));
        } else {
            ledger.after_durable(Box::new(move |durable| {
                reply.send(durable.map(|()| payment))
            }));
        }
    }
}

impl Handler<RecordPayment> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RecordPayment, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let mut ledger = self.ledger.borrow_mut();
        // The payment, and a division account's counters it changes.
        if let Err(e) = ledger.admit(2, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        if msg.unless_sale_asked {
            let books = ledger.books();
            let asked = msg
                .payment
                .card
                .zip(msg.payment.sale)
                .is_some_and(|((payer, _), no)| {
                    books.request(payer, no).is_some()
                        || ledger
                            .archive()
                            .is_some_and(|a| a.get_of(payer, no).ok().flatten().is_some())
                });
            if asked {
                let on_record = books.payment(msg.payment.id).cloned();
                let reply = msg.reply;
                match on_record {
                    Some(p) => ledger
                        .after_durable(Box::new(move |durable| reply.send(durable.map(|()| p)))),
                    None => reply.send(Err(EngineError::Internal(
                        "a payment to decline is not on record".into(),
                    ))),
                }
                return;
            }
        }
        let mut payment = msg.payment;
        if msg.new_id {
            payment.id = ledger.books().next_payment_id();
            payment.version = 1;
        }
        let held = match crate::instruments::record_payment(&mut ledger, payment) {
            Ok(held) => held,
            Err(e) => {
                msg.reply.send(Err(e));
                return;
            }
        };
        let reply = msg.reply;
        if msg.fixed {
            // What it says is fixed by what is durable already (see `RecordPayment`).
            reply.send(Ok(held));
        } else {
            ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| held))));
        }
    }
}

impl Handler<PaymentQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: PaymentQuery, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let payment = ledger.books().payment(msg.id).cloned();
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| payment))
        }));
    }
}
