// Over 600 lines: the simulators' contract section by section, 46 tests sharing 260 lines of helpers in one test binary.
//! The rail simulators against the contract of `rails/mod.rs` and the semantics the
//! engine's correctness tests rely on: faults by seed, execution at call time, confirms
//! from the outside truth, idempotency by request id, business refusals, and a world
//! that neither creates nor destroys money.

use std::collections::BTreeMap;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ed25519_dalek::Signer;
use omnibus_actors::rails::sim::{
    Execution, NotExecutedCause, Operation, Outcome, Rail, Refusal, Simulator, Truth, TruthAccount,
    DEFAULT_LINKED_BALANCE_WON,
};
use omnibus_actors::rails::{
    Confirmation, Deposit, DepositSource, PaymentInstruction, RailAnswer, RailFuture,
    RailRequestId, Rails, SecuritiesAccount, SecuritiesTransfer, Withdrawal,
};
use omnibus_core::config::SimulatedRailConfig;
use omnibus_core::record::SigningKey;
use omnibus_core::signing::OriginalText;
use omnibus_core::{
    AccountNo, Amount, BankCode, Config, Currency, CustomerId, Money, ParentAccount, RemitRequest,
};
use rust_decimal::Decimal;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn simulator() -> Simulator {
    Simulator::new(&Config::embedded())
}

fn simulator_with_seed(seed: u64) -> Simulator {
    let mut config = Config::embedded();
    config.simulator.seed = seed;
    Simulator::new(&config)
}

fn id(entry: u64) -> RailRequestId {
    RailRequestId { entry, attempt: 0 }
}

fn krw(won: i64) -> Amount {
    Amount::krw(won).unwrap()
}

fn money(won: i64) -> Money {
    Money::krw(won).unwrap()
}

/// The opening balances of config.toml the tests count on.
fn fin_opening() -> i64 {
    Config::embedded().parents.fin_parent.opening
}

fn deposit_opening() -> i64 {
    Config::embedded().parents.deposit_firm.opening
}

fn bank(code: &str) -> BankCode {
    BankCode::new(code).unwrap()
}

fn account(number: &str) -> AccountNo {
    AccountNo::new(number).unwrap()
}

fn customer(number: u64) -> CustomerId {
    CustomerId::new(number).unwrap()
}

fn faults(failure_rate: f64, timeout_rate: f64, lost_response_rate: f64) -> SimulatedRailConfig {
    SimulatedRailConfig {
        latency_us_min: 0,
        latency_us_max: 0,
        failure_rate,
        timeout_rate,
        lost_response_rate,
    }
}

fn latency_ms(ms: u64) -> SimulatedRailConfig {
    SimulatedRailConfig {
        latency_us_min: ms * 1_000,
        latency_us_max: ms * 1_000,
        ..faults(0.0, 0.0, 0.0)
    }
}

/// Polls a rail future once, outside any runtime: its value if it was ready at once.
/// Zero-latency answers are; timeouts and lost responses never are.
fn now<T>(mut future: RailFuture<T>) -> Option<T> {
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

fn done() -> Option<Result<RailAnswer, omnibus_actors::rails::RailError>> {
    Some(Ok(RailAnswer::Done))
}

fn is_refused(answer: &Option<Result<RailAnswer, omnibus_actors::rails::RailError>>) -> bool {
    matches!(answer, Some(Ok(RailAnswer::Refused { .. })))
}

const LINKED_BANK: &str = "004";
const LINKED_ACCOUNT: &str = "110-01-000001";

fn withdrawal(entry: u64, won: i64) -> Withdrawal {
    Withdrawal {
        id: id(entry),
        customer: customer(1),
        bank: bank(LINKED_BANK),
        linked_account: account(LINKED_ACCOUNT),
        amount: krw(won),
    }
}

fn withdrawal_of(entry: u64, who: u64, won: i64) -> Withdrawal {
    Withdrawal {
        id: id(entry),
        customer: customer(who),
        bank: bank(LINKED_BANK),
        linked_account: account(&format!("110-01-{who:06}")),
        amount: krw(won),
    }
}

fn remittance(entry: u64, from_bank: &str, won: i64) -> Deposit {
    Deposit {
        id: id(entry),
        customer: customer(1),
        from: DepositSource::DepositFirm(bank(from_bank)),
        to_bank: bank("088"),
        to_account: account("220-33-4444"),
        amount: krw(won),
    }
}

fn refund(entry: u64, won: i64) -> Deposit {
    Deposit {
        id: id(entry),
        customer: customer(1),
        from: DepositSource::WithdrawalFirm(bank(LINKED_BANK)),
        to_bank: bank(LINKED_BANK),
        to_account: account(LINKED_ACCOUNT),
        amount: krw(won),
    }
}

fn securities(entry: u64, who: u64, won: i64) -> SecuritiesTransfer {
    SecuritiesTransfer {
        id: id(entry),
        customer: customer(who),
        account: SecuritiesAccount::Customer(customer(who)),
        amount: krw(won),
    }
}

fn default_linked() -> Money {
    money(DEFAULT_LINKED_BALANCE_WON)
}

fn parent(truth: &Truth, parent: ParentAccount) -> Money {
    truth.parent(parent).expect("a configured parent account")
}

fn customer_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

const PAYEE_BANK: &str = "004";
const PAYEE_ACCOUNT: &str = "110-22-3333";

fn remit_request(who: u64, request_no: &str, won: i64) -> RemitRequest {
    RemitRequest::parse(
        Currency::Krw,
        &who.to_string(),
        "2026-11-21",
        request_no,
        &won.to_string(),
        PAYEE_BANK,
        PAYEE_ACCOUNT,
        "홍길동",
    )
    .unwrap()
}

/// A payment instruction whose original text is issued for `request`, signed by `key`.
fn signed_instruction(
    entry: u64,
    request: RemitRequest,
    nonce: u128,
    key: &ed25519_dalek::SigningKey,
) -> PaymentInstruction {
    let text = OriginalText {
        request,
        nonce,
        expires_at_ms: 1_800_000_000_000,
    }
    .render();
    let signature = key.sign(text.as_bytes()).to_bytes();
    PaymentInstruction {
        id: id(entry),
        customer: request.header.customer,
        request_date: request.header.request_date,
        request_no: request.header.request_no,
        amount: request.header.amount,
        payee: request.payee,
        original_text: text,
        signature,
        certificate: SigningKey {
            cert_serial: 900,
            public_key: key.verifying_key().to_bytes(),
        },
    }
}

/// A customer with `won` in their financial company account, credited through the
/// securities firm (entry numbers from 1,000,000 up, out of the tests' way).
fn fund_customer(rails: &Rails, who: u64, won: i64) {
    let answer = now(rails
        .securities_firm
        .increase(securities(1_000_000 + who, who, won)));
    assert_eq!(answer, done());
}

fn refusal_of(sim: &Simulator, rail: Rail, entry: u64) -> Option<Refusal> {
    match sim.outcome(rail, id(entry)) {
        Some(Outcome::NotExecuted(NotExecutedCause::Refused(refusal))) => Some(refusal),
        _ => None,
    }
}

/// Every balance recomputed from the openings and the rails' statements alone.
fn replay_statements(sim: &Simulator, before: &Truth) -> BTreeMap<TruthAccount, Decimal> {
    let mut balances: BTreeMap<TruthAccount, Decimal> = BTreeMap::new();
    for (p, m) in &before.parents {
        balances.insert(TruthAccount::Parent(*p), m.value());
    }
    for rail in Rail::ALL {
        for e in sim.executed(rail) {
            let opening_of = |account: TruthAccount| match account {
                TruthAccount::Linked { bank, account } => before.linked(bank, account).value(),
                _ => Decimal::ZERO,
            };
            *balances.entry(e.from).or_insert_with(|| opening_of(e.from)) -= e.amount.value();
            *balances.entry(e.to).or_insert_with(|| opening_of(e.to)) += e.amount.value();
        }
    }
    balances
}

fn truth_balances(truth: &Truth) -> BTreeMap<TruthAccount, Decimal> {
    let mut balances = BTreeMap::new();
    for (p, m) in &truth.parents {
        balances.insert(TruthAccount::Parent(*p), m.value());
    }
    for ((bank, account), m) in &truth.linked {
        balances.insert(
            TruthAccount::Linked {
                bank: *bank,
                account: *account,
            },
            m.value(),
        );
    }
    for ((bank, account), m) in &truth.designated {
        balances.insert(
            TruthAccount::Designated {
                bank: *bank,
                account: *account,
            },
            m.value(),
        );
    }
    for (c, m) in &truth.customers {
        balances.insert(TruthAccount::Customer(*c), m.value());
    }
    balances
}

// ---------------------------------------------------------------------------------------
// Executing and answering
// ---------------------------------------------------------------------------------------

#[test]
fn a_withdrawal_moves_money_from_the_linked_account_to_the_withdrawal_firm() {
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 50_000))), done());

    let truth = sim.truth();
    assert_eq!(
        truth.linked(bank(LINKED_BANK), account(LINKED_ACCOUNT)),
        money(DEFAULT_LINKED_BALANCE_WON - 50_000)
    );
    assert_eq!(
        parent(&truth, ParentAccount::WithdrawalFirm(bank(LINKED_BANK))),
        money(50_000)
    );
    assert!(truth.is_conserved());
    assert_eq!(
        sim.executed(Rail::BankFirm),
        vec![Execution {
            id: id(1),
            operation: Operation::Withdraw,
            customer: customer(1),
            amount: krw(50_000),
            from: TruthAccount::Linked {
                bank: bank(LINKED_BANK),
                account: account(LINKED_ACCOUNT),
            },
            to: TruthAccount::Parent(ParentAccount::WithdrawalFirm(bank(LINKED_BANK))),
        }]
    );
}

