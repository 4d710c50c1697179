// Over 600 lines: with its tests (the fixed order step by step, and the property of
// invariant 1), the one function every instrument's authorization goes through.
//! An instrument's spending controls and counters, and steps 2–9 of the one fixed order
//! of checks every instrument goes through (INSTRUMENTS.md §6.2). Step 0 (a well formed,
//! new request) is the payment log's, step 1 the merchant's ([`super::merchant::Merchant::admits`]),
//! step 1a the split's; [`authorize`] runs the rest for one leg, in order, and answers the
//! first failure's [`DeclineCode`], which moves nothing.
//!
//! **Reserve, then commit.** An approval reserves a use and the amount on the counters
//! ([`Counters::reserve`]) before any outside call; the reservation is committed when the
//! money moved and released when it did not. Reserved uses and amounts count against every
//! limit, so that two authorizations of one instrument at once never exceed them
//! (invariant 1 of §6.7; the property test below).

use serde::{Deserialize, Serialize};

use super::codes::{DeclineCode, RefusalCode};
use super::kst::{kst_day, kst_month};
use crate::ids::{MerchantId, Tag, TerminalId};

/// Wrong secrets in a row that lock an instrument (§6.2 step 3; D-5.3).
pub const WRONG_SECRETS_TO_LOCK: u8 = 5;

/// An instrument's status (§6.2). Only `Active` may pay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstrumentStatus {
    PendingActivation,
    Active,
    Suspended,
    Locked,
    Exhausted,
    Expired,
    Revoked,
    Closed,
}

impl InstrumentStatus {
    /// Step 2: the decline of a status that may not pay.
    pub const fn decline(self) -> Option<DeclineCode> {
        match self {
            InstrumentStatus::Active => None,
            InstrumentStatus::PendingActivation => Some(DeclineCode::NotActivated),
            InstrumentStatus::Locked => Some(DeclineCode::Locked),
            InstrumentStatus::Suspended => Some(DeclineCode::Suspended),
            InstrumentStatus::Revoked => Some(DeclineCode::Revoked),
            InstrumentStatus::Closed => Some(DeclineCode::Closed),
            InstrumentStatus::Expired => Some(DeclineCode::Expired),
            InstrumentStatus::Exhausted => Some(DeclineCode::UsesExhausted),
        }
    }
}

/// The period of a budget, on the KST calendar.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
}

impl Period {
    /// The number of the period an instant falls in (a KST day or a KST month).
    pub const fn of(self, at_ms: u64) -> u32 {
        match self {
            Period::Day => kst_day(at_ms),
            Period::Month => kst_month(at_ms),
        }
    }
}

/// A budget per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub period: Period,
    pub budget_krw: u64,
}

/// What an instrument allows (§6.2). Every limit is optional; an empty allow-list allows
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Controls {
    /// The first instant the instrument may pay (ms since the epoch), if any.
    pub valid_from_ms: Option<u64>,
    /// The instant from which it may no longer pay, if any.
    pub valid_until_ms: Option<u64>,
    pub uses_max: Option<u32>,
    pub per_tx_max_krw: Option<u64>,
    pub total_max_krw: Option<u64>,
    pub budget: Option<Budget>,
    pub allowed_terminals: Vec<TerminalId>,
    pub allowed_merchants: Vec<MerchantId>,
    pub allowed_categories: Vec<Tag>,
    pub blocked_categories: Vec<Tag>,
    pub allowed_regions: Vec<Tag>,
    /// A purpose the payment must declare; checked as a category (§6.2 step 5).
    pub purpose: Option<Tag>,
    /// Whether a payment must carry the instrument's secret.
    pub require_secret: bool,
}

