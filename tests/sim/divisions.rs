//! The simulation's division accounts (issue 15; INSTRUMENTS.md §1, §6.7): every customer
//! is a master with one division account for a slave (in one customer of two with
//! `auto_top_up`, so that a short balance is charged from the linked account first),
//! issued after the bank's check of the linked account and activated with the slave's
//! PIN. About one operation in eight also pays a merchant by division account (a wrong
//! PIN now and then), refunds or cancels an approved one, or sends a payment again; all
//! under the seed's rail faults and crashes, drawn from a random stream of their own.
//! Once the supervisors are quiescent:
//!
//! - a payment sent again answers what it answered first (idempotent by the merchant's
//!   number, across crashes); every payment tried is sent again, so that one a crash cut
//!   short is completed (§6.7.1);
//! - a payment told APPROVED has its sale done and standing (or paid back by its cancel or
//!   refunds); one told DECLINED moved nothing to the merchant in the end (§6.7.3), and a
//!   top-up made for it stays in the master's balance (the simulation's checks of every
//!   request see the charge `TU-` credited or refunded, never lost);
//! - no won of a payment is paid back twice;
//! - every account's budget holds: nothing is left reserved, and the period's spending is
//!   within the budget (§6.7.4 for division accounts, D-1.9).
//!
//! The requests the payments layer makes (sales `PAY-`, top-ups `TU-`, cancels and refunds)
//! join the simulation's own checks of every request (`engine_made`).

use std::collections::HashMap;

use omnibus_actors::{DivisionApplication, DivisionIssue, Engine, EngineError};
use omnibus_core::ids::{MerchantId, PayeeName, RequestNo, Tag};
use omnibus_core::payments::controls::Period;
use omnibus_core::payments::division::{BirthDate, DivisionControls, DivisionId, Slave};
use omnibus_core::payments::payment::{PayBack, PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{
    InstrumentRef, Leg, NumberText, PaymentRequest, SecretText,
};
use omnibus_core::saga::Settled;
use omnibus_core::CustomerId;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Every slave's PIN.
const PIN: &str = "135790";
/// Every account's monthly budget and cap per payment.
const BUDGET_KRW: u64 = 600_000;
const PER_TX_KRW: u64 = 200_000;

struct Tried {
    request: PaymentRequest,
    /// What it answered first, if it answered.
    first: Option<PaymentEntry>,
    /// The numbers of the legs of its cancels and refunds, every attempt's.
    pay_backs: std::collections::BTreeSet<String>,
}

pub struct Divisions {
    rng: StdRng,
    numbers: HashMap<u64, String>,
    tried: Vec<Tried>,
    /// The requests the payments layer made, for the checks of every request.
    pub engine_made: Vec<String>,
    pub payments: u64,
    pub top_ups: u64,
    pub pay_backs: u64,
}

fn refused_as_expected(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Refusal { .. } | EngineError::Overloaded(_) | EngineError::ShuttingDown
    )
}

fn slave(customer: u64) -> Slave {
    Slave {
        name: PayeeName::new(&format!("SLAVE {customer}")).unwrap(),
        birth_date: BirthDate::parse("1990-06-15").unwrap(),
        phone: format!("010{customer:08}"),
        guardian_consent_at_ms: None,
    }
}

impl Divisions {
    pub fn new(seed: u64) -> Divisions {
        Divisions {
            rng: StdRng::seed_from_u64(seed ^ 0xd1d1_d1d1),
            numbers: HashMap::new(),
            tried: Vec::new(),
            engine_made: Vec::new(),
            payments: 0,
            top_ups: 0,
            pay_backs: 0,
        }
    }

    /// A new customer's division account, issued and activated. A crash that takes the
    /// issue's answer leaves an account whose number nobody learnt: that customer then
    /// has none in the simulation (the number is shown once, at issue).
    pub fn open(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        opened: &omnibus_core::record::CustomerOpened,
        seed: u64,
    ) {
        let customer = opened.customer.get();
        let issue = DivisionIssue {
            bank: opened.linked_bank,
            account_no: opened.linked_account,
            holder_name: PayeeName::new("SIM MASTER").unwrap(),
            slaves: vec![DivisionApplication {
                slave: slave(customer),
                controls: DivisionControls {
                    per_tx_max_krw: Some(PER_TX_KRW),
                    period: Period::Month,
                    period_budget_krw: BUDGET_KRW,
                    valid_from_ms: None,
                    valid_until_ms: None,
                    blocked_categories: Vec::new(),
                    allowed_merchants: Vec::new(),
                },
                auto_top_up: customer % 2 == 0,
            }],
        };
        rt.block_on(async {
            let issued = match engine.issue_division_accounts(opened.customer, issue).await {
                Ok(mut issued) => issued.pop().unwrap(),
                Err(e) if refused_as_expected(&e) => return,
                Err(e) => panic!("seed {seed}: issuing customer {customer}'s division: {e}"),
            };
            let number = issued.number.ascii();
            match engine
                .activate_division(
                    &number,
                    issued.activation_code,
                    slave(customer),
                    SecretText::new(PIN.into()),
                )
                .await
            {
                Ok(_) => {
                    self.numbers.insert(customer, number);
                }
                Err(e) if refused_as_expected(&e) => {}
                Err(e) => panic!("seed {seed}: activating customer {customer}'s division: {e}"),
            }
        });
    }

