//! The prepaid cards of this shard's customers (INSTRUMENTS.md §5; `omnibus_core::ledger`
//! `cards.rs`): issuing one, reading one, and its owner's changes of its status. The card's secrets are sealed here, on the owner's
//! shard thread, with the keys the engine hands over; only key ids and MACs are written.

use actix::{Context, Handler};
use omnibus_core::ids::CardSeq;
use omnibus_core::ledger::BooksError;
use omnibus_core::payments::prepaid_card::{CardAction, CardId, CardStatus, PrepaidCard};
use omnibus_core::payments::secret::PinVerifier;
use omnibus_core::payments::RefusalCode;
use omnibus_core::record::{ActorId, LedgerRecord};

use super::protocol::{CardQuery, ChangeCard, IssueCard};
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;

impl Handler<IssueCard> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: IssueCard, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let now_ms = self.saga.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.admit(1, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        if books.customer(msg.customer).is_none() {
            msg.reply
                .send(Err(BooksError::UnknownCustomer(msg.customer).into()));
            return;
        }
        let held = books.cards_of(msg.customer).count();
        if held >= msg.cards_max as usize {
            msg.reply.send(Err(EngineError::refusal(RefusalCode::IssueRefused, format!(
                    "customer {} holds {held} prepaid cards, the most payments.cards_per_customer_max allows",
                    msg.customer
                ))));
            return;
        }
        let seq = books
            .cards_of(msg.customer)
            .map(|c| c.card.seq.0)
            .max()
            .unwrap_or(0)
            + 1;
        let id = CardId {
            customer: msg.customer,
            seq: CardSeq(seq),
        };
        let digits = msg.number.ascii();
        let keys = &msg.keys;
        let card = PrepaidCard {
            owner: msg.customer,
            seq: id.seq,
            name: msg.name,
            number_index: keys.index.index(&digits),
            last4: digits[12..].try_into().expect("four digits"),
            number: keys.data.seal_number(id.nonce(), &id.bytes(), &digits),
            password: keys.pin.seal(&id.bytes(), msg.password.expose().as_bytes()),
            status: CardStatus::Active,
            failed_password_count: 0,
            physical: msg.physical,
            notify_by_email: msg.notify_by_email,
            issued_at_ms: now_ms,
        };
        let record = LedgerRecord::CardSet {
            version: 1,
            card: card.clone(),
        };
        if let Err(e) = ledger.execute_unwaited(ActorId::Customer(msg.customer), &record) {
            msg.reply.send(Err(e));
            return;
        }
        let entry = ledger
            .books()
            .card(id.customer, id.seq)
            .cloned()
            .expect("just applied");
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| entry))));
    }
}

impl Handler<CardQuery> for ShardActor {
    type Result = ();
    /// Like a read of the customer's balance, it waits while a request of the customer
    /// holds its turn past an early answer: a pocket charge told done reads charged.
    fn handle(&mut self, msg: CardQuery, ctx: &mut Context<Self>) {
        let customer = msg.card.customer;
        let read = move |actor: &mut Self, _: &mut Context<Self>| actor.answer_card(msg);
        if let Err(read) = self.after_turn(customer, read, ctx) {
            read(self, ctx);
        }
    }
}

impl ShardActor {
    fn answer_card(&mut self, msg: CardQuery) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let card = ledger
            .books()
            .card(msg.card.customer, msg.card.seq)
            .cloned();
        let reply = msg.reply;
        // Answered once what it reflects is durable, like every read (`queries.rs`).
        ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| card))));
    }
}

impl Handler<ChangeCard> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: ChangeCard, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.admit(1, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let id = msg.card;
        let Some(held) = ledger.books().card(id.customer, id.seq).cloned() else {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::NotFound,
                format!("no prepaid card {id}"),
            )));
            return;
        };
        let status = match held.card.status.after(msg.action) {
            Ok(status) => status,
            Err(why) => {
                msg.reply.send(Err(EngineError::refusal(
                    RefusalCode::InvalidState,
                    format!("{id}: {why}"),
                )));
                return;
            }
        };
        // A card is closed only with nothing on its way into its pocket: a charge from the
        // bank or a reversal credited after the pocket's release would land in a closed
        // card's pocket (D-5.13).
        let incoming = ledger.books().pocket_incoming(id.customer, id.seq);
        let closing = msg.action == CardAction::Close && held.card.status != status;
        if closing && ledger.books().card_sale_unsettled(id.customer, id.seq) {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::InvalidState,
                format!("{id}: a payment of it is not settled yet; close it once that is done"),
            )));
            return;
        }
        if closing && incoming > rust_decimal::Decimal::ZERO {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::InvalidState,
                format!(
                    "{id}: {} won is on its way into its pocket; close it once that is done",
                    incoming.normalize()
                ),
            )));
            return;
        }
        let mut card = held.card.clone();
        card.status = status;
        if msg.action == CardAction::Unlock {
            card.failed_password_count = 0;
        }
        if card != held.card {
            let record = LedgerRecord::CardSet {
                version: held.version + 1,
                card,
            };
            if let Err(e) = ledger.execute_unwaited(ActorId::Customer(id.customer), &record) {
                msg.reply.send(Err(e));
                return;
            }
        }
        let entry = ledger
            .books()
            .card(id.customer, id.seq)
            .cloned()
            .expect("held");
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| entry))));
    }
}