impl Controls {
    /// Controls an issue may set: a `per_tx_max_krw` above `sale_max_krw` can never be
    /// used and is refused `CONTROLS_INVALID` (§6.2), as is an empty validity window.
    pub fn validate(&self, sale_max_krw: u64) -> Result<(), (RefusalCode, &'static str)> {
        let invalid = |why| Err((RefusalCode::ControlsInvalid, why));
        if self.per_tx_max_krw.is_some_and(|cap| cap > sale_max_krw) {
            return invalid("per_tx_max_krw is above sale_max_krw");
        }
        if let (Some(from), Some(until)) = (self.valid_from_ms, self.valid_until_ms) {
            if until <= from {
                return invalid("valid_until_ms is not after valid_from_ms");
            }
        }
        if self.uses_max == Some(0) {
            return invalid("uses_max is 0");
        }
        Ok(())
    }
}

/// What an instrument has used, and what authorizations in progress have reserved.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Counters {
    pub uses: u32,
    pub spent_total_krw: u64,
    /// Spent in the period numbered `period` ([`Period::of`]); a later period starts at 0.
    pub spent_in_period_krw: u64,
    pub period: u32,
    pub reserved_uses: u32,
    pub reserved_krw: u64,
    /// Wrong secrets in a row; the [`WRONG_SECRETS_TO_LOCK`]th locks the instrument.
    pub failed_secret_count: u8,
}

/// A payment's leg as the controls see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    pub merchant: MerchantId,
    pub merchant_category: Tag,
    pub terminal: Option<TerminalId>,
    pub region: Option<Tag>,
    pub purpose: Option<Tag>,
    pub amount_krw: u64,
    /// The engine's clock at the authorization.
    pub at_ms: u64,
}

/// The typed secret, as the instrument's [`super::secret::PinVerifier`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    /// The payment carried no secret.
    NotGiven,
    Right,
    Wrong,
    /// The stored secret is under a retired key and must be set again: declined
    /// `WRONG_SECRET`, but not counted as a wrong try.
    Unusable,
}

/// The money a leg can draw on (step 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Funds {
    /// The funding balance less what is held on it.
    pub available_krw: u64,
    /// What an allowed top-up may add (0 where none is allowed).
    pub top_up_krw: u64,
}

/// The instrument under authorization.
#[derive(Clone, Copy, Debug)]
pub struct Authorizing<'a> {
    pub status: InstrumentStatus,
    /// SPEC S31–S33: the owner may trade.
    pub owner_tradable: bool,
    pub controls: &'a Controls,
    pub counters: &'a Counters,
    /// `sale_max_krw` (D-0.1) when the leg draws on a customer or pocket balance; `None`
    /// for a leg an outside funder pays.
    pub sale_max_krw: Option<u64>,
}

/// What the check of the secret does to the counter of wrong secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretEffect {
    Unchanged,
    /// A right secret resets the count.
    Reset,
    /// One more wrong secret; `locks` when it is the one that locks the instrument.
    Wrong {
        locks: bool,
    },
}

/// The verdict on one leg: approved (with what must come from a top-up) or declined, and
/// what the secret's check does to the counters either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Result<Approval, DeclineCode>,
    pub secret: SecretEffect,
}

/// An approved leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Approval {
    /// How much of the amount an allowed top-up must bring first (0: the balance covers it).
    pub top_up_krw: u64,
}

/// Steps 2–9 of §6.2, in order, for one leg. The first failure answers.
pub fn authorize(instrument: &Authorizing<'_>, secret: Secret, ask: &Ask, funds: Funds) -> Verdict {
    let declined = |code, secret| Verdict {
        outcome: Err(code),
        secret,
    };
    // 2: the status (before the secret: a locked instrument's tries do not count).
    if let Some(code) = instrument.status.decline() {
        return declined(code, SecretEffect::Unchanged);
    }
    // 2a: the owner.
    if !instrument.owner_tradable {
        return declined(DeclineCode::OwnerNotTradable, SecretEffect::Unchanged);
    }
    // 3: the secret.
    let effect = match (secret, instrument.controls.require_secret) {
        (Secret::Wrong, _) => {
            let locks = instrument.counters.failed_secret_count + 1 >= WRONG_SECRETS_TO_LOCK;
            return declined(DeclineCode::WrongSecret, SecretEffect::Wrong { locks });
        }
        (Secret::Unusable, _) | (Secret::NotGiven, true) => {
            return declined(DeclineCode::WrongSecret, SecretEffect::Unchanged)
        }
        (Secret::Right, _) if instrument.counters.failed_secret_count > 0 => SecretEffect::Reset,
        _ => SecretEffect::Unchanged,
    };
    match limits(instrument, ask, funds) {
        Ok(approval) => Verdict {
            outcome: Ok(approval),
            secret: effect,
        },
        Err(code) => declined(code, effect),
    }
}

