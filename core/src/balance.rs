//! Moving funds between the slices of one parent account (SPEC §5, sweeps): every shard
//! holds a slice of every parent account, and a slice that runs low in one shard is
//! refilled from slices of the same account that hold more than their target in others.
//!
//! `plan_slice_moves` is pure: given every slice's available balance, it returns the
//! transfers that bring each slice below its low mark back to its target, taken from
//! slices above their target, largest need and largest spare first. A donor never goes
//! below its own target, so a move never pushes another slice out of its band.

use rust_decimal::Decimal;

use crate::ids::ParentAccount;
use crate::ledger::ParentPlan;
use crate::money::Amount;

/// One slice as the engine sees it: its shard, its account, what it has available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceView {
    pub shard: u16,
    pub parent: ParentAccount,
    pub available: Decimal,
}

/// A transfer of `amount` of `parent` from the slice in `from_shard` to the one in `to_shard`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceMove {
    pub parent: ParentAccount,
    pub from_shard: u16,
    pub to_shard: u16,
    pub amount: Amount,
}

/// The moves that refill every slice below its low mark, at most `max_moves` of them.
pub fn plan_slice_moves(
    plan: &ParentPlan,
    slices: &[SliceView],
    max_moves: usize,
) -> Vec<SliceMove> {
    let mut moves = Vec::new();
    for parent in &plan.parents {
        let kind = plan.kind(*parent);
        let mut needy: Vec<(u16, Decimal)> = Vec::new();
        let mut donors: Vec<(u16, Decimal)> = Vec::new();
        for s in slices.iter().filter(|s| s.parent == *parent) {
            let low = plan.slice_share(kind.low_mark, s.shard);
            let target = plan.slice_share(kind.target, s.shard);
            if s.available < low {
                needy.push((s.shard, target - s.available));
            } else if s.available > target {
                donors.push((s.shard, s.available - target));
            }
        }
        needy.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        donors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (to_shard, mut need) in needy {
            for donor in donors.iter_mut() {
                if need <= Decimal::ZERO || moves.len() >= max_moves {
                    break;
                }
                let take = need.min(donor.1).trunc();
                let Ok(amount) = Amount::new(plan.currency(), take) else {
                    continue;
                };
                moves.push(SliceMove {
                    parent: *parent,
                    from_shard: donor.0,
                    to_shard,
                    amount,
                });
                donor.1 -= take;
                need -= take;
            }
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn plan(shards: u16) -> ParentPlan {
        // fin_parent: low 200,000,000, target 1,000,000,000 for the whole account.
        let config = Config::from_toml_over_defaults(
            "[parents.fin_parent]\nopening = 1_000_000_000\nlow_mark = 200_000_000\ntarget = 1_000_000_000\nhigh_mark = 5_000_000_000\n",
        )
        .unwrap();
        ParentPlan::from_config(&config, shards)
    }

    fn view(shard: u16, won: i64) -> SliceView {
        SliceView {
            shard,
            parent: ParentAccount::FinParent,
            available: Decimal::from(won),
        }
    }

    #[test]
    fn a_low_slice_is_refilled_to_its_target_from_a_slice_above_its_target() {
        // Two shards: each slice's low mark is 100,000,000 and its target 500,000,000.
        let moves = plan_slice_moves(&plan(2), &[view(0, 50_000_000), view(1, 950_000_000)], 10);
        assert_eq!(
            moves,
            vec![SliceMove {
                parent: ParentAccount::FinParent,
                from_shard: 1,
                to_shard: 0,
                amount: Amount::krw(450_000_000).unwrap()
            }]
        );
    }

    #[test]
    fn a_donor_never_gives_below_its_own_target() {
        let moves = plan_slice_moves(&plan(2), &[view(0, 0), view(1, 600_000_000)], 10);
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].amount, Amount::krw(100_000_000).unwrap());
    }

    #[test]
    fn slices_inside_their_band_move_nothing() {
        assert!(
            plan_slice_moves(&plan(2), &[view(0, 150_000_000), view(1, 900_000_000)], 10)
                .is_empty()
        );
    }
}
