//! The books as a snapshot ([`BooksSnapshot`], archived by the write-ahead log), the cheap
//! consistent cut a snapshot is copied out of ([`BooksCut`]), and books rebuilt from a
//! snapshot.

use rust_decimal::Decimal;

use super::retention::DAY_MS;
use super::{
    BooksError, CardEntry, CustomerEntry, EntryId, Hold, HoldKey, Incoming, LogEntry, Lsn,
    MerchantEntry, Outgoing, ParentPlan, RequestState, ShardBooks, SliceEntry,
};
use crate::archive::DecimalDef;
use crate::ids::{BankCode, CustomerId, MerchantNo, ParentAccount, RequestNo};
use crate::segmap::{ChunkedVec, MapCut};

impl ShardBooks {
    /// The books as a snapshot at `last_lsn`.
    pub fn snapshot(&self) -> BooksSnapshot {
        self.cut().into_snapshot()
    }

    /// A consistent view of the books at `last_lsn`, cheap to take (the customers,
    /// requests and entries are shared copy-on-write, see `segmap`), to be turned into a
    /// [`BooksSnapshot`] on another thread: the shard's thread only pays for the cut, and
    /// later for copying each segment it writes while the cut is alive.
    pub fn cut(&self) -> BooksCut {
        let head = BooksSnapshot {
            shard: self.shard,
            shards: self.plan.shards,
            last_lsn: self.last_lsn,
            genesis_done: self.genesis_done,
            customers: Vec::new(),
            slices: self.slices.iter().map(|(p, s)| (*p, *s)).collect(),
            designated: self
                .designated
                .iter()
                .map(|(b, v)| (*b, DecimalCell(*v)))
                .collect(),
            funding: DecimalCell(self.funding),
            in_transit: DecimalCell(self.in_transit),
            outgoing: self.outgoing.values().copied().collect(),
            incoming: self.incoming.iter().map(|(s, i)| (*s, i.clone())).collect(),
            next_transfer_seq: self.next_transfer_seq,
            requests: Vec::new(),
            entries: Vec::new(),
            next_entry_seq: self.next_entry_seq,
            holds: Vec::new(),
            merchants: self.merchants.values().cloned().collect(),
            merchant_slices: self.merchant_slices.iter().map(|(m, s)| (*m, *s)).collect(),
            cards: self.cards.values().cloned().collect(),
            divisions: self.divisions.values().cloned().collect(),
            relay: self.relay.snapshot(),
            pooled: self.pooled.iter().map(|(a, s)| (*a, *s)).collect(),
            va_credits_due: self.va_credits_due.values().copied().collect(),
            payments: self.payments.by_id.values().cloned().collect(),
            named: {
                // In a fixed order, so that equal books make equal snapshots.
                let mut named: Vec<_> = self
                    .named
                    .iter()
                    .map(|((customer, request_no), named)| (*customer, *request_no, *named))
                    .collect();
                named.sort_unstable_by_key(|(c, no, _)| (*c, *no));
                named
            },
            payouts: self.payout_index(),
            pocket_days: self.pocket_days.values().cloned().collect(),
            notices: self.notices.values().cloned().collect(),
            payout_notices: self.payout_notices.values().cloned().collect(),
            members: self.members.values().cloned().collect(),
            api_keys: self.api_keys.values().copied().collect(),
            merchant_days: self
                .merchant_days
                .iter()
                .map(|((day, m), net)| (*day, *m, DecimalCell(*net)))
                .collect(),
        };
        BooksCut {
            head,
            customers: self.customers.clone(),
            requests: self.requests.cut(),
            entries: self.entries.cut(),
            holds: self.holds.cut(),
        }
    }