#[test]
fn zero_latency_answers_at_once_without_a_timer() {
    // Polled once, outside any runtime: a timer would panic or stay pending here.
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 10))), done());
    assert_eq!(
        now(rails.bank_firm.confirm(id(1))),
        Some(Ok(Confirmation::Executed))
    );
}

#[test]
fn a_repeated_id_executes_once() {
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 50_000))), done());
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 50_000))), done());
    assert_eq!(
        now(rails.securities_firm.increase(securities(1, 5, 700))),
        done()
    );
    assert_eq!(
        now(rails.securities_firm.increase(securities(1, 5, 700))),
        done()
    );

    let truth = sim.truth();
    assert_eq!(
        truth.linked(bank(LINKED_BANK), account(LINKED_ACCOUNT)),
        money(DEFAULT_LINKED_BALANCE_WON - 50_000)
    );
    assert_eq!(truth.customer(customer(5)), money(700));
    assert_eq!(sim.executed(Rail::BankFirm).len(), 1);
    assert_eq!(sim.executed(Rail::SecuritiesFirm).len(), 1);
    let stats = sim.stats();
    assert_eq!((stats.bank_firm.executed, stats.bank_firm.replayed), (1, 1));
    assert_eq!(
        (
            stats.securities_firm.executed,
            stats.securities_firm.replayed
        ),
        (1, 1)
    );
}

#[test]
fn an_id_reused_for_a_different_request_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 50_000))), done());
    let before = sim.truth();
    let answer = now(rails.bank_firm.withdraw(withdrawal(1, 60_000)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(sim.truth(), before);
    assert_eq!(
        sim.stats().bank_firm.refusals.get(&Refusal::IdReused),
        Some(&1)
    );
    // The registry still holds the original request.
    assert!(matches!(
        sim.outcome(Rail::BankFirm, id(1)),
        Some(Outcome::Executed(e)) if e.amount == krw(50_000)
    ));
}

#[test]
fn each_rail_keeps_its_own_registry() {
    // The same id on two rails is two requests: the engine's logs are per rail.
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 100))), done());
    assert_eq!(
        now(rails.securities_firm.increase(securities(1, 1, 100))),
        done()
    );
    assert_eq!(
        now(rails.financial_company.confirm(id(1))),
        Some(Ok(Confirmation::NotExecuted))
    );
}

// ---------------------------------------------------------------------------------------
// Faults and confirms
// ---------------------------------------------------------------------------------------

#[test]
fn a_confirm_after_a_lost_response_says_executed() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::BankFirm, faults(0.0, 0.0, 1.0));

    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 30_000))), None);
    assert_eq!(
        now(rails.bank_firm.confirm(id(1))),
        Some(Ok(Confirmation::Executed))
    );
    assert_eq!(
        parent(
            &sim.truth(),
            ParentAccount::WithdrawalFirm(bank(LINKED_BANK))
        ),
        money(30_000)
    );
    assert_eq!(sim.stats().bank_firm.lost_responses, 1);
}

