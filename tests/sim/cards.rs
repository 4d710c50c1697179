//! The simulation's card payments (issue 14; INSTRUMENTS.md §5, §6.4, §6.7): every
//! customer gets a prepaid card; about one operation in six also fills a pocket from the
//! balance or the linked bank account, pays a merchant by card (a wrong password now and then), cancels or refunds
//! an approved payment, or sends a payment again; all under the seed's rail faults and
//! crashes, drawn from a random stream of their own. In one seed of four the first
//! customer is also a member (login password hashed with argon2id, which is why not
//! more): half of its card payments go through flow B, a wallet session (logged in again
//! after a restart ends it, a wrong password now and then) and a checkout confirmed with
//! the card's password, which the merchant then pays with `wallet {checkout_id}`. Once
//! the supervisors are quiescent:
//!
//! - a payment sent again answers what it answered first (idempotent by the merchant's
//!   number, across crashes);
//! - a payment told APPROVED has its sale done and standing (or paid back by its cancel
//!   or refunds); one told DECLINED moved nothing to the merchant in the end (§6.7.3);
//! - a cancel's and a refund's requests all ended done: their money is the payer's;
//! - every pocket is never below zero, never above its cap (§6.7.6), and the same in the
//!   engine's books and at the securities firm; a closed card's release ended done.
//!
//! The requests the payments layer makes (sales `PAY-`, cancels `CX-`/`CY-`, refunds
//! `RP`/`RC`) join the simulation's own checks of every request (`engine_made`).

use std::collections::HashMap;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{CardApplication, Engine, EngineError};
use omnibus_core::ids::{CardName, CardSeq, MemberId, MerchantId, RequestNo, Tag};
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::payment::{PayBack, PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{InstrumentRef, Leg, PaymentRequest, SecretText};
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::saga::Settled;
use omnibus_core::{AccountId, CustomerId};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The cap of every pocket in the simulation (`payments.pocket_balance_cap_krw`).
pub const POCKET_CAP: i64 = 400_000;

/// What a card operation asks of the simulation's own machinery: a pocket charge, which
/// goes through its submissions (told, duplicates, crashes) like any request.
pub struct PocketCharge {
    pub customer: u64,
    pub won: i64,
    /// From the linked bank account (a charge whose A2 credits the pocket, D-5.7), or
    /// from the balance.
    pub from_linked: bool,
}

struct Paid {
    request: PaymentRequest,
    first: PaymentEntry,
    /// The numbers of the legs of its cancels and refunds, every attempt's (a cancel asked
    /// again names the same).
    pay_backs: std::collections::BTreeSet<String>,
}

pub struct Cards {
    rng: StdRng,
    numbers: HashMap<u64, CardNumber>,
    paid: Vec<Paid>,
    /// The requests the payments layer made, for the checks of every request.
    pub engine_made: Vec<String>,
    pub payments: u64,
    pub cancels: u64,
    pub refunds: u64,
    /// Suspends, resumes, unlocks and closes asked.
    pub changes: u64,
    /// The member (of the first customer, one seed in four), and its session if any.
    member: Option<(u64, MemberId)>,
    session: Option<String>,
    /// Card payments through a wallet checkout (counted in `payments` too).
    pub wallet_payments: u64,
}

/// The member's login password (8 to 12 letters and digits).
const LOGIN: &str = "simPass4827";

fn refused_as_expected(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Refusal { .. } | EngineError::Overloaded(_) | EngineError::ShuttingDown
    )
}

impl Cards {
    pub fn new(seed: u64) -> Cards {
        Cards {
            rng: StdRng::seed_from_u64(seed ^ 0xca2d_ca2d),
            numbers: HashMap::new(),
            paid: Vec::new(),
            engine_made: Vec::new(),
            payments: 0,
            cancels: 0,
            refunds: 0,
            changes: 0,
            member: None,
            session: None,
            wallet_payments: 0,
        }
    }

