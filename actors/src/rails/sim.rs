// Over 600 lines: one call path (fault draw, registry, execution, answer) shared by the four simulated rails, kept in one reading order.
//! The in-process simulators of the outside systems, which the engine runs on by default.
//!
//! One [`Simulator`] holds the outside truth (DESIGN.md, "Outside systems"): the bank
//! firm system's accounts, the securities firm's accounts (shared with the financial
//! company server, which is the same securities firm), and, per rail, the registry of
//! what it did with each request id. [`Simulator::rails`] hands out the four trait
//! objects the engine calls; the `Simulator` itself stays with the host or test, which
//! steers faults ([`Simulator::set_rates`], [`Simulator::heal`]) and reads the truth
//! ([`Simulator::truth`], [`Simulator::executed`], [`Simulator::stats`]).
//!
//! # How a call goes
//!
//! 1. Its fault is drawn deterministically from (seed, rail, operation, request id), so
//!    the same seed gives the same faults whatever the thread interleaving.
//! 2. A timeout fault stops here: nothing is executed and the future never resolves.
//! 3. Otherwise, under the lock of the id's registry entry: an id already executed is
//!    answered `Done` again (or refused if the id now names a different request); an id
//!    already settled as not executed is refused; an injected failure settles the id as
//!    not executed; else the request is checked and executed against the truth, or
//!    refused for a business reason and settled as not executed. A durable simulator
//!    puts the settlement on its journal before the entry is filled, still under the
//!    lock, so no answer or confirm reports what a restart would forget.
//! 4. A lost-response fault stops here: the request was dealt with, the answer never
//!    comes.
//! 5. The answer comes after the drawn latency (a `tokio` timer), or at once when the
//!    latency is zero.
//!
//! So execution happens at call time, before the latency: a confirm arriving while the
//! answer is still in flight sees the request executed, and an answer arriving after
//! the engine's timeout is its "late answer".
//!
//! A confirm answers from the registry and settles an unknown id as never to be executed.
//! It has the rail's latency but none of its faults, so supervisors always make progress;
//! only [`Simulator::set_confirm_unreachable`] makes it fail, for tests of the engine's
//! confirm retries.
//!
//! # What survives a restart
//!
//! [`Simulator::new`] lives in memory: tests and benchmarks that build their own world.
//! [`Simulator::open`] (what `Engine::start` runs on) keeps a journal under
//! `<wal.dir>/simulator/` of everything that decides an answer: each rail's registry,
//! the balances, the nonces paid, the certificates revoked and the key checks' ranks.
//! Reopened, it answers as the last process would have, after a SIGTERM or a kill -9;
//! not after a power loss. The switches (rates, `heal`, unreachable confirms, signature
//! checks) and the counters are the host's, not the world's, and start afresh.
//! docs/simulator.md has the file format and the guarantees.

mod draw;
mod durable;
mod fact;
mod identity;
mod journal;
mod notify;
mod refusal;
mod registry;
mod stats;
mod truth;
mod va_bank;
mod va_fact;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::mapref::entry::Entry;
use dashmap::{DashMap, DashSet};
use omnibus_core::config::{RailMode, SimulatedRailConfig};
use omnibus_core::record::SigningKey;
use omnibus_core::signing::{verify_signature, OriginalText, SigningError};
use omnibus_core::{
    AccountNo, Amount, BankCode, Config, Currency, Money, ParentAccount, RemitRequest,
    RequestHeader,
};
use tracing::debug;

pub use durable::SimError;
pub use journal::JournalError;
pub use refusal::{Refusal, SimRefusal};
pub use registry::{Execution, NotExecutedCause, Operation, Outcome};
pub use stats::{RailStats, SimStats};
pub use truth::{Truth, TruthAccount, DEFAULT_LINKED_BALANCE_WON};

use self::draw::{Call, Fault, RailRates};
use self::fact::Fact;
use self::journal::{Journal, Reservation};
use self::registry::{Interner, Slot};
use self::stats::{Counters, Stat};
use self::truth::{minor_of_amount, Books};
use super::{
    AccountInquiry, AccountTransfer, AccountVerdict, Answer, Authentication, BankFirm,
    Confirmation, Confirmed, Deposit, DepositSource, FinancialCompany, PaymentInstruction,
    RailAnswer, RailError, RailFuture, RailRequestId, Rails, SecuritiesAccount, SecuritiesFirm,
    SecuritiesTransfer, Settlement, Withdrawal,
};

/// One of the four outside systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rail {
    BankFirm = 0,
    SecuritiesFirm = 1,
    FinancialCompany = 2,
    Authentication = 3,
}

impl Rail {
    pub const ALL: [Rail; 4] = [
        Rail::BankFirm,
        Rail::SecuritiesFirm,
        Rail::FinancialCompany,
        Rail::Authentication,
    ];