/// Whether an allow-list allows `item`: an empty list allows everything.
fn allows<T: PartialEq>(list: &[T], item: T) -> bool {
    list.is_empty() || list.contains(&item)
}

/// Steps 4–9.
fn limits(instrument: &Authorizing<'_>, ask: &Ask, funds: Funds) -> Result<Approval, DeclineCode> {
    let c = instrument.controls;
    let n = instrument.counters;
    // 4: the validity window.
    if c.valid_from_ms.is_some_and(|from| ask.at_ms < from) {
        return Err(DeclineCode::NotYetValid);
    }
    if c.valid_until_ms.is_some_and(|until| ask.at_ms >= until) {
        return Err(DeclineCode::Expired);
    }
    // 5: terminal, merchant, category (the purpose included), region.
    if !c.allowed_terminals.is_empty()
        && !ask
            .terminal
            .is_some_and(|t| c.allowed_terminals.contains(&t))
    {
        return Err(DeclineCode::TerminalNotAllowed);
    }
    if !allows(&c.allowed_merchants, ask.merchant) {
        return Err(DeclineCode::MerchantNotAllowed);
    }
    if !allows(&c.allowed_categories, ask.merchant_category)
        || c.blocked_categories.contains(&ask.merchant_category)
        || c.purpose.is_some_and(|p| ask.purpose != Some(p))
    {
        return Err(DeclineCode::CategoryNotAllowed);
    }
    if !c.allowed_regions.is_empty() && !ask.region.is_some_and(|r| c.allowed_regions.contains(&r))
    {
        return Err(DeclineCode::RegionNotAllowed);
    }
    // 6: uses left.
    if c.uses_max
        .is_some_and(|max| u64::from(n.uses) + u64::from(n.reserved_uses) >= u64::from(max))
    {
        return Err(DeclineCode::UsesExhausted);
    }
    // 7: the per-transaction cap, then the sale cap.
    let amount = ask.amount_krw;
    if c.per_tx_max_krw.is_some_and(|cap| amount > cap) {
        return Err(DeclineCode::AmountCapExceeded);
    }
    if instrument.sale_max_krw.is_some_and(|cap| amount > cap) {
        return Err(DeclineCode::OverSaleMax);
    }
    // 8: the period budget, then the total (reservations count against both).
    let with_reserved =
        |spent: u64| u128::from(spent) + u128::from(n.reserved_krw) + u128::from(amount);
    if let Some(budget) = c.budget {
        let spent = n.spent_in(budget.period, ask.at_ms);
        if with_reserved(spent) > u128::from(budget.budget_krw) {
            return Err(DeclineCode::BudgetExceeded);
        }
    }
    if c.total_max_krw
        .is_some_and(|max| with_reserved(n.spent_total_krw) > u128::from(max))
    {
        return Err(DeclineCode::AmountCapExceeded);
    }
    // 9: funds, after any allowed top-up.
    if u128::from(amount) > u128::from(funds.available_krw) + u128::from(funds.top_up_krw) {
        return Err(DeclineCode::InsufficientFunds);
    }
    Ok(Approval {
        top_up_krw: amount.saturating_sub(funds.available_krw),
    })
}