    /// A new customer's card (password 4827).
    pub fn open(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        customer: u64,
        seed: u64,
    ) {
        let c = CustomerId::new(customer).unwrap();
        rt.block_on(async {
            let issued = engine
                .issue_prepaid_card(
                    c,
                    CardApplication {
                        name: CardName::new("SIM").unwrap(),
                        password: SecretText::new("4827".into()),
                        physical: false,
                        notify_by_email: false,
                    },
                )
                .await;
            match issued {
                Ok(_) => {}
                // Already issued before a crash took the answer: it is on record.
                Err(e) if refused_as_expected(&e) => {}
                Err(e) => panic!("seed {seed}: issuing customer {customer}'s card: {e}"),
            }
            if let Ok(number) = engine
                .reveal_prepaid_card(CardId {
                    customer: c,
                    seq: CardSeq(1),
                })
                .await
            {
                self.numbers.insert(customer, number);
            }
            if seed % 4 == 0 && self.member.is_none() {
                let id = MemberId::new(&format!("sim{customer:05}")).unwrap();
                match engine.create_member(id, LOGIN, c).await {
                    Ok(_) => {}
                    Err(e) if refused_as_expected(&e) => {}
                    Err(e) => panic!("seed {seed}: member of customer {customer}: {e}"),
                }
                self.member = Some((customer, id));
            }
        });
    }

    /// The member's wallet session: the one it has, or a new login (a wrong password one
    /// time in ten, counted toward its lock). `None` when the login is refused.
    fn session(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        seed: u64,
    ) -> Option<String> {
        let (_, id) = self.member?;
        if let Some(token) = &self.session {
            return Some(token.clone());
        }
        let password = if self.rng.random_range(0..10) == 0 {
            "wrongPass1"
        } else {
            LOGIN
        };
        match rt.block_on(engine.login(id, password)) {
            Ok(session) => {
                self.session = Some(session.token.clone());
                Some(session.token)
            }
            Err(e) if refused_as_expected(&e) => None,
            Err(e) => panic!("seed {seed}: login of {id}: {e}"),
        }
    }

    /// Flow B: a checkout confirmed with the card's password in the member's session,
    /// which the merchant pays. A session a restart ended is logged in again next time.
    fn pay_by_wallet(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        mut request: PaymentRequest,
        password: &str,
        seed: u64,
    ) {
        let Some(session) = self.session(rt, engine, seed) else {
            return;
        };
        let checkout = rt.block_on(engine.checkout(
            &session,
            request.merchant,
            request.amount_krw,
            None,
            SecretText::new(password.into()),
        ));
        match checkout {
            Ok(checkout) => {
                request.legs[0].instrument = InstrumentRef::Wallet {
                    checkout_id: checkout.checkout_id,
                };
                let before = self.paid.len();
                self.pay(rt, engine, request, seed);
                self.wallet_payments += (self.paid.len() > before) as u64;
            }
            Err(EngineError::Refusal {
                code: omnibus_core::payments::RefusalCode::NotFound,
                ..
            }) => self.session = None,
            Err(e) if refused_as_expected(&e) => {}
            Err(e) => panic!("seed {seed}: a checkout: {e}"),
        }
    }

