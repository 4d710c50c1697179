//! The engine's balancer: on the engine's system thread, it moves money between the
//! slices of one parent account across shards (`omnibus_core::balance` plans the moves),
//! on a timer and whenever a shard's refill trigger asks. It is the engine's, not a
//! shard supervisor's: it asks every shard, by address.

use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext};
use omnibus_core::balance::{plan_slice_moves, SliceView};
use omnibus_core::ledger::ParentPlan;
use omnibus_core::Config;
use tokio::sync::{oneshot, Notify};

use crate::error::EngineError;
use crate::reply::Reply;
use crate::shard::{MoveSlice, Query, QueryAnswer, QueryKind, ShardActor};

/// Moves funds between the slices of each parent account (across shards) so that no
/// slice stays below its low mark while another holds more than its target; answers
/// how many moves were made once each is credited.
pub(super) async fn rebalance_slices(
    shards: &[Addr<ShardActor>],
    config: &Config,
    count: u16,
) -> Result<u64, EngineError> {
    let mut views = Vec::new();
    for (shard, addr) in shards.iter().enumerate() {
        let (tx, rx) = oneshot::channel();
        addr.do_send(Query {
            kind: QueryKind::Slices,
            reply: Reply::One(tx),
        });
        let QueryAnswer::Slices(slices) = rx.await.map_err(|_| EngineError::ShuttingDown)?? else {
            unreachable!("a slices query answers with slices");
        };
        for (parent, _, available) in slices {
            views.push(SliceView {
                shard: shard as u16,
                parent,
                available: available.value(),
            });
        }
    }
    let plan = ParentPlan::from_config(config, count);
    let moves = plan_slice_moves(&plan, &views, config.supervisor.batch_max as usize);
    let mut waits = Vec::new();
    for m in &moves {
        let (tx, rx) = oneshot::channel();
        shards[m.from_shard as usize].do_send(MoveSlice {
            account: omnibus_core::AccountId::parent(m.parent),
            dest_shard: m.to_shard,
            amount: m.amount,
            reply: Reply::One(tx),
        });
        waits.push(rx);
    }
    let mut made = 0;
    for (m, wait) in moves.iter().zip(waits) {
        match wait.await {
            Ok(Ok(_)) => made += 1,
            Ok(Err(e)) => {
                tracing::warn!(parent = %m.parent, from = m.from_shard, to = m.to_shard, error = %e, "slice move refused")
            }
            Err(_) => return Err(EngineError::ShuttingDown),
        }
    }
    Ok(made)
}

/// Runs `rebalance_slices` on the engine's system thread: every
/// `supervisor.sweep_interval_ms`, and, with `supervisor.refill_on_demand`, whenever a
/// shard raises `wake` (a request found a slice short, or a slice stayed below its low
/// mark after the shard's own sweeps), at least `supervisor.refill_min_gap_ms` apart.
/// Raises that arrive while a run is going make one more run, not one each.
pub(super) struct Balancer {
    pub(super) shards: Vec<Addr<ShardActor>>,
    pub(super) config: Arc<Config>,
    pub(super) wake: Arc<Notify>,
    /// One rebalancing at a time, this actor's or `Engine::supervise_once`'s.
    pub(super) one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

impl Actor for Balancer {
    type Context = actix::Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = std::time::Duration::from_millis(self.config.supervisor.sweep_interval_ms);
        ctx.run_interval(every, |balancer, _| balancer.wake.notify_one());
        let (shards, config, wake, one_at_a_time) = (
            self.shards.clone(),
            self.config.clone(),
            self.wake.clone(),
            self.one_at_a_time.clone(),
        );
        let gap = std::time::Duration::from_millis(config.supervisor.refill_min_gap_ms);
        let runs = async move {
            let count = shards.len() as u16;
            loop {
                wake.notified().await;
                let made = {
                    let _one = one_at_a_time.lock().await;
                    rebalance_slices(&shards, &config, count).await
                };
                match made {
                    Ok(0) => {}
                    Ok(moves) => tracing::debug!(moves, "parent slices rebalanced between shards"),
                    Err(e) => tracing::debug!(error = %e, "slice rebalancing stopped"),
                }
                tokio::time::sleep(gap).await;
            }
        };
        ctx.spawn(actix::fut::wrap_future::<_, Self>(runs));
    }
}