    /// The system's name, as a `RailError` names it.
    pub const fn name(self) -> &'static str {
        match self {
            Rail::BankFirm => "bank firm system",
            Rail::SecuritiesFirm => "securities firm system",
            Rail::FinancialCompany => "financial company server",
            Rail::Authentication => "authentication server",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Rail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Shards of the maps that grow with the number of calls or customers. DashMap's default
/// (four per core) leaves millions of entries per shard in a long run, and growing a
/// shard rehashes it under its lock, stalling every call that hashes there for
/// milliseconds; with many small shards each growth is short.
const SHARDS: usize = 256;

/// One rail's switches, registry and counters.
struct RailState {
    rates: RailRates,
    confirm_unreachable: AtomicBool,
    registry: DashMap<RailRequestId, Slot>,
    counters: Counters,
}

impl RailState {
    fn new(rates: SimulatedRailConfig) -> Self {
        Self {
            rates: RailRates::new(rates),
            confirm_unreachable: AtomicBool::new(false),
            registry: DashMap::with_shard_amount(SHARDS),
            counters: Counters::new(),
        }
    }
}

struct Inner {
    seed: u64,
    books: Books,
    interner: Interner,
    rails: [RailState; 4],
    /// Certificate serials the authentication server no longer accepts.
    revoked: DashSet<u64>,
    /// How many key checks each certificate has had: the key of its next check's draw.
    key_checks: DashMap<u64, u64>,
    /// The holders of linked accounts a test named (`Some`) or closed (`None`); an
    /// account not here is open and held in whatever name the inquiry gives: the
    /// simulated bank does not model names it was not told (kept in memory only).
    holders: DashMap<(BankCode, AccountNo), Option<String>>,
    /// How many account inquiries came before: the key of the next one's draw.
    inquiries: std::sync::atomic::AtomicU64,
    /// The mobile identity check's phones (`identity.rs`).
    phones: identity::Phones,
    /// The nonce of every original text the financial company server executed, and the
    /// request id that executed it: a signed text pays once.
    nonces: DashMap<u128, RailRequestId>,
    /// Whether the financial company server verifies ed25519 signatures.
    signature_checks: AtomicBool,
    /// The record of everything above that decides an answer, for a simulator opened on
    /// a directory ([`Simulator::open`]); `None` for one that lives in memory only.
    journal: Option<Journal>,
    /// The notification sink's deliveries (`notify.rs`).
    notices: notify::SimNotices,
    /// The banks' virtual-account systems (`va_bank.rs`).
    va_banks: va_bank::VaBanks,
    /// The simulator's place among those open in this process. Declared after the
    /// journal, so that it is left only once the journal is synced and unlocked.
    _open: Option<durable::Registration>,
}

/// Journal slots reserved for one change, or nothing to reserve in memory.
enum Reserved<'a> {
    Memory,
    Journal(Reservation<'a>),
}

impl Reserved<'_> {
    /// Puts `fact` on record (a memory copy into the journal's mapping).
    fn record(&mut self, fact: Fact) {
        if let Reserved::Journal(slots) = self {
            slots.write(&fact.encode());
        }
    }
}

/// The outside world, simulated in process. Cloning it clones a handle to the same world.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("seed", &self.inner.seed)
            .finish_non_exhaustive()
    }
}

/// A future that resolves to `value` after `latency`, or at once (without a timer) when
/// the latency is zero.
/// The simulator's account for an account at the securities firm.
fn truth_account(account: SecuritiesAccount) -> TruthAccount {
    match account {
        SecuritiesAccount::Customer(c) => TruthAccount::Customer(c),
        SecuritiesAccount::Merchant(m) => TruthAccount::Merchant(m),
        SecuritiesAccount::Pocket(c, card) => TruthAccount::Pocket(c, card),
    }
}

fn respond<T: Send + 'static>(latency: Duration, value: T) -> RailFuture<T> {
    if latency.is_zero() {
        Box::pin(std::future::ready(value))
    } else {
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            value
        })
    }
}

/// A future that never resolves. It holds nothing, so dropping it (the engine's timeout)
/// frees everything the call had.
fn never<T: Send + 'static>() -> RailFuture<T> {
    Box::pin(std::future::pending())
}

impl Simulator {
    /// A simulator on the configuration's seed, fault rates and parent opening balances.
    /// Every linked account opens with [`DEFAULT_LINKED_BALANCE_WON`] unless set with
    /// [`Simulator::set_linked_balance`]; designated and customer accounts open at zero.
    ///
    /// It lives in memory only: dropped, it forgets the outside world. Tests and
    /// benchmarks use it; an engine that restarts on its data needs [`Simulator::open`].
    pub fn new(config: &Config) -> Simulator {
        Simulator {
            inner: Arc::new(Inner::new(config)),
        }
    }