    /// Books rebuilt from a snapshot taken with the same shard layout.
    pub fn from_snapshot(plan: ParentPlan, snapshot: BooksSnapshot) -> Result<Self, BooksError> {
        let mut books = ShardBooks::new(snapshot.shard, plan);
        if snapshot.shards != books.plan.shards {
            return Err(BooksError::Genesis {
                shard: snapshot.shard,
                shards: snapshot.shards,
                here: books.shard,
                here_shards: books.plan.shards,
                what: "the snapshot was taken with another shard count",
            });
        }
        books.genesis_done = snapshot.genesis_done;
        books.last_lsn = snapshot.last_lsn;
        books.index.reserve(snapshot.customers.len());
        for (i, c) in snapshot.customers.iter().enumerate() {
            books.index.insert(c.id, i as u32);
        }
        books.customers = snapshot.customers.into_iter().collect();
        for (parent, slice) in snapshot.slices {
            // The floor follows the configuration in force now, not the one at snapshot time.
            let floor = books.plan.slice_floor(parent, books.shard);
            books.slices.insert(parent, SliceEntry { floor, ..slice });
        }
        books.designated = snapshot
            .designated
            .into_iter()
            .map(|(b, v)| (b, v.0))
            .collect();
        books.funding = snapshot.funding.0;
        books.in_transit = snapshot.in_transit.0;
        books.outgoing = snapshot.outgoing.into_iter().map(|o| (o.id, o)).collect();
        books.incoming = snapshot.incoming.into_iter().collect();
        books.next_transfer_seq = snapshot.next_transfer_seq;
        books.requests = snapshot
            .requests
            .into_iter()
            .map(|r| ((r.accepted.customer, r.accepted.request_no), r))
            .collect();
        for (key, request) in books.requests.iter() {
            books
                .by_day
                .insert((request.accepted.at_ms / DAY_MS, key.0, key.1));
            if request.answer.is_none() && !crate::instruments::of(request.accepted.kind).is_house()
            {
                books
                    .unanswered
                    .insert((request.accepted.at_ms, key.0, key.1));
            }
        }
        for entry in snapshot.entries {
            books.index_entry(&entry, true);
            books.entries.insert(entry.id, entry);
        }
        books.next_entry_seq = snapshot.next_entry_seq;
        for hold in snapshot.holds {
            let key = HoldKey::Client(hold.id);
            books.index_hold(key, &hold);
            books.holds.insert(key, hold);
        }
        books.merchants = snapshot.merchants.into_iter().map(|m| (m.no, m)).collect();
        books.merchant_slices = snapshot.merchant_slices.into_iter().collect();
        books.cards = snapshot
            .cards
            .into_iter()
            .map(|c| ((c.card.owner, c.card.seq), c))
            .collect();
        books.divisions = snapshot
            .divisions
            .into_iter()
            .map(|d| ((d.account.master, d.account.seq), d))
            .collect();
        books.relay = crate::payments::relay::RelayBook::from_snapshot(&snapshot.relay);
        books.pooled = snapshot.pooled.into_iter().collect();
        books.va_credits_due = snapshot
            .va_credits_due
            .into_iter()
            .map(|due| ((due.deposit, due.to), due))
            .collect();
        for payment in snapshot.payments {
            books.payments.insert(payment);
        }
        books.named = snapshot
            .named
            .into_iter()
            .map(|(customer, request_no, named)| ((customer, request_no), named))
            .collect();
        books.merchant_days = snapshot
            .merchant_days
            .into_iter()
            .map(|(day, m, net)| ((day, m), net.0))
            .collect();
        books.members = snapshot
            .members
            .into_iter()
            .map(|(v, m)| (m.id, (v, m)))
            .collect();
        books.api_keys = snapshot.api_keys.into_iter().map(|k| (k.id, k)).collect();
        books.notices = snapshot.notices.into_iter().map(|n| (n.key, n)).collect();
        books.payout_notices = snapshot
            .payout_notices
            .into_iter()
            .map(|n| (n.key, n))
            .collect();
        books.pocket_days = snapshot
            .pocket_days
            .into_iter()
            .map(|d| ((d.day, d.customer, d.card), d))
            .collect();
        for (merchant, at_ms, no) in snapshot.payouts {
            books.payouts.entry((merchant, at_ms)).or_default().push(no);
        }
        // The saga's holds are not in the snapshot: its entries and requests say them.
        books.rebuild_saga_holds();
        books.note_all_settled();
        books.total = books.sum_by_scan()?.value();
        Ok(books)
    }
}

/// A `Decimal` that rkyv can archive on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct DecimalCell(#[rkyv(with = DecimalDef)] pub Decimal);

