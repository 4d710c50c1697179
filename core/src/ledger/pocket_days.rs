//! What moved each prepaid card's pocket, by KST day (INSTRUMENTS.md §5.4 "next-day
//! statement", D-5.10; P7; the day is `crate::statement::PocketDay`), and what each
//! merchant's slice took in net by KST day (for the daily payout). The next-day statement is drawn from it; it outlives
//! the settled requests that leave memory for the archive. Derived from the entries'
//! SUCCESS events (the day is the event's, on the engine's clock); the last
//! [`POCKET_DAYS_KEPT`] days are kept; in snapshots from version 6.

use rust_decimal::Decimal;

use super::{LogEntry, ShardBooks};
use crate::ids::{AccountId, CardSeq, CustomerId};
use crate::payments::kst::kst_day;
use crate::request_log::Step;
use crate::statement::{PocketDay, PocketLine};

/// The days of pocket movements the books keep: the statement of a day is sent the next
/// morning, and resent from its own record after that.
pub const POCKET_DAYS_KEPT: u32 = 7;
/// The most movements a pocket's day lists; its sums cover every one.
pub const POCKET_DAY_LINES_MAX: usize = 1_000;

/// The pocket days, by (day, customer, card).
pub type PocketDays = std::collections::BTreeMap<(u32, CustomerId, CardSeq), PocketDay>;

/// What each merchant's slice took in net on each KST day kept, by (day, merchant): its
/// sales less their reversals, cancels and refunds, payouts aside. A daily payout keeps
/// back the current day's (`crate::payments::payout`).
pub type MerchantDays = std::collections::BTreeMap<(u32, crate::ids::MerchantNo), Decimal>;

impl ShardBooks {
    /// Notes an entry's SUCCESS at `at_ms` if it moved a pocket, `before` being the
    /// pocket's balance before it.
    pub(super) fn note_pocket_movement(&mut self, entry: &LogEntry, at_ms: u64, before: Decimal) {
        let (pocket, into_pocket) = match (entry.debit, entry.credit) {
            (_, AccountId::Pocket { card, customer }) => ((customer, card), true),
            (AccountId::Pocket { card, customer }, _) => ((customer, card), false),
            _ => return,
        };
        let day = kst_day(at_ms);
        // Days past keeping leave first (only when there are some: this runs on every
        // posting that moves a pocket).
        if let Some(oldest) = day.checked_sub(POCKET_DAYS_KEPT) {
            if self
                .pocket_days
                .first_key_value()
                .is_some_and(|((d, ..), _)| *d < oldest)
            {
                let kept = self
                    .pocket_days
                    .split_off(&(oldest, CustomerId::MIN, CardSeq(0)));
                self.pocket_days = kept;
            }
        }
        let d = self
            .pocket_days
            .entry((day, pocket.0, pocket.1))
            .or_insert_with(|| PocketDay {
                customer: pocket.0,
                card: pocket.1,
                day,
                opening: before,
                credits: Decimal::ZERO,
                debits: Decimal::ZERO,
                lines: Vec::new(),
                lines_left_out: 0,
            });
        if into_pocket {
            d.credits += entry.amount.value();
        } else {
            d.debits += entry.amount.value();
        }
        if d.lines.len() < POCKET_DAY_LINES_MAX {
            d.lines.push(PocketLine {
                at_ms,
                step: entry.step,
                request_no: entry.request_no,
                amount: entry.amount,
                into_pocket,
            });
        } else {
            d.lines_left_out += 1;
        }
    }

    /// Notes an entry's SUCCESS at `at_ms` if it moved a merchant's slice other than by a
    /// payout (the payout's deduction and its recovery).
    pub(super) fn note_merchant_movement(&mut self, entry: &LogEntry, at_ms: u64) {
        if matches!(entry.step, Step::RemitDeduction | Step::Recovery) {
            return;
        }
        let (merchant, sign) = match (entry.debit, entry.credit) {
            (_, AccountId::Merchant { merchant }) => (merchant, Decimal::ONE),
            (AccountId::Merchant { merchant }, _) => (merchant, Decimal::NEGATIVE_ONE),
            _ => return,
        };
        let day = kst_day(at_ms);
        if let Some(oldest) = day.checked_sub(POCKET_DAYS_KEPT) {
            if self
                .merchant_days
                .first_key_value()
                .is_some_and(|((d, _), _)| *d < oldest)
            {
                let kept = self
                    .merchant_days
                    .split_off(&(oldest, crate::ids::MerchantNo(0)));
                self.merchant_days = kept;
            }
        }
        *self.merchant_days.entry((day, merchant)).or_default() += sign * entry.amount.value();
    }

    /// What a merchant's slice took in net on `day` (payouts aside).
    pub fn merchant_day_net(&self, merchant: crate::ids::MerchantNo, day: u32) -> Decimal {
        self.merchant_days
            .get(&(day, merchant))
            .copied()
            .unwrap_or_default()
    }

    /// A pocket's day, if it moved that day and the day is still kept.
    pub fn pocket_day(&self, customer: CustomerId, card: CardSeq, day: u32) -> Option<&PocketDay> {
        self.pocket_days.get(&(day, customer, card))
    }

    /// Every pocket that moved on `day`.
    pub fn pocket_days_on(&self, day: u32) -> impl Iterator<Item = &PocketDay> {
        self.pocket_days
            .range((day, CustomerId::MIN, CardSeq(0))..=(day, CustomerId::MAX, CardSeq(u16::MAX)))
            .map(|(_, d)| d)
    }
}