#[test]
fn a_confirm_of_a_timed_out_call_settles_it_as_never_executed() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::BankFirm, faults(0.0, 1.0, 0.0));
    let before = sim.truth();

    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 30_000))), None);
    assert_eq!(sim.truth(), before, "a timed-out call executes nothing");
    assert_eq!(sim.outcome(Rail::BankFirm, id(1)), None);
    assert_eq!(
        now(rails.bank_firm.confirm(id(1))),
        Some(Ok(Confirmation::NotExecuted))
    );

    // Healed, the same id still never executes: the confirm settled it.
    sim.heal();
    let answer = now(rails.bank_firm.withdraw(withdrawal(1, 30_000)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(sim.truth(), before);
    assert!(sim.executed(Rail::BankFirm).is_empty());
    assert_eq!(
        sim.outcome(Rail::BankFirm, id(1)),
        Some(Outcome::NotExecuted(NotExecutedCause::Confirm))
    );
}

#[test]
fn a_timed_out_call_executes_when_repeated_after_heal_without_a_confirm() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::SecuritiesFirm, faults(0.0, 1.0, 0.0));
    assert_eq!(
        now(rails.securities_firm.increase(securities(1, 3, 900))),
        None
    );
    sim.heal();
    assert_eq!(
        now(rails.securities_firm.increase(securities(1, 3, 900))),
        done()
    );
    assert_eq!(sim.truth().customer(customer(3)), money(900));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_never_answers_even_after_heal() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::BankFirm, faults(0.0, 1.0, 0.0));
    let call = rails.bank_firm.withdraw(withdrawal(1, 30_000));
    sim.heal();
    let waited = tokio::time::timeout(Duration::from_secs(3_600), call).await;
    assert!(waited.is_err(), "{waited:?}");
}

#[test]
fn an_injected_failure_is_refused_and_never_executes() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::SecuritiesFirm, faults(1.0, 0.0, 0.0));
    let before = sim.truth();

    let answer = now(rails.securities_firm.increase(securities(1, 1, 5_000)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(sim.truth(), before);
    assert_eq!(
        sim.outcome(Rail::SecuritiesFirm, id(1)),
        Some(Outcome::NotExecuted(NotExecutedCause::InjectedFailure))
    );
    sim.heal();
    assert!(is_refused(&now(rails
        .securities_firm
        .increase(securities(1, 1, 5_000)))));
    assert_eq!(
        now(rails.securities_firm.confirm(id(1))),
        Some(Ok(Confirmation::NotExecuted))
    );
    assert_eq!(sim.truth(), before);
    assert_eq!(sim.stats().securities_firm.injected_failures, 1);
}

#[test]
fn an_injected_failure_never_denies_an_id_already_executed() {
    // A refusal means "not executed"; for an executed id that would be a lie.
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 10))), done());
    sim.set_rates(Rail::BankFirm, faults(1.0, 0.0, 0.0));
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 10))), done());
}

#[test]
fn confirms_ignore_the_fault_rates() {
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 10))), done());
    for rates in [
        faults(1.0, 0.0, 0.0),
        faults(0.0, 1.0, 0.0),
        faults(0.0, 0.0, 1.0),
    ] {
        sim.set_rates(Rail::BankFirm, rates);
        assert_eq!(
            now(rails.bank_firm.confirm(id(1))),
            Some(Ok(Confirmation::Executed))
        );
    }
}

#[test]
fn an_unreachable_confirm_is_a_rail_error_and_settles_nothing() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::FinancialCompany, faults(0.0, 1.0, 0.0));
    let key = customer_key();
    let instruction = signed_instruction(1, remit_request(42, "R-1", 2_500_000), 1, &key);
    assert_eq!(now(rails.financial_company.instruct(instruction)), None);

    sim.set_confirm_unreachable(Rail::FinancialCompany, true);
    let error = now(rails.financial_company.confirm(id(1)))
        .unwrap()
        .unwrap_err();
    assert_eq!(error.system, "financial company server");
    assert_eq!(sim.outcome(Rail::FinancialCompany, id(1)), None);
    assert_eq!(sim.stats().financial_company.confirms_unreachable, 1);

    // Other rails' confirms are unaffected, and heal makes this one reachable again.
    assert_eq!(
        now(rails.bank_firm.confirm(id(1))),
        Some(Ok(Confirmation::NotExecuted))
    );
    sim.heal();
    assert_eq!(
        now(rails.financial_company.confirm(id(1))),
        Some(Ok(Confirmation::NotExecuted))
    );
}

#[test]
fn heal_stops_the_faults_and_keeps_the_latency() {
    let sim = simulator();
    for rail in Rail::ALL {
        sim.set_rates(
            rail,
            SimulatedRailConfig {
                latency_us_min: 10,
                latency_us_max: 20,
                ..faults(0.3, 0.3, 0.3)
            },
        );
        sim.set_confirm_unreachable(rail, true);
    }
    sim.heal();
    for rail in Rail::ALL {
        assert_eq!(
            sim.rates(rail),
            SimulatedRailConfig {
                latency_us_min: 10,
                latency_us_max: 20,
                ..faults(0.0, 0.0, 0.0)
            }
        );
    }
}

#[tokio::test(start_paused = true)]
async fn latency_delays_the_answer_but_not_the_execution() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::BankFirm, latency_ms(50));
    let start = tokio::time::Instant::now();

    let mut call = rails.bank_firm.withdraw(withdrawal(1, 40_000));
    // Executed at call time: the truth and a confirm see it while the answer travels.
    assert_eq!(
        parent(
            &sim.truth(),
            ParentAccount::WithdrawalFirm(bank(LINKED_BANK))
        ),
        money(40_000)
    );
    let confirm = rails.bank_firm.confirm(id(1));

    let early = tokio::time::timeout(Duration::from_millis(40), &mut call).await;
    assert!(early.is_err(), "the answer came before 40 ms: {early:?}");
    assert_eq!(call.await, Ok(RailAnswer::Done));
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(confirm.await, Ok(Confirmation::Executed));
}

#[test]
fn fault_rates_are_honoured_over_many_calls() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::BankFirm, faults(0.1, 0.1, 0.1));
    let calls = 10_000u64;
    let mut answered = 0u64;
    for entry in 0..calls {
        if now(rails
            .bank_firm
            .withdraw(withdrawal_of(entry, entry % 50 + 1, 1)))
        .is_some()
        {
            answered += 1;
        }
    }
    let stats = sim.stats().bank_firm;
    for (what, count) in [
        ("failures", stats.injected_failures),
        ("timeouts", stats.timeouts),
        ("lost responses", stats.lost_responses),
    ] {
        assert!((800..=1_200).contains(&count), "{what}: {count}");
    }
    assert_eq!(stats.calls, calls);
    assert_eq!(answered, calls - stats.timeouts - stats.lost_responses);
    assert_eq!(
        stats.executed + stats.injected_failures + stats.timeouts,
        calls
    );
    assert_eq!(sim.executed(Rail::BankFirm).len() as u64, stats.executed);
}

