//! The division accounts of this shard's masters (INSTRUMENTS.md §1; `omnibus_core`
//! `payments/division.rs`, `ledger/divisions.rs`): their issue, the slave's activation,
//! the master's changes, and the slave's change of their own PIN (a payment's
//! authorization is `division_payments.rs`). Every change is one `division_set` record on
//! the master's thread. The PIN and the activation code are sealed here with the keys the
//! engine hands over; only key ids and MACs are written.

use actix::{Context, Handler};
use omnibus_core::ids::CardSeq;
use omnibus_core::ledger::{BooksError, DivisionEntry};
use omnibus_core::payments::division::{
    Activation, ActivationVerdict, DivisionAccount, DivisionAction, DivisionId, DivisionStatus,
};
use omnibus_core::payments::secret::{PinVerifier, SecretCheck};
use omnibus_core::payments::RefusalCode;
use omnibus_core::record::{ActorId, LedgerRecord};

use super::protocol::{
    ActivateDivision, ChangeDivision, ChangeDivisionPin, DivisionQuery, IssueDivisions,
};
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::{Admission, ShardLedger};
use crate::reply::Reply;

/// The bytes an activation code's MAC is bound to: the account's, and its purpose, so
/// that a code's MAC can never pass for a PIN's.
fn activation_binding(id: DivisionId) -> Vec<u8> {
    let mut bytes = id.bytes();
    bytes.extend_from_slice(b"/activation");
    bytes
}

pub(super) fn not_found(id: DivisionId) -> EngineError {
    EngineError::refusal(RefusalCode::NotFound, format!("no division account {id}"))
}

/// The account a change (an activation, the master's change, a PIN change) works on:
/// refused while the shard stops, past its bounds, or for an unknown account.
fn account_to_change(
    stopping: bool,
    ledger: &mut ShardLedger,
    id: DivisionId,
) -> Result<DivisionEntry, EngineError> {
    if stopping {
        return Err(EngineError::ShuttingDown);
    }
    ledger.admit(1, Admission::New)?;
    ledger
        .books()
        .division(id.master, id.seq)
        .cloned()
        .ok_or_else(|| not_found(id))
}

/// A new PIN: `INVALID_REQUEST` unless it is 6 digits (D-1.4).
fn check_new_pin(field: &str, pin: &str) -> Result<(), EngineError> {
    if pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(EngineError::refusal(
            RefusalCode::InvalidRequest,
            format!("{field}: 6 digits"),
        ))
    }
}

/// Writes `account` at the version after `version` and answers it once durable.
fn write_and_answer(
    ledger: &mut ShardLedger,
    version: u32,
    account: DivisionAccount,
    reply: Reply<DivisionEntry>,
) {
    let master = account.master;
    let record = LedgerRecord::DivisionSet {
        version: version + 1,
        account: Box::new(account.clone()),
        payment: None,
    };
    if let Err(e) = ledger.execute_unwaited(ActorId::Customer(master), &record) {
        reply.send(Err(e));
        return;
    }
    let entry = DivisionEntry {
        version: version + 1,
        account,
    };
    ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| entry))));
}

impl Handler<IssueDivisions> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: IssueDivisions, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let now = self.saga.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.admit(msg.slaves.len(), Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        let Some(master) = books.customer(msg.master) else {
            msg.reply
                .send(Err(BooksError::UnknownCustomer(msg.master).into()));
            return;
        };
        // I1: the master may trade (SPEC S31–S33), and pays from its linked account
        // (D-1.2).
        if !(master.tradable && master.subscription_valid) {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::OwnerNotTradable,
                format!("customer {} may not trade", msg.master),
            )));
            return;
        }
        if (master.linked_bank, master.linked_account) != msg.linked {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::AccountNotLinked,
                format!(
                    "{}/{} is not customer {}'s linked account",
                    msg.linked.0, msg.linked.1, msg.master
                ),
            )));
            return;
        }
        // A closed account no longer counts (its number is never reused).
        let held = books
            .divisions_of(msg.master)
            .filter(|d| d.account.status != DivisionStatus::Closed)
            .count();
        if held + msg.slaves.len() > usize::from(msg.max) {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::TooManyInstruments,
                format!(
                    "customer {} holds {held} division accounts; {} more would pass payments.divisions_per_master_max ({})",
                    msg.master,
                    msg.slaves.len(),
                    msg.max
                ),
            )));
            return;
        }
        for new in &msg.slaves {
            let checked = new
                .slave
                .validate(now)
                .and_then(|()| new.controls.validate(msg.sale_max_krw));
            if let Err((code, why)) = checked {
                msg.reply.send(Err(EngineError::refusal(code, why)));
                return;
            }
        }
        if msg.check_only {
            let reply = msg.reply;
            ledger.after_durable(Box::new(move |durable| {
                reply.send(durable.map(|()| Vec::new()))
            }));
            return;
        }
        let first = books
            .divisions_of(msg.master)
            .map(|d| d.account.seq.0)
            .max()
            .unwrap_or(0)
            + 1;
        let keys = &msg.keys;
        let mut issued = Vec::with_capacity(msg.slaves.len());
        for (i, new) in msg.slaves.into_iter().enumerate() {
            let id = DivisionId {
                master: msg.master,
                seq: CardSeq(first + i as u16),
            };
            let account = DivisionAccount {
                master: msg.master,
                seq: id.seq,
                number_index: keys.index.index(new.number.ascii().as_bytes()),
                last4: new.number.last4(),
                slave: new.slave,
                pin: None,
                activation: Some((
                    keys.pin.seal(
                        &activation_binding(id),
                        new.activation_code.expose().as_bytes(),
                    ),
                    Activation::issued_at(now),
                )),
                status: DivisionStatus::PendingActivation,
                controls: new.controls,
                counters: Default::default(),
                auto_top_up: new.auto_top_up,
                issued_at_ms: now,
            };
            let record = LedgerRecord::DivisionSet {
                version: 1,
                account: Box::new(account.clone()),
                payment: None,
            };
            if let Err(e) = ledger.execute_unwaited(ActorId::Customer(msg.master), &record) {
                msg.reply.send(Err(e));
                return;
            }
            issued.push(DivisionEntry {
                version: 1,
                account,
            });
        }
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| issued))
        }));
    }
}

