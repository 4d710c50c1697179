//! `omnibus-bench payments`: direct prepaid card payments end to end (INSTRUMENTS.md
//! D-5.18): each one runs the fixed order of checks (the merchant, the credential index,
//! the card's status, its password under the keyed MAC, `sale_max_krw`, the full-amount
//! rule), records the payment, then its sale from the pocket on the simulated securities
//! firm, and records the answer. Sync `always`. Figures:
//! - `authorizations_per_sec`: closed loop, `--in-flight` payments outstanding, over
//!   `--cards` cards, zero-latency rails; every payment must be APPROVED.
//! - `authorization_p50_us`, `authorization_p99_us` (p90, p99.9, max, the generator's
//!   send lag): open loop at half that rate, latency from each payment's scheduled send.
//! - `division_authorizations_per_sec`: the same closed loop paid by division accounts
//!   (seed 001(a)): one per customer as master, its slave's PIN under the keyed MAC, the
//!   budget reserved and committed on the master's shard, the sale from the master's
//!   balance (issue 15). Every payment must be APPROVED.

use std::path::PathBuf;

use omnibus_actors::{
    CardApplication, DivisionApplication, DivisionIssue, Engine, EngineError, PocketChargeRequest,
};
use omnibus_core::ids::{CardName, CardSeq, MerchantId, PayeeName, RequestNo, Tag};
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::controls::Period;
use omnibus_core::payments::division::{BirthDate, DivisionControls, Slave};
use omnibus_core::payments::merchant::{
    InstrumentType, InstrumentTypes, Merchant, MerchantStatus, PayoutSchedule,
};
use omnibus_core::payments::payment::PaymentState;
use omnibus_core::payments::payment_request::{
    InstrumentRef, Leg, NumberText, PaymentRequest, SecretText,
};
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountNo, BankCode, ChargeRequest, Currency, CustomerId};