    /// The four rails, for the engine, all backed by this simulator.
    pub fn rails(&self) -> Rails {
        Rails {
            bank_firm: Arc::new(SimBankFirm(Arc::clone(&self.inner))),
            securities_firm: Arc::new(SimSecuritiesFirm(Arc::clone(&self.inner))),
            financial_company: Arc::new(SimFinancialCompany(Arc::clone(&self.inner))),
            authentication: Arc::new(SimAuthentication(Arc::clone(&self.inner))),
            notifier: Arc::new(notify::SimNotifier(Arc::clone(&self.inner))),
            identity: Arc::new(identity::SimIdentity(Arc::clone(&self.inner))),
            va_bank: Arc::new(va_bank::SimVaBank(Arc::clone(&self.inner))),
        }
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    pub fn currency(&self) -> Currency {
        self.inner.books.currency()
    }

    /// The rail's current latency bounds and fault rates.
    pub fn rates(&self, rail: Rail) -> SimulatedRailConfig {
        self.inner.state(rail).rates.get()
    }

    /// Replaces the rail's latency bounds and fault rates, for calls from now on.
    ///
    /// # Panics
    /// When a rate is outside [0, 1], the three rates sum to more than 1, or
    /// `latency_us_min > latency_us_max`.
    pub fn set_rates(&self, rail: Rail, rates: SimulatedRailConfig) {
        self.inner.state(rail).rates.set(rates);
    }

    /// Sets every rail's fault rates to zero (latency kept) and makes every confirm
    /// reachable. Calls that already timed out or lost their answer stay pending; their
    /// ids are settled by a confirm or a repeat, as always.
    pub fn heal(&self) {
        for state in &self.inner.rails {
            state.rates.heal();
            state.confirm_unreachable.store(false, Ordering::Relaxed);
        }
    }

    /// Makes the rail's confirm inquiries fail with a `RailError` (`true`) or answer again
    /// (`false`). Confirms have no other faults.
    pub fn set_confirm_unreachable(&self, rail: Rail, unreachable: bool) {
        self.inner
            .state(rail)
            .confirm_unreachable
            .store(unreachable, Ordering::Relaxed);
    }

    /// Sets a linked account's balance, for example to make a charge short. The money
    /// comes from outside the modelled world: the account's opening moves with it, so
    /// the truth stays conserved.
    ///
    /// # Panics
    /// When `balance` is not in the engine's currency, or the journal cannot grow (a
    /// full disk).
    pub fn set_linked_balance(&self, bank: BankCode, account: AccountNo, balance: Money) {
        let mut reserved = self.inner.reserve_or_panic("set a linked balance");
        let set = self
            .inner
            .books
            .set_linked(bank, account, balance, |change| {
                reserved.record(Fact::LinkedSet {
                    bank,
                    account,
                    change_minor: change,
                });
            });
        if let Err(refused) = set {
            panic!("cannot set linked account {bank}/{account}: {refused}");
        }
    }

    /// Names the holder of a linked account, as the bank answers `verify_account` (I2);
    /// `None` closes the account for the inquiry (a closed or unknown account). Kept in
    /// memory only.
    pub fn set_linked_holder(&self, bank: BankCode, account: AccountNo, holder: Option<&str>) {
        self.inner
            .holders
            .insert((bank, account), holder.map(str::to_owned));
    }

    /// Says who holds a phone, as the mobile identity check answers (`None`: a phone
    /// whose check fails, as if its holder never entered the code). A phone not named is
    /// held by whoever the claim names. Kept in memory only.
    pub fn set_phone_holder(&self, phone: &str, holder: Option<(&str, &str)>) {
        self.inner.phones.set(phone, holder);
    }

    /// Whether the financial company server verifies each instruction's ed25519
    /// signature; on unless switched off. It always parses the original text, matches it
    /// against the instruction and refuses replays; only the signature check is switched.
    ///
    /// For benchmarks of the engine only. A check costs tens of microseconds of CPU; in
    /// production it runs on the financial company's machines, but in process it would
    /// take the engine's own cores and measure the simulator instead of the engine.
    pub fn set_signature_checks(&self, on: bool) {
        self.inner.signature_checks.store(on, Ordering::Relaxed);
    }

    /// Makes the authentication server answer that this certificate's key is not valid.
    ///
    /// # Panics
    /// When the journal cannot grow (a full disk).
    pub fn revoke(&self, cert_serial: u64) {
        let mut reserved = self.inner.reserve_or_panic("revoke a certificate");
        reserved.record(Fact::Revoked { cert_serial });
        self.inner.revoked.insert(cert_serial);
    }

    /// Moves money between two parent accounts in the truth directly, outside any rail
    /// call and its registry: for tests that arrange the outside world. The engine's own
    /// sweeps go through `BankFirm::settle`, like every outside call. Refused, and nothing
    /// moved, if `from` would go below its floor.
    ///
    /// # Panics
    /// When the journal cannot grow (a full disk).
    pub fn settle(
        &self,
        from: ParentAccount,
        to: ParentAccount,
        amount: Amount,
    ) -> Result<(), SimRefusal> {
        let mut reserved = self.inner.reserve_or_panic("move money between parents");
        self.inner
            .books
            .transfer(TruthAccount::Parent(from), TruthAccount::Parent(to), amount)?;
        reserved.record(Fact::ParentMoved {
            from,
            to,
            amount_minor: minor_of_amount(amount),
        });
        Ok(())
    }

    /// A snapshot of every outside balance and their sum. Exact when no call is
    /// executing; see the `truth` module for why.
    pub fn truth(&self) -> Truth {
        self.inner.books.snapshot()
    }

    /// The rail's statement: every request it executed, in request id order. Empty for
    /// the authentication server, which executes nothing.
    pub fn executed(&self, rail: Rail) -> Vec<Execution> {
        self.inner.executed(rail)
    }

    /// What the rail holds about one request id: `None` if it never executed or settled
    /// it (never called, or every call timed out and no confirm came).
    pub fn outcome(&self, rail: Rail, id: RailRequestId) -> Option<Outcome> {
        let slot = *self.inner.state(rail).registry.get(&id)?;
        Some(self.inner.outcome(id, &slot))
    }

    /// What every rail counted so far.
    pub fn stats(&self) -> SimStats {
        let snapshot = |rail: Rail| self.inner.state(rail).counters.snapshot();
        SimStats {
            bank_firm: snapshot(Rail::BankFirm),
            securities_firm: snapshot(Rail::SecuritiesFirm),
            financial_company: snapshot(Rail::FinancialCompany),
            authentication: snapshot(Rail::Authentication),
        }
    }

    /// About how many heap bytes the simulator's per-call memory takes: each rail's
    /// registry and the executed texts' nonces, which grow by an entry per call for the
    /// simulator's life. A benchmark that runs the simulator in the engine's process
    /// subtracts it to measure the engine's own memory. An estimate from the tables'
    /// capacities (a swiss table spends about one control byte per bucket and keeps at
    /// most 7/8 of its buckets full).
    pub fn heap_bytes_estimate(&self) -> u64 {
        fn table(capacity: usize, entry: usize) -> u64 {
            (capacity as u64) * (entry as u64 + 1) * 8 / 7
        }
        let registries: u64 = self
            .inner
            .rails
            .iter()
            .map(|r| {
                table(
                    r.registry.capacity(),
                    std::mem::size_of::<(RailRequestId, Slot)>(),
                )
            })
            .sum();
        registries
            + table(
                self.inner.nonces.capacity(),
                std::mem::size_of::<(u128, RailRequestId)>(),
            )
    }
}

impl Inner {
    /// A world as the configuration opens it, in memory only.
    fn new(config: &Config) -> Inner {
        let sim = &config.simulator;
        match sim.mode {
            RailMode::Simulated => {}
        }
        Inner {
            seed: sim.seed,
            books: Books::new(config),
            interner: Interner::new(),
            rails: [
                RailState::new(sim.bank_firm),
                RailState::new(sim.securities_firm),
                RailState::new(sim.financial_company),
                RailState::new(sim.authentication),
            ],
            revoked: DashSet::new(),
            key_checks: DashMap::new(),
            holders: DashMap::new(),
            inquiries: Default::default(),
            phones: Default::default(),
            nonces: DashMap::with_shard_amount(SHARDS),
            signature_checks: AtomicBool::new(true),
            journal: None,
            notices: Default::default(),
            va_banks: Default::default(),
            _open: None,
        }
    }