impl Handler<DivisionQuery> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: DivisionQuery, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let found: Vec<DivisionEntry> = ledger
            .books()
            .divisions_of(msg.master)
            .filter(|d| msg.seq.is_none_or(|seq| d.account.seq == seq))
            .cloned()
            .collect();
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| found))));
    }
}

impl Handler<ActivateDivision> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: ActivateDivision, _: &mut Context<Self>) {
        let now = self.saga.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        let id = msg.id;
        let held = match account_to_change(self.stopping.is_some(), &mut ledger, id) {
            Ok(held) => held,
            Err(e) => {
                msg.reply.send(Err(e));
                return;
            }
        };
        let pin = msg.pin.expose();
        if let Err(e) = check_new_pin("pin", pin) {
            msg.reply.send(Err(e));
            return;
        }
        let mut account = held.account.clone();
        let Some((code, activation)) = account.activation else {
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::ActivationCodeInvalid,
                format!("{id}: no activation code outstanding"),
            )));
            return;
        };
        let checked =
            msg.keys
                .pin
                .check(&code, &activation_binding(id), msg.code.expose().as_bytes());
        if checked == SecretCheck::KeyRetired {
            // Sealed under a key retired since: refused, not counted; the master asks
            // for a new code (a PIN reset).
            msg.reply.send(Err(EngineError::refusal(
                RefusalCode::ActivationCodeInvalid,
                format!("{id}: the activation code is under a retired key; the master asks for a new one"),
            )));
            return;
        }
        let code_right = matches!(checked, SecretCheck::Right { .. });
        // The mobile identity check's finding (its provider's verdict on the phone's
        // holder), against what the master gave at I1.
        let s = &account.slave;
        let identity_ok = msg.identity_verified
            && msg.identity.name == s.name
            && msg.identity.birth_date == s.birth_date
            && msg.identity.phone == s.phone;
        match activation.attempt(account.status, code_right, identity_ok, now) {
            ActivationVerdict::Activated => {
                account.status = DivisionStatus::Active;
                account.activation = None;
                account.pin = Some(msg.keys.pin.seal(&id.bytes(), pin.as_bytes()));
                account.counters.failed_secret_count = 0;
                write_and_answer(&mut ledger, held.version, account, msg.reply);
            }
            ActivationVerdict::Refused {
                code: refusal,
                counted,
                voids,
            } => {
                if counted {
                    let mut counted_activation = activation;
                    counted_activation.failed_count += 1;
                    account.activation = Some((code, counted_activation));
                    let record = LedgerRecord::DivisionSet {
                        version: held.version + 1,
                        account: Box::new(account),
                        payment: None,
                    };
                    if let Err(e) = ledger.execute_unwaited(ActorId::Customer(id.master), &record) {
                        msg.reply.send(Err(e));
                        return;
                    }
                }
                let why = if voids {
                    format!("{id}: the activation code is void after five wrong tries; the master asks for a new one")
                } else {
                    format!("{id}: the activation was refused")
                };
                let reply = msg.reply;
                ledger.after_durable(Box::new(move |durable| {
                    reply.send(durable.and_then(|()| Err(EngineError::refusal(refusal, why))))
                }));
            }
        }
    }
}

