//! Members (INSTRUMENTS.md §5.7), as their customer's shard keeps them: each at the
//! version the books hold, by ID. One `member_set` record per change; applying one keeps
//! the higher version. In snapshots from version 6.

use std::collections::BTreeMap;

use super::{BooksError, ShardBooks};
use crate::ids::MemberId;
use crate::payments::member::Member;

pub type Members = BTreeMap<MemberId, (u32, Member)>;

impl ShardBooks {
    pub(super) fn apply_member_set(
        &mut self,
        version: u32,
        member: &Member,
    ) -> Result<(), BooksError> {
        self.customer_checked(member.customer)?;
        if let Some((held, _)) = self.members.get(&member.id) {
            if *held >= version {
                return Ok(());
            }
        }
        self.members.insert(member.id, (version, member.clone()));
        Ok(())
    }

    /// A member and its version.
    pub fn member(&self, id: MemberId) -> Option<&(u32, Member)> {
        self.members.get(&id)
    }

    pub fn members(&self) -> impl Iterator<Item = &(u32, Member)> {
        self.members.values()
    }
}