use crate::drive::closed_loop;
use crate::flows::{config, start_with_simulator, today, EngineArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Payments in the closed-loop throughput run.
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Payments outstanding in the closed-loop run.
    #[arg(long, default_value_t = 1_024)]
    in_flight: usize,
    /// Seconds of the open-loop latency run.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Offered rate of the latency run (default: half the measured rate).
    #[arg(long)]
    rate: Option<f64>,
    /// Cards (one per customer) the payments spread over.
    #[arg(long, default_value_t = 2_000)]
    cards: u64,
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Each payment's amount, and what each pocket is filled with.
const PAYMENT_KRW: u64 = 1_000;
const POCKET_KRW: &str = "500000000";
/// Every slave's PIN.
const DIVISION_PIN: &str = "135790";

struct Cards {
    engine: Engine,
    numbers: Vec<CardNumber>,
    run: u64,
}

impl Cards {
    /// Customers 1..=n with 1,000,000,000 each, a card each with its pocket filled, and
    /// merchant m1 taking prepaid cards and division accounts.
    fn prepare(engine: Engine, n: u64, rt: &tokio::runtime::Runtime) -> Result<Cards, String> {
        let date = today();
        let numbers = rt.block_on(async {
            let merchant = Merchant {
                id: MerchantId::new("m1").unwrap(),
                status: MerchantStatus::Active,
                category: Tag::new("books").unwrap(),
                accepts: InstrumentTypes::of(&[
                    InstrumentType::PrepaidCard,
                    InstrumentType::Division,
                ]),
                payout_bank: BankCode::new("004").unwrap(),
                payout_account: AccountNo::new("110-1").unwrap(),
                payout_schedule: PayoutSchedule::Daily,
                payout_reserve_krw: 0,
                terminals: Vec::new(),
            };
            engine
                .onboard_merchant(merchant)
                .await
                .map_err(|e| e.to_string())?;
            let customer = |i: u64| CustomerId::new(i + 1).unwrap();
            closed_loop(n, 256, |i| {
                engine.open_customer(CustomerOpened {
                    customer: customer(i),
                    linked_bank: BankCode::new("004").unwrap(),
                    linked_account: AccountNo::new(&format!("110-{:010}", i + 1)).unwrap(),
                    tradable: true,
                    subscription_valid: true,
                    signing_key: None,
                })
            })
            .await?;
            let header = |i: u64, no: String| {
                ChargeRequest::parse(Currency::Krw, &(i + 1).to_string(), &date, &no, POCKET_KRW)
                    .unwrap()
                    .header
            };
            closed_loop(n, 256, |i| {
                let engine = &engine;
                let header = &header;
                async move {
                    engine
                        .charge(ChargeRequest {
                            header: header(i, format!("FUND-{i}")),
                        })
                        .await?;
                    engine
                        .issue_prepaid_card(
                            customer(i),
                            CardApplication {
                                name: CardName::new("BENCH").unwrap(),
                                password: SecretText::new("4827".into()),
                                physical: false,
                                notify_by_email: false,
                            },
                        )
                        .await?;
                    let filled = engine
                        .charge_pocket(PocketChargeRequest {
                            header: header(i, format!("FILL-{i}")),
                            card: CardSeq(1),
                        })
                        .await?;
                    if filled.told != omnibus_core::request_log::Told::Succeeded {
                        return Err(EngineError::Invalid(format!(
                            "a pocket charge failed: {filled:?}"
                        )));
                    }
                    Ok::<_, EngineError>(())
                }
            })
            .await?;
            let mut numbers = Vec::with_capacity(n as usize);
            for i in 0..n {
                let card = CardId {
                    customer: customer(i),
                    seq: CardSeq(1),
                };
                numbers.push(
                    engine
                        .reveal_prepaid_card(card)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            Ok::<_, String>(numbers)
        })?;
        Ok(Cards {
            engine,
            numbers,
            run: 0,
        })
    }

    /// Each customer issues one division account to a slave (after the bank's check of
    /// its linked account) with a budget far above the run, funds its balance, and the
    /// slave activates it with its PIN. Answers the numbers, by customer.
    fn prepare_divisions(&self, rt: &tokio::runtime::Runtime) -> Result<Vec<String>, String> {
        let n = self.numbers.len() as u64;
        let engine = &self.engine;
        let date = today();
        rt.block_on(async {
            let numbers = std::sync::Mutex::new(vec![String::new(); n as usize]);
            closed_loop(n, 256, |i| {
                let numbers = &numbers;
                let date = &date;
                async move {
                    let master = CustomerId::new(i + 1).unwrap();
                    let header = ChargeRequest::parse(
                        Currency::Krw,
                        &(i + 1).to_string(),
                        date,
                        &format!("DFUND-{i}"),
                        POCKET_KRW,
                    )
                    .map_err(|e| EngineError::Invalid(e.to_string()))?
                    .header;
                    engine.charge(ChargeRequest { header }).await?;
                    let slave = Slave {
                        name: PayeeName::new("BENCH SLAVE").unwrap(),
                        birth_date: BirthDate::parse("1990-01-01").unwrap(),
                        phone: "01000000000".into(),
                        guardian_consent_at_ms: None,
                    };
                    let issued = engine
                        .issue_division_accounts(
                            master,
                            DivisionIssue {
                                bank: BankCode::new("004").unwrap(),
                                account_no: AccountNo::new(&format!("110-{:010}", i + 1)).unwrap(),
                                holder_name: PayeeName::new("BENCH MASTER").unwrap(),
                                slaves: vec![DivisionApplication {
                                    slave: slave.clone(),
                                    controls: DivisionControls {
                                        per_tx_max_krw: Some(PAYMENT_KRW),
                                        period: Period::Month,
                                        period_budget_krw: 1_000_000_000_000,
                                        valid_from_ms: None,
                                        valid_until_ms: None,
                                        blocked_categories: Vec::new(),
                                        allowed_merchants: Vec::new(),
                                    },
                                    auto_top_up: false,
                                }],
                            },
                        )
                        .await?
                        .pop()
                        .ok_or_else(|| EngineError::Invalid("no account issued".into()))?;
                    let number = issued.number.ascii();
                    engine
                        .activate_division(
                            &number,
                            issued.activation_code,
                            slave,
                            SecretText::new(DIVISION_PIN.into()),
                        )
                        .await?;
                    numbers.lock().unwrap()[i as usize] = number;
                    Ok::<_, EngineError>(())
                }
            })
            .await?;
            Ok(numbers.into_inner().unwrap())
        })
    }

    /// The i-th division payment of the current run, by account `i * 7919 mod n`.
    async fn pay_by_division(&self, divisions: &[String], i: u64) -> Result<(), String> {
        let number = &divisions[(i * 7_919 % divisions.len() as u64) as usize];
        let request = PaymentRequest {
            merchant: MerchantId::new("m1").unwrap(),
            terminal: None,
            merchant_request_no: RequestNo::new(&format!("D{}-{i}", self.run)).unwrap(),
            order_no: None,
            amount_krw: PAYMENT_KRW,
            category: Tag::new("books").unwrap(),
            region: None,
            legs: vec![Leg {
                instrument: InstrumentRef::Division {
                    number: NumberText::new(number.clone()),
                    pin: SecretText::new(DIVISION_PIN.into()),
                },
                amount_krw: PAYMENT_KRW,
            }],
        };
        let paid = self.engine.pay(request).await.map_err(|e| e.to_string())?;
        if paid.state != PaymentState::Approved {
            return Err(format!(
                "a division payment was not approved on zero-fault rails: {paid:?}"
            ));
        }
        Ok(())
    }

    /// The i-th payment of the current run, by card `i * 7919 mod n`.
    async fn pay(&self, i: u64) -> Result<(), String> {
        let number = self.numbers[(i * 7_919 % self.numbers.len() as u64) as usize];
        let request = PaymentRequest {
            merchant: MerchantId::new("m1").unwrap(),
            terminal: None,
            merchant_request_no: RequestNo::new(&format!("P{}-{i}", self.run)).unwrap(),
            order_no: None,
            amount_krw: PAYMENT_KRW,
            category: Tag::new("books").unwrap(),
            region: None,
            legs: vec![Leg {
                instrument: InstrumentRef::PrepaidCard {
                    number,
                    password: SecretText::new("4827".into()),
                },
                amount_krw: PAYMENT_KRW,
            }],
        };
        let paid = self.engine.pay(request).await.map_err(|e| e.to_string())?;
        if paid.state != PaymentState::Approved {
            return Err(format!(
                "a payment was not approved on zero-fault rails: {paid:?}"
            ));
        }
        Ok(())
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("omnibus-bench-payments-")
        .tempdir_in(&base)
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let extra = "[payments]\npocket_balance_cap_krw = 1_000_000_000_000\n";
    let (engine, _sim) =
        start_with_simulator(config(&root.path().join("data"), &args.engine, extra)?)?;
    eprintln!(
        "payments: {} customers, each with a card and its pocket filled",
        args.cards
    );
    let mut cards = Cards::prepare(engine, args.cards, &rt)?;
    eprintln!(
        "payments: {} payments, {} in flight, zero-latency rails, sync {}",
        args.requests, args.in_flight, args.engine.sync
    );
    cards.run += 1;
    let elapsed = {
        let c = &cards;
        rt.block_on(closed_loop(args.requests, args.in_flight, |i| async move {
            c.pay(i).await.map_err(EngineError::Invalid)
        }))?
    };
    let measured = args.requests as f64 / elapsed.as_secs_f64();
    println!("authorizations_per_sec={measured:.0} authorizations/s");
    let rate = args.rate.unwrap_or(measured / 2.0);
    eprintln!(
        "payments: open loop at {rate:.0}/s for {} s",
        args.latency_secs
    );
    cards.run += 1;
    let c = &cards;
    let latencies = crate::drive::open_loop(
        rate,
        args.latency_secs,
        &rt,
        std::time::Duration::from_secs(3_600),
        |_| Ok(()),
        |i| c.pay(i),
    )?;
    println!("authorization_rate={rate:.0} authorizations/s");
    latencies.print_as("authorization");
    eprintln!("payments: one division account per customer, issued and activated");
    let divisions = cards.prepare_divisions(&rt)?;
    cards.run += 1;
    let elapsed = {
        let c = &cards;
        let d = &divisions;
        rt.block_on(closed_loop(args.requests, args.in_flight, |i| async move {
            c.pay_by_division(d, i).await.map_err(EngineError::Invalid)
        }))?
    };
    let measured = args.requests as f64 / elapsed.as_secs_f64();
    println!("division_authorizations_per_sec={measured:.0} authorizations/s");
    cards.engine.shutdown().map_err(|e| e.to_string())?;
    Ok(())
}