    fn state(&self, rail: Rail) -> &RailState {
        &self.rails[rail.index()]
    }

    /// Journal slots for `count` facts, reserved before anything changes: the one step
    /// that can fail (a new chunk that cannot be made), so a failure changes nothing.
    /// The rail then cannot be asked, as when a real system's storage fails.
    fn reserve(&self, rail: Rail, count: u64) -> Result<Reserved<'_>, RailError> {
        match &self.journal {
            None => Ok(Reserved::Memory),
            Some(journal) => journal.reserve(count).map(Reserved::Journal).map_err(|e| {
                tracing::error!(rail = rail.name(), error = %e, "the simulator's journal cannot grow; the rail answers as unreachable");
                RailError {
                    system: rail.name(),
                    what: format!("simulated: its journal cannot grow ({e}); nothing was done"),
                }
            }),
        }
    }

    /// As `reserve`, for the host's own changes, which have no answer to fail with.
    fn reserve_or_panic(&self, what: &str) -> Reserved<'_> {
        match &self.journal {
            None => Reserved::Memory,
            Some(journal) => match journal.reserve(1) {
                Ok(slots) => Reserved::Journal(slots),
                Err(e) => panic!("cannot {what}: the simulator's journal cannot grow: {e}"),
            },
        }
    }

    fn outcome(&self, id: RailRequestId, slot: &Slot) -> Outcome {
        slot.outcome(id, &self.interner, self.books.currency())
    }

    fn draw(&self, rail: Rail, call: Call, id: RailRequestId) -> u64 {
        draw::word(self.seed, rail, call, (id.entry, u64::from(id.attempt)))
    }

    /// One call that moves money: the pipeline of the module documentation. `execute`
    /// runs only for an id the rail has not settled yet, under the lock of its registry
    /// entry, so a request executes at most once and a confirm sees it whole.
    ///
    /// The fact of the settlement is put on the journal before the slot is inserted,
    /// still under that lock: before any answer or confirm can report it.
    fn call(
        &self,
        rail: Rail,
        call: Call,
        plan: Execution,
        execute: impl FnOnce(&Execution, &mut Reserved<'_>) -> Result<(), SimRefusal>,
    ) -> RailFuture<Answer> {
        let state = self.state(rail);
        state.counters.add(Stat::Calls);
        let id = plan.id;
        let word = self.draw(rail, call, id);
        let fault = state.rates.fault(word);
        if fault == Fault::Timeout {
            state.counters.add(Stat::Timeouts);
            debug!(rail = rail.name(), %id, "simulated timeout: not executed, never answered");
            return never();
        }
        let refuse = |refusal: Refusal, reason: String| {
            state.counters.add(Stat::Refused(refusal));
            debug!(rail = rail.name(), %id, ?refusal, %reason, "refused");
            RailAnswer::Refused { reason }
        };
        // A payment instruction also records the nonce of the text it pays.
        let records = if call == Call::Instruct { 2 } else { 1 };
        let settled = |reserved: &mut Reserved<'_>, outcome: Outcome| {
            reserved.record(Fact::Settled { rail, id, outcome });
        };
        let answer = match state.registry.entry(id) {
            Entry::Occupied(settled) => match self.outcome(id, settled.get()) {
                Outcome::Executed(done) if done == plan => {
                    state.counters.add(Stat::Replayed);
                    RailAnswer::Done
                }
                Outcome::Executed(done) => refuse(
                    Refusal::IdReused,
                    format!("request {id} was already executed as another request: {done}"),
                ),
                Outcome::NotExecuted(cause) => refuse(
                    Refusal::SettledNotExecuted,
                    format!(
                        "request {id} was settled as not executed ({cause:?}) and never will be"
                    ),
                ),
            },
            Entry::Vacant(vacant) => {
                let mut reserved = match self.reserve(rail, records) {
                    Ok(reserved) => reserved,
                    Err(unreachable) => {
                        return respond(state.rates.latency(word), Err(unreachable))
                    }
                };
                if fault == Fault::Failure {
                    let cause = NotExecutedCause::InjectedFailure;
                    settled(&mut reserved, Outcome::NotExecuted(cause));
                    vacant.insert(Slot::NotExecuted(cause));
                    state.counters.add(Stat::InjectedFailures);
                    debug!(rail = rail.name(), %id, "simulated failure: refused, not executed");
                    RailAnswer::Refused {
                        reason: format!("simulated failure of the {rail}"),
                    }
                } else {
                    match execute(&plan, &mut reserved) {
                        Ok(()) => {
                            let slot = Slot::executed(&plan, &self.interner)
                                .expect("the simulators plan only transfers of a recorded shape");
                            settled(&mut reserved, Outcome::Executed(plan));
                            vacant.insert(slot);
                            state.counters.add(Stat::Executed);
                            RailAnswer::Done
                        }
                        Err(refused) => {
                            let cause = NotExecutedCause::Refused(refused.refusal);
                            settled(&mut reserved, Outcome::NotExecuted(cause));
                            vacant.insert(Slot::NotExecuted(cause));
                            refuse(refused.refusal, refused.reason)
                        }
                    }
                }
            }
        };
        if fault == Fault::LostResponse {
            state.counters.add(Stat::LostResponses);
            debug!(rail = rail.name(), %id, "simulated lost response: dealt with, never answered");
            return never();
        }
        respond(state.rates.latency(word), Ok(answer))
    }

    fn confirm(&self, rail: Rail, id: RailRequestId) -> RailFuture<Confirmed> {
        let state = self.state(rail);
        state.counters.add(Stat::Confirms);
        let latency = state.rates.latency(self.draw(rail, Call::Confirm, id));
        if state.confirm_unreachable.load(Ordering::Relaxed) {
            state.counters.add(Stat::ConfirmsUnreachable);
            return respond(
                latency,
                Err(RailError {
                    system: rail.name(),
                    what: format!("simulated: confirm of {id} is switched off"),
                }),
            );
        }
        let confirmation = match state.registry.entry(id) {
            Entry::Occupied(settled) => match settled.get() {
                Slot::Executed(_) => Confirmation::Executed,
                Slot::NotExecuted(_) => Confirmation::NotExecuted,
            },
            Entry::Vacant(vacant) => {
                let mut reserved = match self.reserve(rail, 1) {
                    Ok(reserved) => reserved,
                    Err(unreachable) => {
                        state.counters.add(Stat::ConfirmsUnreachable);
                        return respond(latency, Err(unreachable));
                    }
                };
                // From now on this id is refused: a call still in flight (a timeout) can
                // never execute after the engine was told it did not. On the journal
                // first, so that a restart keeps the promise.
                let cause = NotExecutedCause::Confirm;
                reserved.record(Fact::Settled {
                    rail,
                    id,
                    outcome: Outcome::NotExecuted(cause),
                });
                vacant.insert(Slot::NotExecuted(cause));
                Confirmation::NotExecuted
            }
        };
        state.counters.add(match confirmation {
            Confirmation::Executed => Stat::ConfirmsExecuted,
            Confirmation::NotExecuted => Stat::ConfirmsNotExecuted,
        });
        respond(latency, Ok(confirmation))
    }

    fn withdraw(&self, w: Withdrawal) -> RailFuture<Answer> {
        let plan = Execution {
            id: w.id,
            operation: Operation::Withdraw,
            customer: w.customer,
            amount: w.amount,
            from: TruthAccount::Linked {
                bank: w.bank,
                account: w.linked_account,
            },
            to: TruthAccount::Parent(ParentAccount::WithdrawalFirm(w.bank)),
        };
        self.call(Rail::BankFirm, Call::Withdraw, plan, |p, _| {
            self.books.transfer(p.from, p.to, p.amount)
        })
    }

    fn deposit(&self, d: Deposit) -> RailFuture<Answer> {
        let (from, to) = match d.from {
            DepositSource::DepositFirm(bank) => (
                ParentAccount::DepositFirm(bank),
                TruthAccount::Designated {
                    bank: d.to_bank,
                    account: d.to_account,
                },
            ),
            DepositSource::WithdrawalFirm(bank) => (
                ParentAccount::WithdrawalFirm(bank),
                TruthAccount::Linked {
                    bank: d.to_bank,
                    account: d.to_account,
                },
            ),
        };
        let plan = Execution {
            id: d.id,
            operation: Operation::Deposit,
            customer: d.customer,
            amount: d.amount,
            from: TruthAccount::Parent(from),
            to,
        };
        self.call(Rail::BankFirm, Call::Deposit, plan, |p, _| {
            self.books.transfer(p.from, p.to, p.amount)
        })
    }

    fn settle(&self, s: Settlement) -> RailFuture<Answer> {
        let plan = Execution {
            id: s.id,
            operation: Operation::Settle,
            customer: omnibus_core::saga::HOUSE,
            amount: s.amount,
            from: TruthAccount::Parent(s.from),
            to: TruthAccount::Parent(s.to),
        };
        self.call(Rail::BankFirm, Call::Settle, plan, |p, _| {
            self.books.transfer(p.from, p.to, p.amount)
        })
    }

    fn securities(&self, t: SecuritiesTransfer, operation: Operation) -> RailFuture<Answer> {
        let fin_parent = TruthAccount::Parent(ParentAccount::FinParent);
        let account = truth_account(t.account);
        let (from, to, call) = match operation {
            Operation::Decrease => (account, fin_parent, Call::Decrease),
            _ => (fin_parent, account, Call::Increase),
        };
        let plan = Execution {
            id: t.id,
            operation,
            customer: t.customer,
            amount: t.amount,
            from,
            to,
        };
        self.call(Rail::SecuritiesFirm, call, plan, |p, _| {
            self.books.transfer(p.from, p.to, p.amount)
        })
    }

    /// `SS.transfer`: between two of the securities firm's own accounts, atomically.
    fn transfer_between(&self, t: AccountTransfer) -> RailFuture<Answer> {
        let side = truth_account;
        let plan = Execution {
            id: t.id,
            operation: Operation::Transfer,
            customer: t.customer,
            amount: t.amount,
            from: side(t.from),
            to: side(t.to),
        };
        self.call(Rail::SecuritiesFirm, Call::Transfer, plan, |p, _| {
            self.books.transfer(p.from, p.to, p.amount)
        })
    }

    fn instruct(&self, pi: PaymentInstruction) -> RailFuture<Answer> {
        let plan = Execution {
            id: pi.id,
            operation: Operation::Instruct,
            customer: pi.customer,
            amount: pi.amount,
            from: TruthAccount::Customer(pi.customer),
            to: TruthAccount::Designated {
                bank: pi.payee.bank,
                account: pi.payee.account,
            },
        };
        self.call(
            Rail::FinancialCompany,
            Call::Instruct,
            plan,
            |p, reserved| self.verify_and_pay(&pi, p, reserved),
        )
    }

    /// The financial company server's own checks of a payment instruction (SPEC §5a
    /// step 4), then the payment. Expiry is the engine's check, not the server's.
    fn verify_and_pay(
        &self,
        pi: &PaymentInstruction,
        plan: &Execution,
        reserved: &mut Reserved<'_>,
    ) -> Result<(), SimRefusal> {
        let text = OriginalText::parse(&pi.original_text)
            .map_err(|e| SimRefusal::new(Refusal::MalformedText, e.to_string()))?;
        let request = RemitRequest {
            header: RequestHeader {
                customer: pi.customer,
                request_date: pi.request_date,
                request_no: pi.request_no,
                amount: pi.amount,
            },
            payee: pi.payee,
        };
        text.check_matches(&request)
            .map_err(|e| SimRefusal::new(Refusal::AlteredText, e.to_string()))?;
        if self.signature_checks.load(Ordering::Relaxed) {
            verify_signature(
                &pi.original_text,
                &pi.signature,
                &pi.certificate.public_key,
                pi.certificate.cert_serial,
            )
            .map_err(|e| {
                let refusal = match e {
                    SigningError::BadKey { .. } => Refusal::BadKey,
                    _ => Refusal::BadSignature,
                };
                SimRefusal::new(refusal, e.to_string())
            })?;
        }
        // The nonce entry stays locked while the customer is debited, so two ids carrying
        // the same text cannot both pay.
        match self.nonces.entry(text.nonce) {
            Entry::Occupied(first) => Err(SimRefusal::new(
                Refusal::ReplayedText,
                format!(
                    "the original text was already executed as request {}",
                    first.get()
                ),
            )),
            Entry::Vacant(vacant) => {
                self.books.transfer(plan.from, plan.to, plan.amount)?;
                reserved.record(Fact::Nonce {
                    nonce: text.nonce,
                    id: plan.id,
                });
                vacant.insert(plan.id);
                Ok(())
            }
        }
    }

    /// The authentication server. The trait gives no request id, so the draw is keyed by
    /// the certificate serial and how many checks of it came before: deterministic as
    /// long as the checks of one certificate come in a deterministic order.
    fn key_valid(&self, key: SigningKey) -> RailFuture<Result<bool, RailError>> {
        let rail = Rail::Authentication;
        let state = self.state(rail);
        state.counters.add(Stat::Calls);
        let nth = {
            let mut checks = self.key_checks.entry(key.cert_serial).or_insert(0);
            let mut reserved = match self.reserve(rail, 1) {
                Ok(reserved) => reserved,
                Err(unreachable) => return respond(Duration::ZERO, Err(unreachable)),
            };
            let nth = *checks;
            // The rank keys the check's fault draw: kept, so that a restart does not
            // draw the first checks' faults again.
            reserved.record(Fact::KeyChecked {
                cert_serial: key.cert_serial,
                nth,
            });
            *checks += 1;
            nth
        };
        let word = draw::word(self.seed, rail, Call::KeyValid, (key.cert_serial, nth));
        match state.rates.fault(word) {
            Fault::Timeout => {
                state.counters.add(Stat::Timeouts);
                never()
            }
            // A key check changes nothing, so a lost answer is just no answer.
            Fault::LostResponse => {
                state.counters.add(Stat::LostResponses);
                never()
            }
            Fault::Failure => {
                state.counters.add(Stat::InjectedFailures);
                respond(
                    state.rates.latency(word),
                    Err(RailError {
                        system: rail.name(),
                        what: format!("simulated failure checking certificate {}", key.cert_serial),
                    }),
                )
            }
            Fault::None => {
                let valid = !self.revoked.contains(&key.cert_serial);
                state.counters.add(Stat::Executed);
                if !valid {
                    state.counters.add(Stat::KeysRevoked);
                }
                respond(state.rates.latency(word), Ok(valid))
            }
        }
    }
}