impl Counters {
    /// What was spent in the period of `at_ms`: 0 once a later period has begun.
    pub fn spent_in(&self, period: Period, at_ms: u64) -> u64 {
        if period.of(at_ms) == self.period {
            self.spent_in_period_krw
        } else {
            0
        }
    }

    /// Applies what a check of the secret found; answers whether it locks the instrument.
    pub fn apply_secret(&mut self, effect: SecretEffect) -> bool {
        match effect {
            SecretEffect::Unchanged => false,
            SecretEffect::Reset => {
                self.failed_secret_count = 0;
                false
            }
            SecretEffect::Wrong { locks } => {
                self.failed_secret_count = self.failed_secret_count.saturating_add(1);
                locks
            }
        }
    }

    /// Reserves one use and `amount_krw` for an approved leg, before any outside call.
    pub fn reserve(&mut self, amount_krw: u64) {
        self.reserved_uses += 1;
        self.reserved_krw += amount_krw;
    }

    /// The leg's money moved: its reservation becomes a use and spending, in the period
    /// of `at_ms` (the authorization's instant) when the controls have a budget.
    pub fn commit(&mut self, amount_krw: u64, budget: Option<Period>, at_ms: u64) {
        self.release(amount_krw);
        self.uses += 1;
        self.spent_total_krw += amount_krw;
        if let Some(period) = budget {
            // A late commit of an earlier period's authorization counts in that period,
            // which is over: the current period's spending stays as it is.
            let then = period.of(at_ms);
            if then > self.period {
                self.period = then;
                self.spent_in_period_krw = 0;
            }
            if then == self.period {
                self.spent_in_period_krw += amount_krw;
            }
        }
    }

    /// The leg's money did not move: its reservation ends.
    pub fn release(&mut self, amount_krw: u64) {
        self.reserved_uses = self.reserved_uses.saturating_sub(1);
        self.reserved_krw = self.reserved_krw.saturating_sub(amount_krw);
    }