// ---------------------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------------------

/// What became of each call: its immediate answer (`None`: never answers) and what the
/// rail holds about its id.
type Fates = BTreeMap<(u8, u64), (Option<String>, Option<Outcome>)>;

fn run_workload(sim: &Simulator, entries: &[u64]) -> Fates {
    let rails = sim.rails();
    let mut answers = BTreeMap::new();
    for entry in entries {
        let bank_answer =
            now(rails
                .bank_firm
                .withdraw(withdrawal_of(*entry, *entry % 97 + 1, 1_000)));
        let ss_answer =
            now(rails
                .securities_firm
                .increase(securities(*entry, *entry % 97 + 1, 1_000)));
        answers.insert((0, *entry), format!("{bank_answer:?}"));
        answers.insert((1, *entry), format!("{ss_answer:?}"));
    }
    fates(sim, answers)
}

fn fates(sim: &Simulator, answers: BTreeMap<(u8, u64), String>) -> Fates {
    answers
        .into_iter()
        .map(|((rail, entry), answer)| {
            let rail_of = if rail == 0 {
                Rail::BankFirm
            } else {
                Rail::SecuritiesFirm
            };
            let shown = (answer != "None").then_some(answer);
            ((rail, entry), (shown, sim.outcome(rail_of, id(entry))))
        })
        .collect()
}

fn faulty(seed: u64) -> Simulator {
    let sim = simulator_with_seed(seed);
    sim.set_rates(Rail::BankFirm, faults(0.2, 0.2, 0.2));
    sim.set_rates(Rail::SecuritiesFirm, faults(0.2, 0.2, 0.2));
    sim
}

#[test]
fn the_same_seed_gives_the_same_faults_whatever_the_order() {
    let entries: Vec<u64> = (1..=2_000).collect();

    let forward = faulty(7);
    let forward_fates = run_workload(&forward, &entries);

    let reversed = faulty(7);
    let backwards: Vec<u64> = entries.iter().rev().copied().collect();
    let reversed_fates = run_workload(&reversed, &backwards);

    // Four threads taking interleaved slices, racing each other.
    let threaded = faulty(7);
    let threaded_answers = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let sim = &threaded;
                let mine: Vec<u64> = entries.iter().copied().filter(|e| e % 4 == t).collect();
                scope.spawn(move || run_workload(sim, &mine))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Fates>()
    });

    assert_eq!(forward_fates, reversed_fates);
    assert_eq!(forward_fates, threaded_answers);
    assert_eq!(forward.truth(), reversed.truth());
    assert_eq!(forward.truth(), threaded.truth());
    assert_eq!(forward.stats(), reversed.stats());

    // The comparison means something only if every kind of fault happened.
    let stats = forward.stats().bank_firm;
    assert!(stats.injected_failures > 0 && stats.timeouts > 0 && stats.lost_responses > 0);
    assert!(stats.executed > 0);
}

#[test]
fn a_different_seed_gives_different_faults() {
    let entries: Vec<u64> = (1..=500).collect();
    let one = run_workload(&faulty(7), &entries);
    let other = run_workload(&faulty(8), &entries);
    assert_ne!(one, other);
}

#[test]
fn the_same_seed_gives_the_same_latencies() {
    let seeded = |seed| {
        let sim = simulator_with_seed(seed);
        sim.set_rates(
            Rail::BankFirm,
            SimulatedRailConfig {
                latency_us_min: 1_000,
                latency_us_max: 90_000,
                ..faults(0.0, 0.0, 0.0)
            },
        );
        sim
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let latencies = |sim: Simulator| -> Vec<Duration> {
        runtime.block_on(async {
            let rails = sim.rails();
            let mut taken = Vec::new();
            for entry in 0..50 {
                let start = tokio::time::Instant::now();
                rails
                    .bank_firm
                    .withdraw(withdrawal(entry, 1))
                    .await
                    .unwrap();
                taken.push(start.elapsed());
            }
            taken
        })
    };
    let first = latencies(seeded(3));
    assert_eq!(first, latencies(seeded(3)));
    assert_ne!(first, latencies(seeded(4)));
    assert!(first
        .iter()
        .all(|d| (Duration::from_millis(1)..=Duration::from_millis(91)).contains(d)));
}

// ---------------------------------------------------------------------------------------
// Business refusals
// ---------------------------------------------------------------------------------------

#[test]
fn a_withdrawal_beyond_the_linked_balance_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_linked_balance(bank(LINKED_BANK), account(LINKED_ACCOUNT), money(10_000));

    let answer = now(rails.bank_firm.withdraw(withdrawal(1, 10_001)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::BankFirm, 1),
        Some(Refusal::BankAccountShort)
    );
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(2, 10_000))), done());
    let truth = sim.truth();
    assert_eq!(
        truth.linked(bank(LINKED_BANK), account(LINKED_ACCOUNT)),
        money(0)
    );
    assert!(truth.is_conserved());
}

#[test]
fn a_decrease_beyond_the_customer_balance_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    let answer = now(rails.securities_firm.decrease(securities(1, 9, 1)));
    assert!(is_refused(&answer), "an account never opened holds nothing");
    fund_customer(&rails, 9, 5_000);
    let answer = now(rails.securities_firm.decrease(securities(2, 9, 5_001)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::SecuritiesFirm, 2),
        Some(Refusal::SecuritiesShort)
    );
    assert_eq!(
        now(rails.securities_firm.decrease(securities(3, 9, 5_000))),
        done()
    );
    let truth = sim.truth();
    assert_eq!(truth.customer(customer(9)), money(0));
    assert_eq!(
        parent(&truth, ParentAccount::FinParent),
        money(fin_opening())
    );
}

#[test]
fn an_increase_that_would_overdraw_fin_parent_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    let answer = now(rails
        .securities_firm
        .increase(securities(1, 1, fin_opening() + 1)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::SecuritiesFirm, 1),
        Some(Refusal::ParentShort)
    );
    assert_eq!(sim.truth().customer(customer(1)), money(0));
}