impl Inner {
    /// `BS.verify_account`: drawn like a key check (a timeout or a lost answer is no
    /// answer, a failure an error), keyed by how many inquiries came before.
    fn verify_account(
        &self,
        inquiry: AccountInquiry,
    ) -> RailFuture<Result<AccountVerdict, RailError>> {
        let rail = Rail::BankFirm;
        let state = self.state(rail);
        state.counters.add(Stat::Calls);
        let nth = self.inquiries.fetch_add(1, Ordering::Relaxed);
        let word = draw::word(self.seed, rail, Call::VerifyAccount, (0, nth));
        match state.rates.fault(word) {
            Fault::Timeout | Fault::LostResponse => {
                state.counters.add(Stat::Timeouts);
                never()
            }
            Fault::Failure => {
                state.counters.add(Stat::InjectedFailures);
                respond(
                    state.rates.latency(word),
                    Err(RailError {
                        system: rail.name(),
                        what: format!(
                            "simulated failure verifying {}/{}",
                            inquiry.bank, inquiry.account
                        ),
                    }),
                )
            }
            Fault::None => {
                let verdict = match self.holders.get(&(inquiry.bank, inquiry.account)) {
                    None => AccountVerdict::Verified,
                    Some(held) => match held.as_deref() {
                        None => AccountVerdict::NotOpen,
                        Some(name) if name == inquiry.holder_name => AccountVerdict::Verified,
                        Some(_) => AccountVerdict::HolderMismatch,
                    },
                };
                respond(state.rates.latency(word), Ok(verdict))
            }
        }
    }

