//! What a pass of the supervisors did, summed over passes and shards.

/// What one pass of the supervisors did, summed over shards by the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SupervisionReport {
    /// UNKNOWN entries confirmed executed / not executed.
    pub confirmed_done: u64,
    pub confirmed_not_done: u64,
    /// Confirm inquiries that got no answer (retried next pass).
    pub confirm_unanswered: u64,
    /// UNKNOWN entries older than the window when confirmed.
    pub overdue: u64,
    /// REQUESTED entries past `supervisor.requested_max_age_ms`, treated as timeouts.
    pub stale_requested: u64,
    /// Charge credits re-run (S115), found already done (S112), given up (S113, S114).
    pub reprocessed: u64,
    pub found_done: u64,
    pub gave_up: u64,
    /// Recoveries and refunds retried, and owed entries created.
    pub retried: u64,
    pub owed_created: u64,
    /// Sweep and rebalancing postings made.
    pub sweeps: u64,
    /// Merchant payouts started (§6.6).
    pub payouts: u64,
    /// Statement notices delivered through the notification sink (D-5.10).
    pub notices: u64,
    /// Payouts' settlement statements delivered to their merchants (§6.6).
    pub payout_notices: u64,
    /// Settled requests forgotten past the idempotency window.
    pub pruned: u64,
    /// Prepaid cards put on record EXPIRED, or their pockets released (D-5.2).
    pub cards_expired: u64,
    /// Payments left REQUESTED that were finished (`payments.rs`).
    pub payments_finished: u64,
    /// Virtual-account leases past their due date put on record EXPIRED (D-2.6).
    pub leases_expired: u64,
    /// Credits of virtual-account deposits started by the pass (modes B and C, §2.7).
    pub va_credits_started: u64,
    /// Credits deposits still owe after the pass, none started yet.
    pub va_credits_due: u64,
    /// Open entries left after the pass, by state.
    pub open_requested: u64,
    pub open_unknown: u64,
    pub open_try_again: u64,
    /// Requests still owing a step whose entry could not be created.
    pub owed: u64,
}

impl SupervisionReport {
    pub fn add(&mut self, other: &SupervisionReport) {
        self.confirmed_done += other.confirmed_done;
        self.confirmed_not_done += other.confirmed_not_done;
        self.confirm_unanswered += other.confirm_unanswered;
        self.overdue += other.overdue;
        self.stale_requested += other.stale_requested;
        self.reprocessed += other.reprocessed;
        self.found_done += other.found_done;
        self.gave_up += other.gave_up;
        self.retried += other.retried;
        self.owed_created += other.owed_created;
        self.payouts += other.payouts;
        self.notices += other.notices;
        self.payout_notices += other.payout_notices;
        self.sweeps += other.sweeps;
        self.pruned += other.pruned;
        self.cards_expired += other.cards_expired;
        self.payments_finished += other.payments_finished;
        self.leases_expired += other.leases_expired;
        self.va_credits_started += other.va_credits_started;
        self.va_credits_due += other.va_credits_due;
        self.open_requested += other.open_requested;
        self.open_unknown += other.open_unknown;
        self.open_try_again += other.open_try_again;
        self.owed += other.owed;
    }

    /// Whether the pass did anything at all.
    pub fn acted(&self) -> bool {
        self.confirmed_done
            + self.confirmed_not_done
            + self.reprocessed
            + self.found_done
            + self.gave_up
            + self.retried
            + self.owed_created
            + self.sweeps
            + self.stale_requested
            + self.payments_finished
            + self.leases_expired
            + self.va_credits_started
            > 0
    }

    /// Whether every entry is final and nothing is owed.
    pub fn settled(&self) -> bool {
        self.open_requested
            + self.open_unknown
            + self.open_try_again
            + self.owed
            + self.va_credits_due
            == 0
    }
}