#[test]
fn a_deposit_that_would_overdraw_the_deposit_firm_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    let answer = now(rails
        .bank_firm
        .deposit(remittance(1, "004", deposit_opening() + 1)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::BankFirm, 1),
        Some(Refusal::ParentShort)
    );
    assert_eq!(
        now(rails
            .bank_firm
            .deposit(remittance(2, "004", deposit_opening()))),
        done()
    );

    let truth = sim.truth();
    assert_eq!(
        parent(&truth, ParentAccount::DepositFirm(bank("004"))),
        money(0)
    );
    assert_eq!(
        truth.designated(bank("088"), account("220-33-4444")),
        money(deposit_opening())
    );
    assert_eq!(
        truth.designated_at(bank("088")),
        Decimal::from(deposit_opening())
    );

    // A settlement sweep refills it, and the next deposit goes through.
    sim.settle(
        ParentAccount::Collection,
        ParentAccount::DepositFirm(bank("004")),
        krw(1_000),
    )
    .unwrap();
    assert_eq!(
        now(rails.bank_firm.deposit(remittance(3, "004", 1_000))),
        done()
    );
    assert!(sim.truth().is_conserved());
}

#[test]
fn a_deposit_from_a_bank_without_a_deposit_firm_account_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    // 081 holds a withdrawal firm account but no deposit firm account.
    let answer = now(rails.bank_firm.deposit(remittance(1, "081", 1)));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::BankFirm, 1),
        Some(Refusal::UnknownParent)
    );
}

#[test]
fn a_refund_returns_money_from_the_withdrawal_firm_to_the_linked_account() {
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(1, 70_000))), done());
    let too_much = now(rails.bank_firm.deposit(refund(2, 70_001)));
    assert!(is_refused(&too_much), "{too_much:?}");
    assert_eq!(now(rails.bank_firm.deposit(refund(3, 70_000))), done());

    let truth = sim.truth();
    assert_eq!(
        truth.linked(bank(LINKED_BANK), account(LINKED_ACCOUNT)),
        default_linked()
    );
    assert_eq!(
        parent(&truth, ParentAccount::WithdrawalFirm(bank(LINKED_BANK))),
        money(0)
    );
    assert!(truth.designated.is_empty(), "a refund pays no payee");
}

#[test]
fn a_settlement_below_the_floor_is_refused_and_moves_nothing() {
    let sim = simulator();
    let before = sim.truth();
    let refused = sim
        .settle(
            ParentAccount::WithdrawalFirm(bank("004")),
            ParentAccount::Collection,
            krw(1),
        )
        .unwrap_err();
    assert_eq!(refused.refusal, Refusal::ParentShort);
    assert_eq!(sim.truth(), before);
}

// ---------------------------------------------------------------------------------------
// The payment instruction
// ---------------------------------------------------------------------------------------

#[test]
fn a_payment_instruction_pays_the_payee_from_the_customer_account() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 3_000_000);
    let before = sim.truth();
    let instruction =
        signed_instruction(1, remit_request(42, "R-1", 2_500_000), 1, &customer_key());
    assert_eq!(now(rails.financial_company.instruct(instruction)), done());

    let truth = sim.truth();
    assert_eq!(truth.customer(customer(42)), money(500_000));
    assert_eq!(
        truth.designated(bank(PAYEE_BANK), account(PAYEE_ACCOUNT)),
        money(2_500_000)
    );
    // No parent account is touched (SPEC §3).
    assert_eq!(truth.parents, before.parents);
    assert_eq!(
        now(rails.financial_company.confirm(id(1))),
        Some(Ok(Confirmation::Executed))
    );
}

#[test]
fn a_payment_instruction_with_an_altered_text_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 3_000_000);
    let before = sim.truth();
    let key = customer_key();

    // The text is signed as issued, but the instruction's fields say another amount.
    let mut other_fields = signed_instruction(1, remit_request(42, "R-1", 2_500_000), 1, &key);
    other_fields.amount = krw(2_900_000);
    let answer = now(rails.financial_company.instruct(other_fields));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 1),
        Some(Refusal::AlteredText)
    );

    // The text itself was altered after signing, fields altered to match: the
    // signature gives it away.
    let mut altered = signed_instruction(2, remit_request(42, "R-2", 2_500_000), 2, &key);
    altered.original_text = altered.original_text.replace("2500000", "2900000");
    altered.amount = krw(2_900_000);
    let answer = now(rails.financial_company.instruct(altered));
    assert!(is_refused(&answer), "{answer:?}");
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 2),
        Some(Refusal::BadSignature)
    );

    assert_eq!(sim.truth(), before);
}

#[test]
fn a_payment_instruction_with_a_bad_signature_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 3_000_000);
    let before = sim.truth();

    // Signed by a stranger, presented with the customer's certificate.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let mut forged = signed_instruction(1, remit_request(42, "R-1", 2_500_000), 1, &stranger);
    forged.certificate.public_key = customer_key().verifying_key().to_bytes();
    assert!(is_refused(&now(rails.financial_company.instruct(forged))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 1),
        Some(Refusal::BadSignature)
    );

    let mut garbled =
        signed_instruction(2, remit_request(42, "R-2", 2_500_000), 2, &customer_key());
    garbled.signature[0] ^= 0x01;
    assert!(is_refused(&now(rails.financial_company.instruct(garbled))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 2),
        Some(Refusal::BadSignature)
    );
    assert_eq!(sim.truth(), before);
}

#[test]
fn switching_off_signature_checks_still_refuses_altered_texts() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 6_000_000);
    sim.set_signature_checks(false);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let mut unchecked = signed_instruction(1, remit_request(42, "R-1", 2_500_000), 1, &stranger);
    unchecked.certificate.public_key = customer_key().verifying_key().to_bytes();
    assert_eq!(now(rails.financial_company.instruct(unchecked)), done());

    let mut other_fields = signed_instruction(2, remit_request(42, "R-2", 2_500_000), 2, &stranger);
    other_fields.amount = krw(2_900_000);
    assert!(is_refused(&now(rails
        .financial_company
        .instruct(other_fields))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 2),
        Some(Refusal::AlteredText)
    );

    sim.set_signature_checks(true);
    let mut checked = signed_instruction(3, remit_request(42, "R-3", 2_500_000), 3, &stranger);
    checked.certificate.public_key = customer_key().verifying_key().to_bytes();
    assert!(is_refused(&now(rails.financial_company.instruct(checked))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 3),
        Some(Refusal::BadSignature)
    );
}

#[test]
fn a_payment_instruction_with_a_malformed_text_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 3_000_000);
    let mut malformed =
        signed_instruction(1, remit_request(42, "R-1", 2_500_000), 1, &customer_key());
    malformed.original_text = "pay 2500000 to whoever".to_string();
    assert!(is_refused(&now(rails
        .financial_company
        .instruct(malformed))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 1),
        Some(Refusal::MalformedText)
    );
}