    fn executed(&self, rail: Rail) -> Vec<Execution> {
        let mut executed: Vec<Execution> = self
            .state(rail)
            .registry
            .iter()
            .filter_map(|e| match self.outcome(*e.key(), e.value()) {
                Outcome::Executed(execution) => Some(execution),
                Outcome::NotExecuted(_) => None,
            })
            .collect();
        executed.sort_unstable_by_key(|e| e.id);
        executed
    }

    /// The statement the rail hands out: its executed requests, as the engine matches them.
    fn statement(&self, rail: Rail) -> RailFuture<super::Statement> {
        let lines = self
            .executed(rail)
            .into_iter()
            .map(|e| omnibus_core::reconcile::StatementLine {
                entry: e.id.entry,
                attempt: e.id.attempt,
                amount: e.amount,
            })
            .collect();
        Box::pin(std::future::ready(Ok(lines)))
    }
}

struct SimBankFirm(Arc<Inner>);
struct SimSecuritiesFirm(Arc<Inner>);
struct SimFinancialCompany(Arc<Inner>);
struct SimAuthentication(Arc<Inner>);

impl BankFirm for SimBankFirm {
    fn withdraw(&self, withdrawal: Withdrawal) -> RailFuture<Answer> {
        self.0.withdraw(withdrawal)
    }