    /// A cancel or refund gives back what a committed leg used (D-1.7, D-4.8): the
    /// amount to the total and, within the same period, to the period's spending; the use
    /// only for a cancel.
    pub fn restore(
        &mut self,
        amount_krw: u64,
        use_too: bool,
        budget: Option<Period>,
        paid_at_ms: u64,
    ) {
        if use_too {
            self.uses = self.uses.saturating_sub(1);
        }
        self.spent_total_krw = self.spent_total_krw.saturating_sub(amount_krw);
        if budget.is_some_and(|p| p.of(paid_at_ms) == self.period) {
            self.spent_in_period_krw = self.spent_in_period_krw.saturating_sub(amount_krw);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// 2026-12-01 12:00 KST.
    const NOON: u64 = 1_796_083_200_000 + 3 * 3_600_000;
    const DAY: u64 = 86_400_000;

    fn tag(t: &str) -> Tag {
        Tag::new(t).unwrap()
    }

    fn ask(amount_krw: u64) -> Ask {
        Ask {
            merchant: MerchantId::new("m1").unwrap(),
            merchant_category: tag("books"),
            terminal: Some(TerminalId::new("pos-1").unwrap()),
            region: Some(tag("seoul")),
            purpose: None,
            amount_krw,
            at_ms: NOON,
        }
    }

    const PLENTY: Funds = Funds {
        available_krw: 10_000_000,
        top_up_krw: 0,
    };

    fn verdict(controls: &Controls, counters: &Counters, secret: Secret, ask: &Ask) -> Verdict {
        authorize(
            &Authorizing {
                status: InstrumentStatus::Active,
                owner_tradable: true,
                controls,
                counters,
                sale_max_krw: Some(2_000_000),
            },
            secret,
            ask,
            PLENTY,
        )
    }

    fn code(controls: &Controls, counters: &Counters, ask: &Ask) -> Result<Approval, DeclineCode> {
        verdict(controls, counters, Secret::Right, ask).outcome
    }

    /// Lifts the earliest failing check of a request.
    type Lift = fn(&mut Controls, &mut Ask);

    #[test]
    fn the_first_failing_check_in_the_fixed_order_answers() {
        // A request failing every check from step 4 on gets step 4's code, and so on: each
        // line below lifts the earliest failure and sees the next step's code.
        let mut c = Controls {
            valid_from_ms: Some(NOON + 1),
            allowed_terminals: vec![TerminalId::new("pos-2").unwrap()],
            allowed_merchants: vec![MerchantId::new("m9").unwrap()],
            allowed_categories: vec![tag("food")],
            allowed_regions: vec![tag("busan")],
            uses_max: Some(1),
            per_tx_max_krw: Some(10_000),
            budget: Some(Budget {
                period: Period::Day,
                budget_krw: 20_000,
            }),
            total_max_krw: Some(30_000),
            ..Controls::default()
        };
        let n = Counters {
            uses: 1,
            ..Counters::default()
        };
        let big = ask(2_500_000);
        let steps: [(DeclineCode, Lift); 9] = [
            (DeclineCode::NotYetValid, |c, _| c.valid_from_ms = None),
            (DeclineCode::TerminalNotAllowed, |c, _| {
                c.allowed_terminals.clear()
            }),
            (DeclineCode::MerchantNotAllowed, |c, _| {
                c.allowed_merchants.clear()
            }),
            (DeclineCode::CategoryNotAllowed, |c, _| {
                c.allowed_categories.clear()
            }),
            (DeclineCode::RegionNotAllowed, |c, _| {
                c.allowed_regions.clear()
            }),
            (DeclineCode::UsesExhausted, |c, _| c.uses_max = None),
            (DeclineCode::AmountCapExceeded, |c, _| {
                c.per_tx_max_krw = None
            }),
            (DeclineCode::OverSaleMax, |_, a| a.amount_krw = 25_000),
            (DeclineCode::BudgetExceeded, |c, _| c.budget = None),
        ];
        let mut a = big;
        for (expected, lift) in steps {
            assert_eq!(code(&c, &n, &a), Err(expected));
            lift(&mut c, &mut a);
        }
        a.amount_krw = 40_000;
        assert_eq!(
            code(&c, &n, &a),
            Err(DeclineCode::AmountCapExceeded),
            "the total"
        );
        c.total_max_krw = None;
        a.amount_krw = 20_000_000;
        c.per_tx_max_krw = None;
        let uncapped = Authorizing {
            status: InstrumentStatus::Active,
            owner_tradable: true,
            controls: &c,
            counters: &n,
            sale_max_krw: None,
        };
        assert_eq!(
            authorize(&uncapped, Secret::Right, &a, PLENTY).outcome,
            Err(DeclineCode::InsufficientFunds)
        );
    }

    #[test]
    fn status_and_owner_come_before_the_secret_and_a_locked_instruments_tries_do_not_count() {
        let c = Controls::default();
        let n = Counters {
            failed_secret_count: 5,
            ..Counters::default()
        };
        let locked = Authorizing {
            status: InstrumentStatus::Locked,
            owner_tradable: true,
            controls: &c,
            counters: &n,
            sale_max_krw: Some(2_000_000),
        };
        for secret in [Secret::Right, Secret::Wrong] {
            assert_eq!(
                authorize(&locked, secret, &ask(10_000), PLENTY),
                Verdict {
                    outcome: Err(DeclineCode::Locked),
                    secret: SecretEffect::Unchanged
                }
            );
        }
        let not_tradable = Authorizing {
            status: InstrumentStatus::Active,
            owner_tradable: false,
            ..locked
        };
        assert_eq!(
            authorize(&not_tradable, Secret::Wrong, &ask(10_000), PLENTY).outcome,
            Err(DeclineCode::OwnerNotTradable)
        );
        for (status, code) in [
            (
                InstrumentStatus::PendingActivation,
                DeclineCode::NotActivated,
            ),
            (InstrumentStatus::Suspended, DeclineCode::Suspended),
            (InstrumentStatus::Revoked, DeclineCode::Revoked),
            (InstrumentStatus::Closed, DeclineCode::Closed),
            (InstrumentStatus::Expired, DeclineCode::Expired),
            (InstrumentStatus::Exhausted, DeclineCode::UsesExhausted),
        ] {
            assert_eq!(status.decline(), Some(code));
        }
    }

    #[test]
    fn the_fifth_wrong_secret_in_a_row_locks_and_a_right_one_resets_the_count() {
        let c = Controls {
            require_secret: true,
            ..Controls::default()
        };
        let mut n = Counters::default();
        for i in 1..=5u8 {
            let v = verdict(&c, &n, Secret::Wrong, &ask(10_000));
            assert_eq!(v.outcome, Err(DeclineCode::WrongSecret));
            let locks = n.apply_secret(v.secret);
            assert_eq!(locks, i == 5, "try {i}");
        }
        let mut n = Counters {
            failed_secret_count: 4,
            ..Counters::default()
        };
        let v = verdict(&c, &n, Secret::Right, &ask(10_000));
        assert_eq!(v.secret, SecretEffect::Reset);
        n.apply_secret(v.secret);
        assert_eq!(n.failed_secret_count, 0);
        // A right secret resets the count even when a later step declines.
        let n = Counters {
            failed_secret_count: 2,
            ..Counters::default()
        };
        let v = verdict(&c, &n, Secret::Right, &ask(3_000_000));
        assert_eq!(
            (v.outcome, v.secret),
            (Err(DeclineCode::OverSaleMax), SecretEffect::Reset)
        );
        // A secret that is required but missing, or under a retired key, is declined
        // without counting.
        for secret in [Secret::NotGiven, Secret::Unusable] {
            assert_eq!(
                verdict(&c, &n, secret, &ask(1)),
                Verdict {
                    outcome: Err(DeclineCode::WrongSecret),
                    secret: SecretEffect::Unchanged
                }
            );
        }
    }

    #[test]
    fn a_period_budget_resets_on_the_kst_calendar() {
        let c = Controls {
            budget: Some(Budget {
                period: Period::Day,
                budget_krw: 50_000,
            }),
            ..Controls::default()
        };
        let mut n = Counters::default();
        n.reserve(40_000);
        n.commit(40_000, Some(Period::Day), NOON);
        assert_eq!(code(&c, &n, &ask(20_000)), Err(DeclineCode::BudgetExceeded));
        // Midnight in Seoul: a new day, a new budget.
        let mut tomorrow = ask(20_000);
        tomorrow.at_ms = NOON + DAY / 2;
        assert!(code(&c, &n, &tomorrow).is_ok());
        // A month budget counts the whole KST month.
        let monthly = Controls {
            budget: Some(Budget {
                period: Period::Month,
                budget_krw: 50_000,
            }),
            ..Controls::default()
        };
        let mut n = Counters::default();
        n.reserve(40_000);
        n.commit(40_000, Some(Period::Month), NOON);
        assert_eq!(
            code(&monthly, &n, &tomorrow),
            Err(DeclineCode::BudgetExceeded),
            "the next day, same month"
        );
    }

    #[test]
    fn a_late_commit_of_an_earlier_days_authorization_does_not_forget_todays_spending() {
        let c = Controls {
            budget: Some(Budget {
                period: Period::Day,
                budget_krw: 70_000,
            }),
            ..Controls::default()
        };
        let mut n = Counters::default();
        n.reserve(30_000); // authorized today at noon, confirmed late
        let tomorrow = NOON + DAY;
        n.reserve(60_000);
        n.commit(60_000, Some(Period::Day), tomorrow);
        n.commit(30_000, Some(Period::Day), NOON);
        let mut more = ask(20_000);
        more.at_ms = tomorrow;
        assert_eq!(
            code(&c, &n, &more),
            Err(DeclineCode::BudgetExceeded),
            "60,000 spent tomorrow already: {n:?}"
        );
    }

    #[test]
    fn a_top_up_covers_what_the_balance_lacks_and_no_more() {
        let c = Controls::default();
        let n = Counters::default();
        let a = Authorizing {
            status: InstrumentStatus::Active,
            owner_tradable: true,
            controls: &c,
            counters: &n,
            sale_max_krw: Some(2_000_000),
        };
        let funds = Funds {
            available_krw: 30_000,
            top_up_krw: 20_000,
        };
        assert_eq!(
            authorize(&a, Secret::NotGiven, &ask(45_000), funds).outcome,
            Ok(Approval { top_up_krw: 15_000 })
        );
        assert_eq!(
            authorize(&a, Secret::NotGiven, &ask(50_001), funds).outcome,
            Err(DeclineCode::InsufficientFunds)
        );
    }

    #[test]
    fn controls_that_cannot_hold_are_refused_at_issue() {
        let over = Controls {
            per_tx_max_krw: Some(2_000_001),
            ..Controls::default()
        };
        assert_eq!(
            over.validate(2_000_000).unwrap_err().0,
            RefusalCode::ControlsInvalid
        );
        assert!(Controls::default().validate(2_000_000).is_ok());
    }

    /// One step of the property test: authorize a leg (and reserve it), or end a
    /// reservation in progress by committing or releasing it.
    #[derive(Clone, Debug)]
    enum Op {
        Authorize { amount: u64, days_later: u8 },
        Commit(usize),
        Release(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u64..40_000, 0u8..2)
                .prop_map(|(amount, days_later)| Op::Authorize { amount, days_later }),
            any::<usize>().prop_map(Op::Commit),
            any::<usize>().prop_map(Op::Release),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Invariant 1 of §6.7: an instrument's controls are never exceeded, whatever the
        /// interleaving of authorizations and of their reservations ending.
        #[test]
        fn controls_are_never_exceeded_under_any_interleaving(ops in prop::collection::vec(op(), 1..80)) {
            let c = Controls {
                uses_max: Some(6),
                total_max_krw: Some(150_000),
                budget: Some(Budget { period: Period::Day, budget_krw: 70_000 }),
                ..Controls::default()
            };
            let mut n = Counters::default();
            // Authorizations in progress: (amount, instant).
            let mut open: Vec<(u64, u64)> = Vec::new();
            // What was committed, per KST day.
            let mut per_day: std::collections::HashMap<u32, u64> = Default::default();
            let mut now = NOON;
            for op in ops {
                match op {
                    Op::Authorize { amount, days_later } => {
                        now += u64::from(days_later) * DAY;
                        let mut a = ask(amount);
                        a.at_ms = now;
                        if code(&c, &n, &a).is_ok() {
                            n.reserve(amount);
                            open.push((amount, now));
                        }
                    }
                    Op::Commit(i) if !open.is_empty() => {
                        let (amount, at) = open.remove(i % open.len());
                        n.commit(amount, Some(Period::Day), at);
                        *per_day.entry(Period::Day.of(at)).or_default() += amount;
                    }
                    Op::Release(i) if !open.is_empty() => {
                        let (amount, _) = open.remove(i % open.len());
                        n.release(amount);
                    }
                    _ => {}
                }
                prop_assert!(n.uses + n.reserved_uses <= 6);
                prop_assert!(n.spent_total_krw + n.reserved_krw <= 150_000);
                prop_assert!(per_day.values().all(|spent| *spent <= 70_000), "{per_day:?}");
                prop_assert_eq!(n.reserved_uses as usize, open.len());
                prop_assert_eq!(n.reserved_krw, open.iter().map(|(a, _)| a).sum::<u64>());
            }
        }
    }
}