    /// Maybe a division operation before operation `op_index`.
    pub fn step(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        customers: &[u64],
        merchants: &[&str],
        seed: u64,
        op_index: u64,
    ) {
        if self.rng.random_range(0..8) != 0 {
            return;
        }
        let customer = customers[self.rng.random_range(0..customers.len())];
        let roll = self.rng.random_range(0..10);
        match roll {
            0..=5 => {
                let Some(number) = self.numbers.get(&customer).cloned() else {
                    return;
                };
                let merchant = merchants[self.rng.random_range(0..merchants.len())];
                let pin = if self.rng.random_range(0..10) == 0 {
                    "000000"
                } else {
                    PIN
                };
                let won = self.rng.random_range(1..=PER_TX_KRW + 20_000);
                let request = payment(merchant, &format!("D{seed}-{op_index}"), won, &number, pin);
                self.pay(rt, engine, request, seed);
            }
            6..=8 => {
                let approved: Vec<usize> = (0..self.tried.len())
                    .filter(|i| {
                        self.tried[*i]
                            .first
                            .as_ref()
                            .is_some_and(|p| p.state == PaymentState::Approved)
                    })
                    .collect();
                if approved.is_empty() {
                    return;
                }
                let i = approved[self.rng.random_range(0..approved.len())];
                let first = self.tried[i].first.clone().unwrap();
                let merchant = self.tried[i].request.merchant;
                let attempts = engine.config().payments.pay_back_attempts;
                self.pay_backs += 1;
                if roll == 6 {
                    for leg in [PayBack::Pocket, PayBack::Customer] {
                        for attempt in 0..attempts {
                            let no = first.id.cancel_request_no(leg, attempt).to_string();
                            self.engine_made.push(no.clone());
                            self.tried[i].pay_backs.insert(no);
                        }
                    }
                    match rt.block_on(engine.cancel_payment(merchant, first.id)) {
                        Ok(p) => assert_eq!(p.state, PaymentState::Cancelled, "seed {seed}"),
                        Err(e) if refused_as_expected(&e) => {}
                        Err(e) => panic!("seed {seed}: cancel of {}: {e}", first.id),
                    }
                } else {
                    let no: RequestNo = format!("DR{seed}-{op_index}").parse().unwrap();
                    for leg in [PayBack::Pocket, PayBack::Customer] {
                        for attempt in 0..attempts {
                            let leg_no = first.id.refund_request_no(&no, leg, attempt).to_string();
                            self.engine_made.push(leg_no.clone());
                            self.tried[i].pay_backs.insert(leg_no);
                        }
                    }
                    let won = self.rng.random_range(1..=first.amount_krw);
                    match rt.block_on(engine.refund_payment(merchant, first.id, no, won)) {
                        Ok(p) => assert!(p.refunded_krw <= p.amount_krw, "seed {seed}: {p:?}"),
                        Err(e) if refused_as_expected(&e) => {}
                        Err(e) => panic!("seed {seed}: refund of {}: {e}", first.id),
                    }
                }
            }
            _ => {
                if self.tried.is_empty() {
                    return;
                }
                let i = self.rng.random_range(0..self.tried.len());
                self.again(rt, engine, i, seed);
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
        let first = match rt.block_on(engine.pay(request.clone())) {
            Ok(first) => {
                assert!(
                    matches!(first.state, PaymentState::Approved | PaymentState::Declined),
                    "seed {seed}: a division payment answered {first:?}"
                );
                self.note_made(&first);
                Some(first)
            }
            Err(e) if refused_as_expected(&e) => None,
            Err(e) => panic!("seed {seed}: a division payment: {e}"),
        };
        self.tried.push(Tried {
            request,
            first,
            pay_backs: Default::default(),
        });
    }

    /// The sale and the top-up a payment may have made, for the checks of every request.
    fn note_made(&mut self, p: &PaymentEntry) {
        if let Some(sale) = p.sale {
            let (sale, top_up) = (sale.to_string(), p.id.top_up_request_no().to_string());
            if !self.engine_made.contains(&sale) {
                self.engine_made.push(sale);
                self.engine_made.push(top_up);
                self.top_ups += 1;
            }
        }
    }

    /// Payment `i` sent again: what it answered first, if it answered; its first answer
    /// now if it did not (a crash cut it short).
    fn again(&mut self, rt: &tokio::runtime::Runtime, engine: &Engine, i: usize, seed: u64) {
        let request = self.tried[i].request.clone();
        match rt.block_on(engine.pay(request)) {
            Ok(again) => {
                match &self.tried[i].first {
                    Some(first) => assert_eq!(
                        again.state.answered_approved(),
                        first.state.answered_approved(),
                        "seed {seed}: payment {} sent again answered {again:?}, first {first:?}",
                        first.id
                    ),
                    None => self.tried[i].first = Some(again.clone()),
                }
                self.note_made(&again);
            }
            Err(e) if refused_as_expected(&e) => {}
            Err(e) => panic!("seed {seed}: a division payment sent again: {e}"),
        }
    }

    /// Sends every payment tried again (the ones a crash cut short are completed), before
    /// the supervisors' last passes.
    pub fn finish(&mut self, rt: &tokio::runtime::Runtime, engine: &Engine, seed: u64) {
        for i in 0..self.tried.len() {
            self.again(rt, engine, i, seed);
        }
    }

    /// The checks once the supervisors are quiescent (see the module's notes); `settled`
    /// is where each request on record ended.
    pub fn check(
        &self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        settled: &std::collections::BTreeMap<String, Settled>,
        seed: u64,
    ) {
        for t in &self.tried {
            let Some(first) = &t.first else { continue };
            let now = rt.block_on(engine.payment(first.id)).unwrap();
            assert_ne!(
                now.state,
                PaymentState::Requested,
                "seed {seed}: {} still REQUESTED after it was sent again",
                now.id
            );
            let Some(sale) = first.sale else { continue };
            let ended = settled.get(sale.as_str()).copied();
            if first.state == PaymentState::Approved {
                assert_eq!(
                    ended,
                    Some(Settled::PaidOut),
                    "seed {seed}: division payment {} approved, its sale ended {ended:?}",
                    first.id
                );
            } else {
                assert!(
                    matches!(ended, Some(Settled::NothingMoved | Settled::Refunded) | None),
                    "seed {seed}: division payment {} declined, its sale ended {ended:?}: the merchant kept it",
                    first.id
                );
            }
            let paid_back = super::cards::paid_back(rt, engine, settled, &t.pay_backs);
            assert!(
                now.refunded_krw <= paid_back && paid_back <= now.amount_krw,
                "seed {seed}: division payment {} of {} says {} paid back; its legs paid back {paid_back}",
                now.id,
                now.amount_krw,
                now.refunded_krw
            );
        }
        for customer in self.numbers.keys() {
            let id = DivisionId {
                master: CustomerId::new(*customer).unwrap(),
                seq: omnibus_core::ids::CardSeq(1),
            };
            let account = rt.block_on(engine.division_account(id)).unwrap().account;
            let spent = account
                .counters
                .spent_in(Period::Month, rt.block_on(async { engine.now_ms() }));
            assert_eq!(
                account.counters.reserved_krw, 0,
                "seed {seed}: {id} keeps {} reserved with nothing in flight",
                account.counters.reserved_krw
            );
            assert!(
                spent <= BUDGET_KRW,
                "seed {seed}: {id} spent {spent} of a budget of {BUDGET_KRW}"
            );
        }
    }
}

fn payment(merchant: &str, no: &str, won: u64, number: &str, pin: &str) -> PaymentRequest {
    PaymentRequest {
        merchant: MerchantId::new(merchant).unwrap(),
        terminal: None,
        merchant_request_no: RequestNo::new(no).unwrap(),
        order_no: None,
        amount_krw: won,
        category: Tag::new("books").unwrap(),
        region: None,
        legs: vec![Leg {
            instrument: InstrumentRef::Division {
                number: NumberText::new(number.into()),
                pin: SecretText::new(pin.into()),
            },
            amount_krw: won,
        }],
    }
}