    fn deposit(&self, deposit: Deposit) -> RailFuture<Answer> {
        self.0.deposit(deposit)
    }

    fn settle(&self, settlement: Settlement) -> RailFuture<Answer> {
        self.0.settle(settlement)
    }

    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed> {
        self.0.confirm(Rail::BankFirm, id)
    }

    fn statement(&self) -> RailFuture<super::Statement> {
        self.0.statement(Rail::BankFirm)
    }

    fn verify_account(
        &self,
        inquiry: AccountInquiry,
    ) -> RailFuture<Result<AccountVerdict, RailError>> {
        self.0.verify_account(inquiry)
    }
}

impl SecuritiesFirm for SimSecuritiesFirm {
    fn increase(&self, transfer: SecuritiesTransfer) -> RailFuture<Answer> {
        self.0.securities(transfer, Operation::Increase)
    }

    fn decrease(&self, transfer: SecuritiesTransfer) -> RailFuture<Answer> {
        self.0.securities(transfer, Operation::Decrease)
    }

    fn transfer(&self, transfer: AccountTransfer) -> RailFuture<Answer> {
        self.0.transfer_between(transfer)
    }

    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed> {
        self.0.confirm(Rail::SecuritiesFirm, id)
    }

    fn statement(&self) -> RailFuture<super::Statement> {
        self.0.statement(Rail::SecuritiesFirm)
    }
}

impl FinancialCompany for SimFinancialCompany {
    fn instruct(&self, instruction: PaymentInstruction) -> RailFuture<Answer> {
        self.0.instruct(instruction)
    }

    fn confirm(&self, id: RailRequestId) -> RailFuture<Confirmed> {
        self.0.confirm(Rail::FinancialCompany, id)
    }

    fn statement(&self) -> RailFuture<super::Statement> {
        self.0.statement(Rail::FinancialCompany)
    }
}

impl Authentication for SimAuthentication {
    fn key_valid(&self, key: SigningKey) -> RailFuture<Result<bool, RailError>> {
        self.0.key_valid(key)
    }
}