#[test]
fn a_replayed_original_text_is_refused() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 6_000_000);
    let key = customer_key();
    let first = signed_instruction(1, remit_request(42, "R-1", 2_500_000), 77, &key);
    let mut replay = first.clone();
    replay.id = id(2);

    assert_eq!(now(rails.financial_company.instruct(first)), done());
    assert!(is_refused(&now(rails.financial_company.instruct(replay))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 2),
        Some(Refusal::ReplayedText)
    );
    assert_eq!(sim.truth().customer(customer(42)), money(3_500_000));
}

#[test]
fn a_payment_instruction_beyond_the_customer_balance_is_refused_and_its_text_stays_usable() {
    let sim = simulator();
    let rails = sim.rails();
    fund_customer(&rails, 42, 1_000_000);
    let key = customer_key();
    let first = signed_instruction(1, remit_request(42, "R-1", 2_500_000), 5, &key);
    let mut retried = first.clone();
    retried.id = RailRequestId {
        entry: 1,
        attempt: 1,
    };

    assert!(is_refused(&now(rails.financial_company.instruct(first))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, 1),
        Some(Refusal::SecuritiesShort)
    );
    // A refused text paid nothing, so a later attempt with it is not a replay.
    assert_eq!(
        now(rails.securities_firm.increase(securities(7, 42, 1_500_000))),
        done()
    );
    assert_eq!(now(rails.financial_company.instruct(retried)), done());
    assert_eq!(sim.truth().customer(customer(42)), money(0));
}

// ---------------------------------------------------------------------------------------
// Authentication server
// ---------------------------------------------------------------------------------------

fn certificate(serial: u64) -> SigningKey {
    SigningKey {
        cert_serial: serial,
        public_key: customer_key().verifying_key().to_bytes(),
    }
}

#[test]
fn a_revoked_key_is_not_valid() {
    let sim = simulator();
    let rails = sim.rails();
    assert_eq!(
        now(rails.authentication.key_valid(certificate(1))),
        Some(Ok(true))
    );
    sim.revoke(1);
    assert_eq!(
        now(rails.authentication.key_valid(certificate(1))),
        Some(Ok(false))
    );
    assert_eq!(
        now(rails.authentication.key_valid(certificate(2))),
        Some(Ok(true))
    );
    let stats = sim.stats().authentication;
    assert_eq!((stats.calls, stats.keys_revoked), (3, 1));
}

#[test]
fn an_authentication_failure_is_a_rail_error_and_a_timeout_never_answers() {
    let sim = simulator();
    let rails = sim.rails();
    sim.set_rates(Rail::Authentication, faults(1.0, 0.0, 0.0));
    let error = now(rails.authentication.key_valid(certificate(1)))
        .unwrap()
        .unwrap_err();
    assert_eq!(error.system, "authentication server");
    sim.set_rates(Rail::Authentication, faults(0.0, 1.0, 0.0));
    assert_eq!(now(rails.authentication.key_valid(certificate(1))), None);
    sim.heal();
    assert_eq!(
        now(rails.authentication.key_valid(certificate(1))),
        Some(Ok(true))
    );
}

#[test]
fn key_checks_of_one_certificate_draw_their_faults_in_order() {
    let checks = |seed| {
        let sim = simulator_with_seed(seed);
        sim.set_rates(Rail::Authentication, faults(0.3, 0.3, 0.0));
        let rails = sim.rails();
        (0..200)
            .map(|_| format!("{:?}", now(rails.authentication.key_valid(certificate(5)))))
            .collect::<Vec<_>>()
    };
    let first = checks(11);
    assert_eq!(first, checks(11));
    // A certificate is not stuck with one fate: its checks fail, hang and succeed.
    assert!(first.iter().any(|a| a == "Some(Ok(true))"));
    assert!(first.iter().any(|a| a == "None"));
    assert!(first.iter().any(|a| a.starts_with("Some(Err")));
}

// ---------------------------------------------------------------------------------------
// Conservation and statements
// ---------------------------------------------------------------------------------------

/// A small deterministic generator, so the workload replays exactly.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Every kind of call, with faults on every rail, from one seed.
fn mixed_workload(sim: &Simulator, calls: u64) {
    let rails = sim.rails();
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        sim.set_rates(rail, faults(0.1, 0.1, 0.1));
    }
    let key = customer_key();
    let mut rng = Lcg(99);
    for entry in 1..=calls {
        let who = rng.next(20) + 1;
        let won = (rng.next(50) as i64 + 1) * 10_000;
        match rng.next(8) {
            0 => {
                now(rails.bank_firm.withdraw(withdrawal_of(entry, who, won)));
            }
            1 => {
                now(rails.bank_firm.deposit(remittance(entry, "020", won)));
            }
            2 => {
                now(rails.bank_firm.deposit(Deposit {
                    from: DepositSource::WithdrawalFirm(bank(LINKED_BANK)),
                    to_bank: bank(LINKED_BANK),
                    to_account: account(&format!("110-01-{who:06}")),
                    ..remittance(entry, "004", won)
                }));
            }
            3 => {
                now(rails.securities_firm.increase(securities(entry, who, won)));
            }
            4 => {
                now(rails.securities_firm.decrease(securities(entry, who, won)));
            }
            5 => {
                let request = remit_request(who, &format!("R-{entry}"), won);
                now(rails.financial_company.instruct(signed_instruction(
                    entry,
                    request,
                    u128::from(entry),
                    &key,
                )));
            }
            6 => {
                // A repeat of an earlier id, as the engine's retries and recoveries do.
                let earlier = rng.next(entry) + 1;
                now(rails.bank_firm.withdraw(withdrawal_of(earlier, who, won)));
                now(rails.securities_firm.confirm(id(earlier)));
            }
            _ => {
                now(rails.bank_firm.confirm(id(entry - 1)));
                now(rails.financial_company.confirm(id(entry - 1)));
            }
        }
        assert!(sim.truth().is_conserved(), "after call {entry}");
    }
}