    /// Maybe a card operation before operation `op_index`: a pocket charge is handed back
    /// to the simulation's submissions; the others are carried out here.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        customers: &[u64],
        merchants: &[&str],
        seed: u64,
        op_index: u64,
    ) -> Option<PocketCharge> {
        if self.rng.random_range(0..6) != 0 {
            return None;
        }
        let mut customer = customers[self.rng.random_range(0..customers.len())];
        // The member, if any, does one card operation in three.
        if let Some((member, _)) = self.member {
            if self.rng.random_range(0..3) == 0 {
                customer = member;
            }
        }
        let roll = self.rng.random_range(0..10);
        match roll {
            0..=3 => Some(PocketCharge {
                customer,
                won: self.rng.random_range(1..=200_000),
                from_linked: roll == 3,
            }),
            4..=6 => {
                let number = *self.numbers.get(&customer)?;
                let merchant = merchants[self.rng.random_range(0..merchants.len())];
                let password = if self.rng.random_range(0..10) == 0 {
                    "0000"
                } else {
                    "4827"
                };
                let won = self.rng.random_range(1..=150_000);
                let request = payment(
                    merchant,
                    &format!("M{seed}-{op_index}"),
                    won,
                    number,
                    password,
                );
                // The member pays one card payment in two by its wallet.
                let member = self.member.is_some_and(|(c, _)| c == customer);
                if member && self.rng.random_range(0..2) == 0 {
                    self.pay_by_wallet(rt, engine, request, password, seed);
                } else {
                    self.pay(rt, engine, request, seed);
                }
                None
            }
            7 | 8 => {
                let approved: Vec<usize> = (0..self.paid.len())
                    .filter(|i| self.paid[*i].first.state == PaymentState::Approved)
                    .collect();
                if approved.is_empty() {
                    return None;
                }
                let i = approved[self.rng.random_range(0..approved.len())];
                let (id, merchant, amount) = {
                    let p = &self.paid[i];
                    (p.first.id, p.request.merchant, p.first.amount_krw)
                };
                let attempts = engine.config().payments.pay_back_attempts;
                if roll == 7 {
                    self.cancels += 1;
                    for leg in [PayBack::Pocket, PayBack::Customer] {
                        for attempt in 0..attempts {
                            let no = id.cancel_request_no(leg, attempt).to_string();
                            self.engine_made.push(no.clone());
                            self.paid[i].pay_backs.insert(no);
                        }
                    }
                    match rt.block_on(engine.cancel_payment(merchant, id)) {
                        Ok(p) => assert_eq!(p.state, PaymentState::Cancelled, "seed {seed}"),
                        Err(e) if refused_as_expected(&e) => {}
                        Err(e) => panic!("seed {seed}: cancel of {id}: {e}"),
                    }
                } else {
                    self.refunds += 1;
                    let no: RequestNo = format!("RF{seed}-{op_index}").parse().unwrap();
                    for leg in [PayBack::Pocket, PayBack::Customer] {
                        for attempt in 0..attempts {
                            let leg_no = id.refund_request_no(&no, leg, attempt).to_string();
                            self.engine_made.push(leg_no.clone());
                            self.paid[i].pay_backs.insert(leg_no);
                        }
                    }
                    let won = self.rng.random_range(1..=amount);
                    match rt.block_on(engine.refund_payment(merchant, id, no, won)) {
                        Ok(p) => assert!(p.refunded_krw <= p.amount_krw, "seed {seed}: {p:?}"),
                        Err(e) if refused_as_expected(&e) => {}
                        Err(e) => panic!("seed {seed}: refund of {id}: {e}"),
                    }
                }
                None
            }
            _ if self.rng.random_range(0..3) == 0 => {
                // The owner changes the card: mostly suspends and resumes, now and then
                // closes it (its pocket back to the balance, `PR-<customer>-1`).
                use omnibus_core::payments::prepaid_card::CardAction;
                let action = match self.rng.random_range(0..10) {
                    0..=3 => CardAction::Suspend,
                    4..=7 => CardAction::Resume,
                    8 => CardAction::Unlock,
                    _ => CardAction::Close,
                };
                self.changes += 1;
                if action == CardAction::Close {
                    self.engine_made.push(format!("PR-{customer}-1"));
                }
                let card = CardId {
                    customer: CustomerId::new(customer).unwrap(),
                    seq: CardSeq(1),
                };
                match rt.block_on(engine.change_prepaid_card(card, action)) {
                    Ok(_) => {}
                    Err(e) if refused_as_expected(&e) => {}
                    Err(e) => panic!("seed {seed}: {action:?} of {card}: {e}"),
                }
                None
            }
            _ => {
                // A payment sent again: what it answered first.
                if self.paid.is_empty() {
                    return None;
                }
                let i = self.rng.random_range(0..self.paid.len());
                let request = self.paid[i].request.clone();
                self.again(rt, engine, i, request, seed);
                None
            }
        }
    }

    fn pay(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        request: PaymentRequest,
        seed: u64,
    ) {
        self.payments += 1;
        match rt.block_on(engine.pay(request.clone())) {
            Ok(first) => {
                if let Some(sale) = first.sale {
                    self.engine_made.push(sale.to_string());
                }
                assert!(
                    matches!(first.state, PaymentState::Approved | PaymentState::Declined),
                    "seed {seed}: a payment answered {first:?}"
                );
                self.paid.push(Paid {
                    request,
                    first,
                    pay_backs: Default::default(),
                });
            }
            Err(e) if refused_as_expected(&e) => {}
            Err(e) => panic!("seed {seed}: a payment: {e}"),
        }
    }

    fn again(
        &self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        i: usize,
        request: PaymentRequest,
        seed: u64,
    ) {
        let first = &self.paid[i].first;
        match rt.block_on(engine.pay(request)) {
            Ok(again) => assert_eq!(
                again.state.answered_approved(),
                first.state.answered_approved(),
                "seed {seed}: payment {} sent again answered {again:?}, first {first:?}",
                first.id
            ),
            Err(e) if refused_as_expected(&e) => {}
            Err(e) => panic!("seed {seed}: payment {} sent again: {e}", first.id),
        }
    }

    /// The checks once the supervisors are quiescent (see the module's notes); `settled`
    /// is where each request on record ended.
    pub fn check(
        &self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        sim: &Simulator,
        settled: &std::collections::BTreeMap<String, Settled>,
        seed: u64,
    ) {
        for (i, p) in self.paid.iter().enumerate() {
            self.again(rt, engine, i, p.request.clone(), seed);
            let now = rt.block_on(engine.payment(p.first.id)).unwrap();
            let Some(sale) = p.first.sale else {
                continue;
            };
            let ended = settled.get(sale.as_str()).copied();
            if p.first.state == PaymentState::Approved {
                assert_eq!(
                    ended,
                    Some(Settled::PaidOut),
                    "seed {seed}: payment {} approved, its sale ended {ended:?}",
                    p.first.id
                );
            } else {
                assert!(
                    matches!(ended, Some(Settled::NothingMoved | Settled::Refunded) | None),
                    "seed {seed}: payment {} declined, its sale ended {ended:?}: the merchant kept it",
                    p.first.id
                );
            }
            // No won of a payment is paid back twice, and every won it says it paid back
            // went back (a cancel or refund cut short by a crash may have paid back part
            // of itself, not yet on the payment).
            let paid_back = paid_back(rt, engine, settled, &p.pay_backs);
            assert!(
                now.refunded_krw <= paid_back && paid_back <= now.amount_krw,
                "seed {seed}: payment {} of {} says {} paid back; its legs paid back {paid_back}",
                now.id,
                now.amount_krw,
                now.refunded_krw
            );
            if now.state == PaymentState::Cancelled {
                // Each leg's number ended refunded, or refused with nothing moved (then
                // asked again under its next attempt's).
                let attempts = engine.config().payments.pay_back_attempts;
                for leg in [PayBack::Pocket, PayBack::Customer] {
                    for attempt in 0..attempts {
                        let no = p.first.id.cancel_request_no(leg, attempt).to_string();
                        if let Some(ended) = settled.get(&no) {
                            assert!(
                                matches!(ended, Settled::Refunded | Settled::NothingMoved),
                                "seed {seed}: cancel {no} of a CANCELLED payment ended {ended:?}"
                            );
                        }
                    }
                }
            }
        }
        let truth = sim.truth();
        for customer in self.numbers.keys() {
            let c = CustomerId::new(*customer).unwrap();
            let pocket = AccountId::pocket(c, CardSeq(1));
            let booked = rt.block_on(engine.account_balance(pocket)).unwrap();
            let at_firm = truth
                .pockets
                .get(&(c, CardSeq(1)))
                .copied()
                .unwrap_or(omnibus_core::Money::zero(booked.currency()));
            assert_eq!(
                booked, at_firm,
                "seed {seed}: {pocket}: engine and firm disagree"
            );
            let release = format!("PR-{customer}-1");
            if let Some(ended) = settled.get(&release) {
                assert_eq!(
                    *ended,
                    Settled::PaidOut,
                    "seed {seed}: {release}, a closed card's release, ended {ended:?}"
                );
            }
            let won: i64 = booked.value().try_into().unwrap();
            assert!(
                (0..=POCKET_CAP).contains(&won),
                "seed {seed}: {pocket} holds {won}, outside 0..={POCKET_CAP}"
            );
        }
    }
}

/// What a payment's cancel and refund legs (`pay_backs`, every attempt's number) paid
/// back: the amounts of those that ended refunded.
pub fn paid_back(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    settled: &std::collections::BTreeMap<String, Settled>,
    pay_backs: &std::collections::BTreeSet<String>,
) -> u64 {
    let mut paid_back = 0u64;
    for no in pay_backs {
        if settled.get(no) == Some(&Settled::Refunded) {
            let view = rt.block_on(engine.request(no.parse().unwrap())).unwrap();
            paid_back += u64::try_from(view.accepted.amount.value()).unwrap();
        }
    }
    paid_back
}

fn payment(
    merchant: &str,
    no: &str,
    won: u64,
    number: CardNumber,
    password: &str,
) -> PaymentRequest {
    PaymentRequest {
        merchant: MerchantId::new(merchant).unwrap(),
        terminal: None,
        merchant_request_no: RequestNo::new(no).unwrap(),
        order_no: None,
        amount_krw: won,
        category: Tag::new("books").unwrap(),
        region: None,
        legs: vec![Leg {
            instrument: InstrumentRef::PrepaidCard {
                number,
                password: SecretText::new(password.into()),
            },
            amount_krw: won,
        }],
    }
}