/// Everything a shard's books hold, as of `last_lsn`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshot {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    /// Every client's hold, open and resolved, by id (from snapshot version 3). Their
    /// amounts are already in the accounts' `held`, as are the saga's holds, which are not
    /// here: books loaded from the snapshot rebuild them from its entries and requests.
    pub holds: Vec<Hold>,
    /// Every merchant at the version the books hold (from snapshot version 4).
    pub merchants: Vec<MerchantEntry>,
    /// Each merchant's slice of `merchant[m]` in this shard (from version 4).
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    /// Every prepaid card of the shard's customers with its pocket (from version 5).
    pub cards: Vec<CardEntry>,
    /// `payment_log` (from version 5).
    pub payments: Vec<crate::payments::payment::PaymentEntry>,
    /// What the acceptance of each request not settled yet named beyond the customer's
    /// own accounts (from version 6; before, requests found it in their entries).
    pub named: Vec<(CustomerId, RequestNo, crate::saga::Named)>,
    /// The payouts the shard made within the retention window, `(merchant, at_ms,
    /// number)` (from version 6).
    pub payouts: Vec<(MerchantNo, u64, RequestNo)>,
    /// What moved each pocket on each KST day kept (from version 6).
    pub pocket_days: Vec<crate::statement::PocketDay>,
    /// The notices for the notification sink, with their delivery (from version 6).
    pub notices: Vec<crate::statement::Notice>,
    /// What each merchant's slice took in net on each KST day kept (from version 6).
    pub merchant_days: Vec<(u32, MerchantNo, DecimalCell)>,
    /// The members of the shard's customers, at their versions (from version 6).
    pub members: Vec<(u32, crate::payments::member::Member)>,
    /// The API keys, in shard 0 only (from version 7).
    pub api_keys: Vec<crate::payments::api_key::ApiKey>,
    /// The payouts' settlement statements for their merchants, with their delivery (from
    /// version 8).
    pub payout_notices: Vec<crate::payments::payout_notice::PayoutNotice>,
    /// The division accounts of the shard's customers (from version 9).
    pub divisions: Vec<super::DivisionEntry>,
    /// The virtual-account relay's partners, VAs, leases and deposits (from version 10).
    pub relay: crate::payments::relay::book::RelaySnapshot,
    /// `va_payer[bank]`, `suspense` and `recall_receivable` as booked in this shard (from
    /// version 11).
    pub pooled: Vec<(crate::ids::AccountId, SliceEntry)>,
    /// The credits deposits owe that no request carries out yet (from version 11).
    pub va_credits_due: Vec<crate::payments::relay::CreditDue>,
}

/// The books at one LSN, shared with the live books copy-on-write: see
/// [`ShardBooks::cut`].
#[derive(Clone, Debug)]
pub struct BooksCut {
    head: BooksSnapshot,
    customers: ChunkedVec<CustomerEntry>,
    requests: MapCut<(CustomerId, RequestNo), RequestState>,
    entries: MapCut<EntryId, LogEntry>,
    holds: MapCut<HoldKey, Hold>,
}

impl BooksCut {
    pub fn last_lsn(&self) -> Lsn {
        self.head.last_lsn
    }

    /// Copies the shared parts out: the expensive half of a snapshot, for a thread other
    /// than the shard's.
    pub fn into_snapshot(self) -> BooksSnapshot {
        // Only clients' holds: the saga's are rebuilt from the entries and requests.
        let mut holds: Vec<Hold> = self
            .holds
            .iter()
            .filter(|(key, _)| key.is_client())
            .map(|(_, hold)| *hold)
            .collect();
        holds.sort_unstable_by_key(|h| h.id);
        BooksSnapshot {
            customers: self.customers.copy_out(),
            requests: self.requests.copy_values(),
            entries: self.entries.copy_values(),
            holds,
            ..self.head
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, plan, FIN};
    use crate::money::Money;
    use crate::record::LedgerRecord;

    #[test]
    fn a_snapshot_rebuilds_the_same_books() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 3);
        books.apply(lsn + 1, &opened(c)).unwrap();
        books
            .apply(
                lsn + 2,
                &LedgerRecord::Posted {
                    debit: FIN,
                    credit: AccountId::customer(c),
                    amount: krw(77),
                },
            )
            .unwrap();
        let snap = books.snapshot();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&snap).unwrap();
        let back = rkyv::from_bytes::<BooksSnapshot, rkyv::rancor::Error>(&bytes).unwrap();
        let rebuilt = ShardBooks::from_snapshot(plan(1), back).unwrap();
        assert_eq!(rebuilt.snapshot(), snap);
        assert_eq!(
            rebuilt.balance(AccountId::customer(c)).unwrap(),
            Money::krw(77).unwrap()
        );
    }
}