#[test]
fn the_outside_world_conserves_money() {
    let sim = simulator();
    let opening = sim.truth();
    let parents_opening: Decimal = opening.parents.values().map(|m| m.value()).sum();
    let p = Config::embedded().parents;
    let banks = Config::embedded().banks;
    let configured = p.fin_parent.opening
        + p.collection.opening
        + p.deposit_firm.opening * banks.deposit_firm.len() as i64
        + p.withdrawal_firm.opening * banks.withdrawal_firm.len() as i64;
    assert_eq!(
        parents_opening,
        Decimal::from(configured),
        "config.toml openings"
    );
    assert_eq!(opening.total, parents_opening);
    assert!(opening.is_conserved());

    sim.set_linked_balance(bank(LINKED_BANK), account("110-01-000003"), money(25_000));
    mixed_workload(&sim, 3_000);

    let truth = sim.truth();
    assert!(truth.is_conserved());
    // The only money that entered is the linked accounts' openings: each at the
    // default, except the one set to 25,000.
    let linked_openings = Decimal::from(DEFAULT_LINKED_BALANCE_WON)
        * Decimal::from(truth.linked.len() as u64 - 1)
        + Decimal::from(25_000);
    assert_eq!(truth.total, parents_opening + linked_openings);
    assert!(truth.customers.values().all(|m| !m.is_negative()));
    assert!(truth.parents.values().all(|m| !m.is_negative()));

    // The workload exercised what it claims to.
    let stats = sim.stats();
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        let s = stats.rail(rail);
        assert!(s.executed > 0 && s.refused > 0, "{rail}: {s:?}");
        assert!(s.injected_failures > 0 && s.timeouts > 0 && s.lost_responses > 0);
    }
}

#[test]
fn the_statements_explain_every_balance() {
    let sim = simulator();
    let opening = sim.truth();
    mixed_workload(&sim, 2_000);
    let truth = sim.truth();
    // Every account the truth lists was opened by a transfer on some statement (this
    // workload sets no balance by hand), so replaying the statements from the openings
    // gives every balance exactly.
    assert_eq!(truth_balances(&truth), replay_statements(&sim, &opening));
}

#[test]
fn concurrent_repeats_of_the_same_ids_execute_each_once() {
    let sim = simulator();
    let ids = 2_000u64;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let rails = sim.rails();
            scope.spawn(move || {
                for entry in 0..ids {
                    assert_eq!(
                        now(rails
                            .bank_firm
                            .withdraw(withdrawal_of(entry, entry % 10 + 1, 100))),
                        done()
                    );
                    assert_eq!(
                        now(rails
                            .securities_firm
                            .increase(securities(entry, entry % 10 + 1, 100))),
                        done()
                    );
                }
            });
        }
    });
    let truth = sim.truth();
    assert!(truth.is_conserved());
    assert_eq!(
        parent(&truth, ParentAccount::WithdrawalFirm(bank(LINKED_BANK))),
        money(100 * ids as i64)
    );
    let customers: Decimal = truth.customers.values().map(|m| m.value()).sum();
    assert_eq!(customers, Decimal::from(100 * ids));
    let stats = sim.stats();
    assert_eq!(stats.bank_firm.executed, ids);
    assert_eq!(stats.bank_firm.replayed, 3 * ids);
    assert_eq!(sim.executed(Rail::SecuritiesFirm).len() as u64, ids);
}

#[test]
fn stats_count_what_the_registry_holds() {
    let sim = simulator();
    mixed_workload(&sim, 1_500);
    let stats = sim.stats();
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        let s = stats.rail(rail);
        // Every call ends in exactly one of these.
        assert_eq!(
            s.calls,
            s.executed + s.replayed + s.refused + s.injected_failures + s.timeouts,
            "{rail}: {s:?}"
        );
        assert_eq!(sim.executed(rail).len() as u64, s.executed, "{rail}");
        assert_eq!(s.confirms, s.confirms_executed + s.confirms_not_executed);
    }
}

// ---------------------------------------------------------------------------------------
// The durable simulator: the outside world across a restart
// ---------------------------------------------------------------------------------------

fn durable_config(dir: &std::path::Path) -> Config {
    let mut config = Config::embedded();
    config.wal.dir = dir.display().to_string();
    config
}

/// Everything a simulator answers from: the truth, each rail's statement, and what each
/// rail holds about each of the first `entries` ids.
type Everything = (Truth, Vec<Vec<Execution>>, Vec<Vec<Option<Outcome>>>);

fn everything(sim: &Simulator, entries: u64) -> Everything {
    let statements = Rail::ALL.map(|rail| sim.executed(rail)).to_vec();
    let outcomes = Rail::ALL
        .map(|rail| (0..=entries).map(|e| sim.outcome(rail, id(e))).collect())
        .to_vec();
    (sim.truth(), statements, outcomes)
}

/// `checks` key checks of certificate 5 with faults, as the answers' text.
fn key_checks(sim: &Simulator, checks: usize) -> Vec<String> {
    sim.set_rates(Rail::Authentication, faults(0.3, 0.3, 0.0));
    let rails = sim.rails();
    let answers = (0..checks)
        .map(|_| format!("{:?}", now(rails.authentication.key_valid(certificate(5)))))
        .collect();
    sim.heal();
    answers
}

