//! Reads of the shard's state: a customer's balance, the parent slices, the totals for
//! the conservation check, an audit, reconciliation pages, a request's view. Each is
//! answered only once everything it reflects is durable (a read barrier). A read of a
//! customer's balance or of a request of the customer waits while a request of the
//! customer holds its turn past an early answer (`saga/turns.rs`); a read of the parent
//! accounts, or the first page of the entries a reconciliation reads, waits for every
//! turn held when it arrives.

use std::time::Duration;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use omnibus_core::ledger::settled_outcome;
use omnibus_core::ledger::{BooksError, ShardBooks};
use omnibus_core::{AccountId, CustomerId, RequestNo};

use super::protocol::{Query, QueryAnswer, QueryKind, ViewRequest, ENTRIES_PAGE};
use super::ShardActor;
use crate::api::{CustomerBalance, RequestView, ShardTotals};
use crate::error::EngineError;

impl ShardActor {
    /// Defers a read of `customer`'s state while a request of the customer holds its turn
    /// past an early answer (`saga/turns.rs`): a caller told a charge succeeded then reads
    /// it credited. `Err(read)` when nothing is held: read now.
    pub(super) fn after_turn<F>(
        &self,
        customer: CustomerId,
        read: F,
        ctx: &mut Context<Self>,
    ) -> Result<(), F>
    where
        F: FnOnce(&mut Self, &mut Context<Self>) + 'static,
    {
        let turn = self.saga.turn_held(customer);
        self.after(turn.into_iter().collect(), read, ctx)
    }

    /// Defers a read of the parent accounts until every turn held when it arrives has
    /// ended (`SagaRuntime::turns_held_now`): the read sees the outcome of every request
    /// answered before it. `Err(read)` when none is held.
    fn after_turns<F>(&self, read: F, ctx: &mut Context<Self>) -> Result<(), F>
    where
        F: FnOnce(&mut Self, &mut Context<Self>) + 'static,
    {
        self.after(self.saga.turns_held_now(), read, ctx)
    }

    /// Runs `read` on the actor once every one of `turns` has ended, at most the answer
    /// deadline from now; `Err(read)` when there is none to wait for.
    fn after<F>(
        &self,
        turns: Vec<tokio::sync::oneshot::Receiver<()>>,
        read: F,
        ctx: &mut Context<Self>,
    ) -> Result<(), F>
    where
        F: FnOnce(&mut Self, &mut Context<Self>) + 'static,
    {
        if turns.is_empty() {
            return Err(read);
        }
        let deadline = Duration::from_millis(self.saga.config().actors.answer_deadline_ms);
        ctx.spawn(
            async move {
                let all = async {
                    for turn in turns {
                        let _ = turn.await;
                    }
                };
                let _ = tokio::time::timeout(deadline, all).await;
            }
            .into_actor(self)
            .map(move |(), actor, ctx| read(actor, ctx)),
        );
        Ok(())
    }
}

impl Handler<ViewRequest> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: ViewRequest, ctx: &mut Context<Self>) {
        if let Err(msg) = self.after_turn(
            msg.customer,
            move |actor, ctx| actor.answer_view(msg, ctx),
            ctx,
        ) {
            msg(self, ctx);
        }
    }
}

impl ShardActor {
    fn answer_view(&mut self, msg: ViewRequest, _: &mut Context<Self>) {
        let view = {
            let ledger = self.ledger.borrow();
            match request_view(ledger.books(), msg.customer, msg.request_no) {
                Some(view) => Some(view),
                // Settled and archived since the caller looked the number up.
                None => match ledger
                    .archive()
                    .map(|a| a.get_of(msg.customer, msg.request_no))
                {
                    Some(Ok(found)) => found.map(RequestView::from_archived),
                    Some(Err(cause)) => {
                        return msg.reply.send(Err(EngineError::Storage {
                            shard: self.id,
                            cause: format!("archive: {cause}"),
                        }))
                    }
                    None => None,
                },
            }
        };
        let reply = msg.reply;
        self.ledger
            .borrow_mut()
            .after_durable(Box::new(move |durable| reply.send(durable.map(|()| view))));
    }
}

impl Handler<Query> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: Query, ctx: &mut Context<Self>) {
        let kind = msg.kind;
        let read = move |actor: &mut Self, ctx: &mut Context<Self>| actor.answer_query(msg, ctx);
        let deferred = match kind {
            QueryKind::Customer(customer)
            | QueryKind::Account(
                AccountId::Customer { customer }
                | AccountId::Linked { customer }
                | AccountId::Pocket { customer, .. },
            ) => self.after_turn(customer, read, ctx),
            // The parent accounts, and the first page of the entries a reconciliation or a
            // statement reads: they reflect every request answered before the read came.
            QueryKind::Slices
            | QueryKind::Account(AccountId::Parent { .. })
            | QueryKind::Entries { from_seq: 1 } => self.after_turns(read, ctx),
            _ => Err(read),
        };
        if let Err(read) = deferred {
            read(self, ctx);
        }
    }
}