impl Handler<ChangeDivision> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: ChangeDivision, _: &mut Context<Self>) {
        let now = self.saga.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        let id = msg.id;
        let held = match account_to_change(self.stopping.is_some(), &mut ledger, id) {
            Ok(held) => held,
            Err(e) => {
                msg.reply.send(Err(e));
                return;
            }
        };
        let mut account = held.account.clone();
        if let Some(controls) = msg.controls {
            if let Err((code, why)) = controls.validate(msg.sale_max_krw) {
                msg.reply.send(Err(EngineError::refusal(code, why)));
                return;
            }
            if controls.period != account.controls.period {
                // A period of another kind counts from now on: the number of the old one
                // (a KST day or month) means nothing in the new one (review finding 4).
                account.counters.period = 0;
                account.counters.spent_in_period_krw = 0;
            }
            account.controls = controls;
        }
        if let Some(action) = msg.action {
            match account.status.after(action) {
                // An account the slave never activated has no PIN: resumed, it waits for
                // its activation again, never ACTIVE without one (review finding 5).
                Ok(DivisionStatus::Active) if account.pin.is_none() => {
                    account.status = DivisionStatus::PendingActivation
                }
                Ok(status) => account.status = status,
                Err(why) => {
                    msg.reply.send(Err(EngineError::refusal(
                        RefusalCode::InvalidState,
                        format!("{id}: {why}"),
                    )));
                    return;
                }
            }
            match action {
                DivisionAction::Unlock => account.counters.failed_secret_count = 0,
                DivisionAction::ResetPin => {
                    let Some(code) = &msg.new_code else {
                        msg.reply.send(Err(EngineError::Internal(
                            "a PIN reset without its activation code".into(),
                        )));
                        return;
                    };
                    account.pin = None;
                    account.counters.failed_secret_count = 0;
                    account.activation = Some((
                        msg.keys
                            .pin
                            .seal(&activation_binding(id), code.expose().as_bytes()),
                        Activation::issued_at(now),
                    ));
                }
                _ => {}
            }
        }
        if account == held.account {
            let reply = msg.reply;
            ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| held))));
            return;
        }
        write_and_answer(&mut ledger, held.version, account, msg.reply);
    }
}

impl Handler<ChangeDivisionPin> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: ChangeDivisionPin, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        let id = msg.id;
        let held = match account_to_change(self.stopping.is_some(), &mut ledger, id) {
            Ok(held) => held,
            Err(e) => {
                msg.reply.send(Err(e));
                return;
            }
        };
        let new = msg.new.expose();
        if let Err(e) = check_new_pin("new_pin", new) {
            msg.reply.send(Err(e));
            return;
        }
        let mut account = held.account.clone();
        let refused = |code, why: String| Err(EngineError::refusal(code, format!("{id}: {why}")));
        let (pin, status) = (account.pin, account.status);
        let Some(pin) = pin.filter(|_| status == DivisionStatus::Active) else {
            // Locked, suspended, closed, or not activated: as a payment would be
            // declined at step 2, before the PIN, and not counted.
            let code = if status == DivisionStatus::Locked {
                RefusalCode::Locked
            } else {
                RefusalCode::InvalidState
            };
            msg.reply
                .send(refused(code, format!("the account is {status:?}")));
            return;
        };
        match msg
            .keys
            .pin
            .check(&pin, &id.bytes(), msg.current.expose().as_bytes())
        {
            SecretCheck::Right { .. } => {
                account.pin = Some(msg.keys.pin.seal(&id.bytes(), new.as_bytes()));
                account.counters.failed_secret_count = 0;
                write_and_answer(&mut ledger, held.version, account, msg.reply);
            }
            SecretCheck::KeyRetired => msg.reply.send(refused(
                RefusalCode::InvalidState,
                "the PIN is under a retired key; the master resets it".into(),
            )),
            SecretCheck::Wrong => {
                // Counted as a payment's wrong PIN: five in a row lock the account.
                let locks = account.counters.apply_secret(
                    omnibus_core::payments::controls::SecretEffect::Wrong {
                        locks: account.counters.failed_secret_count + 1
                            >= omnibus_core::payments::controls::WRONG_SECRETS_TO_LOCK,
                    },
                );
                if locks {
                    account.status = DivisionStatus::Locked;
                }
                let record = LedgerRecord::DivisionSet {
                    version: held.version + 1,
                    account: Box::new(account),
                    payment: None,
                };
                if let Err(e) = ledger.execute_unwaited(ActorId::Customer(id.master), &record) {
                    msg.reply.send(Err(e));
                    return;
                }
                let why = if locks {
                    "the current PIN is wrong; the account is LOCKED until the master unlocks it"
                } else {
                    "the current PIN is wrong"
                };
                let answer = refused(RefusalCode::WrongSecret, why.into());
                let reply = msg.reply;
                ledger.after_durable(Box::new(move |durable| reply.send(durable.and(answer))));
            }
        }
    }
}