#[test]
fn a_reopened_simulator_answers_from_everything_the_last_one_knew() {
    let dir = tempfile::tempdir().unwrap();
    let config = durable_config(dir.path());
    let calls = 3_000;
    let (before, checks_before) = {
        let sim = Simulator::open(&config).unwrap();
        assert_eq!(
            sim.directory(),
            Some(
                dir.path()
                    .join("simulator")
                    .canonicalize()
                    .unwrap()
                    .as_path()
            )
        );
        sim.set_linked_balance(bank(LINKED_BANK), account("110-01-000003"), money(25_000));
        mixed_workload(&sim, calls);
        sim.heal();
        sim.set_linked_balance(bank(LINKED_BANK), account("110-01-000003"), money(7_000));
        sim.settle(
            ParentAccount::DepositFirm(bank("088")),
            ParentAccount::Collection,
            krw(1_000),
        )
        .unwrap();
        sim.revoke(44);
        let checks = key_checks(&sim, 20);
        (everything(&sim, calls), checks)
    };
    assert!(before.0.is_conserved());

    let sim = Simulator::open(&config).unwrap();
    let after = everything(&sim, calls);
    assert_eq!(after.0, before.0, "the truth");
    assert_eq!(after.1, before.1, "the statements");
    assert_eq!(after.2, before.2, "every id's outcome");

    // The key checks go on from their rank: the 20 before and the 20 after draw what 40
    // checks in one run draw.
    let checks_after = key_checks(&sim, 20);
    let one_run = key_checks(&simulator(), 40);
    assert_eq!([checks_before, checks_after].concat(), one_run);
    let rails = sim.rails();
    assert_eq!(
        now(rails.authentication.key_valid(certificate(44))),
        Some(Ok(false)),
        "a certificate revoked before the restart"
    );

    // A repeat of an id executed before the restart is done again, and moves nothing.
    let executed = &before.1[Rail::SecuritiesFirm as usize];
    let increase = executed
        .iter()
        .find(|e| e.operation == Operation::Increase)
        .expect("the workload executed increases");
    let repeat = SecuritiesTransfer {
        id: increase.id,
        customer: increase.customer,
        account: SecuritiesAccount::Customer(increase.customer),
        amount: increase.amount,
    };
    assert_eq!(now(rails.securities_firm.increase(repeat)), done());
    assert_eq!(sim.truth(), before.0);
    assert_eq!(
        now(rails.securities_firm.confirm(increase.id)),
        Some(Ok(Confirmation::Executed))
    );
    // An original text paid before the restart is refused under a new id.
    let paid = before.1[Rail::FinancialCompany as usize]
        .first()
        .expect("the workload paid instructions");
    let again = signed_instruction(
        calls + 1,
        remit_request(
            paid.customer.get(),
            &format!("R-{}", paid.id.entry),
            paid.amount.value().try_into().unwrap(),
        ),
        u128::from(paid.id.entry),
        &customer_key(),
    );
    assert!(is_refused(&now(rails.financial_company.instruct(again))));
    assert_eq!(
        refusal_of(&sim, Rail::FinancialCompany, calls + 1),
        Some(Refusal::ReplayedText)
    );
    // A call that timed out before the restart is still unknown: its confirm settles it.
    let unknown = (1..=calls)
        .find(|&e| before.2[Rail::BankFirm as usize][e as usize].is_none())
        .expect("the workload left calls unanswered");
    assert_eq!(
        now(rails.bank_firm.confirm(id(unknown))),
        Some(Ok(Confirmation::NotExecuted))
    );
    drop(rails);
    drop(sim);
    // ... and that settlement is kept too.
    let sim = Simulator::open(&config).unwrap();
    assert_eq!(
        sim.outcome(Rail::BankFirm, id(unknown)),
        Some(Outcome::NotExecuted(NotExecutedCause::Confirm))
    );
}

#[test]
fn concurrent_calls_on_a_durable_simulator_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = durable_config(dir.path());
    let ids = 5_000u64;
    let before = {
        let sim = Simulator::open(&config).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let rails = sim.rails();
                scope.spawn(move || {
                    for entry in (thread..ids).step_by(4) {
                        let who = entry % 10 + 1;
                        now(rails.bank_firm.withdraw(withdrawal_of(entry, who, 100)));
                        now(rails.securities_firm.increase(securities(entry, who, 100)));
                        now(rails.bank_firm.confirm(id(ids + entry)));
                    }
                });
            }
        });
        everything(&sim, 2 * ids)
    };
    let sim = Simulator::open(&config).unwrap();
    assert_eq!(everything(&sim, 2 * ids), before);
    assert_eq!(sim.executed(Rail::BankFirm).len() as u64, ids);
}

#[test]
fn opening_a_directory_in_use_in_this_process_shares_its_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let config = durable_config(dir.path());
    let first = Simulator::open(&config).unwrap();
    assert_eq!(
        now(first.rails().bank_firm.withdraw(withdrawal(1, 500))),
        done()
    );
    let second = Simulator::open(&config).unwrap();
    assert_eq!(second.executed(Rail::BankFirm).len(), 1);
    assert_eq!(
        now(second.rails().bank_firm.withdraw(withdrawal(2, 500))),
        done()
    );
    assert_eq!(first.executed(Rail::BankFirm).len(), 2);

    let mut other_seed = config.clone();
    other_seed.simulator.seed += 1;
    let refused = Simulator::open(&other_seed).unwrap_err().to_string();
    assert!(
        refused.contains("open in this process already"),
        "{refused}"
    );

    drop((first, second));
    let reopened = Simulator::open(&other_seed).unwrap();
    assert_eq!(reopened.executed(Rail::BankFirm).len(), 2);
}

#[test]
fn an_in_memory_simulator_keeps_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::new(&durable_config(dir.path()));
    assert_eq!(
        now(sim.rails().bank_firm.withdraw(withdrawal(1, 500))),
        done()
    );
    assert_eq!(sim.directory(), None);
    assert!(!dir.path().join("simulator").exists());
}

#[test]
fn a_refused_withdrawal_from_an_untouched_linked_account_does_not_list_it() {
    let sim = simulator();
    let rails = sim.rails();
    let too_much = withdrawal(1, DEFAULT_LINKED_BALANCE_WON + 1);
    assert!(is_refused(&now(rails.bank_firm.withdraw(too_much))));
    assert_eq!(
        refusal_of(&sim, Rail::BankFirm, 1),
        Some(Refusal::BankAccountShort)
    );
    assert!(sim.truth().linked.is_empty());
    assert_eq!(now(rails.bank_firm.withdraw(withdrawal(2, 1))), done());
    assert_eq!(sim.truth().linked.len(), 1);
}

/// The journal's cost per call: a million ids (a withdrawal and an increase each) on an
/// in-memory and on a durable simulator, back to back, from one and two threads. Run
/// with `cargo test --release -p omnibus-actors --test rails_sim measure -- --ignored
/// --nocapture`; docs/simulator.md quotes it.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_the_journal_cost_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let run = |sim: &Simulator, threads: u64, calls: u64| {
        let started = std::time::Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let rails = sim.rails();
                scope.spawn(move || {
                    for entry in (t..calls).step_by(threads as usize) {
                        let who = entry % 1000 + 1;
                        assert_eq!(
                            now(rails.bank_firm.withdraw(withdrawal_of(entry, who, 100))),
                            done()
                        );
                        assert_eq!(
                            now(rails.securities_firm.increase(securities(entry, who, 100))),
                            done()
                        );
                    }
                });
            }
        });
        started.elapsed().as_nanos() as f64 / (2 * calls) as f64
    };
    for round in 0..3 {
        for threads in [1, 2] {
            let memory = run(&Simulator::new(&Config::embedded()), threads, 1_000_000);
            let sub = dir.path().join(format!("{round}-{threads}"));
            let durable = run(
                &Simulator::open(&durable_config(&sub)).unwrap(),
                threads,
                1_000_000,
            );
            println!("round {round} threads {threads}: memory {memory:.0} ns/call, durable {durable:.0} ns/call, ratio {:.3}", memory / durable);
        }
    }
}
