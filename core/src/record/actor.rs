//! Actor ids: who wrote a record, encoded in the 64-bit actor field of a WAL frame.

use crate::ids::{AccountId, BankCode, CustomerId, ParentAccount};

/// The actor that writes a record: a customer account actor, a parent slice actor, or the
/// shard router itself. Encoded in the 64-bit actor field of a WAL frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorId {
    Customer(CustomerId),
    Parent(ParentAccount),
    Shard,
}

const PARENT_TAG: u64 = 1 << 63;
const SHARD_TAG: u64 = u64::MAX;

impl ActorId {
    /// The actor whose account is debited (or credited) by a leg, if it has one.
    pub fn owner_of(account: AccountId) -> Option<ActorId> {
        match account {
            AccountId::Customer { customer }
            | AccountId::Linked { customer }
            | AccountId::Pocket { customer, .. } => Some(ActorId::Customer(customer)),
            AccountId::Parent { parent } => Some(ActorId::Parent(parent)),
            AccountId::Designated { .. }
            | AccountId::Funding
            | AccountId::Merchant { .. }
            | AccountId::VaPayer { .. }
            | AccountId::Suspense
            | AccountId::RecallReceivable => None,
        }
    }

    /// The 64-bit encoding: customers are their number (below 2^63), parents carry the
    /// top bit and a code for the kind and bank, the shard is all ones.
    pub fn encode(self) -> u64 {
        match self {
            ActorId::Customer(c) => c.get(),
            ActorId::Parent(p) => {
                let (kind, bank) = match p {
                    ParentAccount::WithdrawalFirm(b) => (1u64, bank_number(b)),
                    ParentAccount::Collection => (2, 0),
                    ParentAccount::DepositFirm(b) => (3, bank_number(b)),
                    ParentAccount::FinParent => (4, 0),
                    ParentAccount::FinDeposit => (5, 0),
                };
                PARENT_TAG | (kind << 16) | bank
            }
            ActorId::Shard => SHARD_TAG,
        }
    }

    pub fn decode(raw: u64) -> Option<ActorId> {
        if raw == SHARD_TAG {
            return Some(ActorId::Shard);
        }
        if raw & PARENT_TAG == 0 {
            return CustomerId::new(raw).ok().map(ActorId::Customer);
        }
        let kind = (raw >> 16) & 0xff;
        let bank = || BankCode::new(&format!("{:03}", raw & 0xffff)).ok();
        let parent = match kind {
            1 => ParentAccount::WithdrawalFirm(bank()?),
            2 => ParentAccount::Collection,
            3 => ParentAccount::DepositFirm(bank()?),
            4 => ParentAccount::FinParent,
            5 => ParentAccount::FinDeposit,
            _ => return None,
        };
        Some(ActorId::Parent(parent))
    }
}

fn bank_number(bank: BankCode) -> u64 {
    bank.as_str().parse().expect("bank codes are three digits")
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorId::Customer(c) => write!(f, "customer[{c}]"),
            ActorId::Parent(p) => p.fmt(f),
            ActorId::Shard => f.write_str("shard"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_ids_round_trip_through_their_encoding() {
        let bank = BankCode::new("088").unwrap();
        for actor in [
            ActorId::Customer(CustomerId::new(42).unwrap()),
            ActorId::Parent(ParentAccount::WithdrawalFirm(bank)),
            ActorId::Parent(ParentAccount::DepositFirm(bank)),
            ActorId::Parent(ParentAccount::Collection),
            ActorId::Parent(ParentAccount::FinParent),
            ActorId::Parent(ParentAccount::FinDeposit),
            ActorId::Shard,
        ] {
            assert_eq!(ActorId::decode(actor.encode()), Some(actor));
        }
    }
}