impl ShardActor {
    fn answer_query(&mut self, msg: Query, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        let answer = match msg.kind {
            QueryKind::Customer(c) => match books.customer(c) {
                Some(entry) => Ok(QueryAnswer::Customer(Box::new(CustomerBalance {
                    customer: c,
                    balance: books.money(entry.balance),
                    available: books.money(entry.balance - entry.held),
                    tradable: entry.tradable,
                    subscription_valid: entry.subscription_valid,
                    linked_bank: entry.linked_bank,
                    linked_account: entry.linked_account,
                    cert_serial: entry.signing_key.map(|k| k.cert_serial),
                }))),
                None => Err(BooksError::UnknownCustomer(c).into()),
            },
            QueryKind::Entries { from_seq } => {
                let (entries, next_seq) = books.entries_page(from_seq, ENTRIES_PAGE);
                Ok(QueryAnswer::Entries {
                    entries: entries
                        .into_iter()
                        .filter_map(|e| {
                            books
                                .request(e.customer, e.request_no)
                                .map(|r| (e, r.accepted.request_date))
                        })
                        .collect(),
                    next_seq,
                })
            }
            QueryKind::MerchantPayments {
                merchant,
                from_ms,
                to_ms,
                lines_max,
            } => Ok(QueryAnswer::MerchantPayments(
                omnibus_core::payments::payout::period_payments(
                    books.payments(),
                    merchant,
                    from_ms,
                    to_ms,
                    lines_max as usize,
                ),
            )),
            QueryKind::PocketIncoming { card } => Ok(QueryAnswer::Account(
                books.money(books.pocket_incoming(card.customer, card.seq)),
            )),
            QueryKind::CardStatement { card, day } => match books.card(card.customer, card.seq) {
                None => Err(EngineError::refusal(
                    omnibus_core::payments::RefusalCode::NotFound,
                    format!("no prepaid card {card}"),
                )),
                Some(entry) => {
                    let key = omnibus_core::statement::statement_key(card.customer, card.seq, day);
                    let notice = books.notice(key).cloned();
                    let statement = notice
                        .as_ref()
                        .map(|n| n.statement.clone())
                        .or_else(|| books.pocket_day(card.customer, card.seq, day).cloned());
                    Ok(QueryAnswer::CardStatement(statement.map(|statement| {
                        Box::new(crate::api::CardStatement {
                            last4: entry.card.last4,
                            statement,
                            notice,
                        })
                    })))
                }
            },
            QueryKind::MerchantPayouts {
                merchant,
                from_ms,
                to_ms,
            } => Ok(QueryAnswer::MerchantPayouts(
                books.payouts_of(merchant, from_ms, to_ms).collect(),
            )),
            QueryKind::Account(account) => books
                .balance(account)
                .map(QueryAnswer::Account)
                .map_err(EngineError::from),
            QueryKind::MerchantAvailable(merchant) => books
                .merchant_slice(merchant)
                .map(|s| {
                    let owed = books.owed_debits_from(AccountId::merchant(merchant));
                    QueryAnswer::Account(books.money(s.balance - s.held - owed))
                })
                .map_err(EngineError::from),
            QueryKind::Slices => Ok(QueryAnswer::Slices(
                books
                    .slices()
                    .map(|(p, s)| (*p, books.money(s.balance), books.money(s.balance - s.held)))
                    .collect(),
            )),
            QueryKind::Audit => books
                .sum_by_scan()
                .map(|scanned| QueryAnswer::Audit {
                    kept: books.sum().unwrap_or(scanned),
                    scanned,
                })
                .map_err(|e| EngineError::Internal(format!("the books' sum: {e}"))),
            QueryKind::Totals => books
                .sum()
                .map(|sum| (sum, ledger.archive().map(|a| a.stats()).unwrap_or_default()))
                .map(|(sum, archive)| {
                    QueryAnswer::Totals(Box::new(ShardTotals {
                        shard: self.id,
                        sum,
                        in_transit: books.in_transit(),
                        customers: books.customer_count() as u64,
                        live_customers: self.live.len() as u64,
                        outgoing_transfers: books.outgoing().count() as u64,
                        transfers_remembered: books.transfers_remembered() as u64,
                        durable_lsn: ledger.durable_lsn(),
                        sagas_in_flight: self.saga.sagas_in_flight() as u64,
                        steps_owed: self.saga.owed_count(books) as u64,
                        requests_unanswered: books.unanswered_count() as u64,
                        refused_parent_slice_short: self.saga.short_slices(),
                        requests: books.request_count() as u64,
                        entries_requested: books.open_entry_counts().0 as u64,
                        entries_unknown: books.open_entry_counts().1 as u64,
                        entries_try_again: books.open_entry_counts().2 as u64,
                        activations: self.stats.activations,
                        passivations: self.stats.passivations,
                        snapshots: self.stats.snapshots,
                        snapshot_pause_max_us: self.stats.snapshot_pause_max_us,
                        settled_in_memory: books.settled_in_memory() as u64,
                        archived_requests: archive.records,
                        archive_heap_bytes: archive.heap_bytes,
                        wal: ledger.wal().stats(),
                    }))
                })
                .map_err(|e| EngineError::Internal(format!("the books' sum: {e}"))),
        };
        // Answer only once everything this answer reflects is durable.
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.and(answer));
        }));
    }
}

/// A request's view: the request with every entry.
fn request_view(
    books: &ShardBooks,
    customer: CustomerId,
    request_no: RequestNo,
) -> Option<RequestView> {
    let request = books.request(customer, request_no)?;
    let entries = books.request_entries(request);
    Some(RequestView {
        accepted: request.accepted,
        answer: request.answer,
        outcome: settled_outcome(request, &entries),
        entries,
    })
}
