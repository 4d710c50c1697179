//! `omnibus-bench deposits`: the virtual-account relay's inbound notices (INSTRUMENTS.md
//! §2.3 S22–S30), sync `always`. `--partners` partners in mode A, each with a pool of
//! `--vas-per-partner` VAs at bank 004; every VA leased to an order (exact match), then
//! each lease paid by a notice of its simulated bank. Each notice is routed by the VA
//! index to its partner's shard, matched there and written with its lease completed and
//! its VA cooling in one `relay_set` record, answered once durable. Figure:
//! - `deposits_matched_per_sec`: closed loop, `--in-flight` notices outstanding; every
//!   deposit must be MATCHED.
//! - `leases_per_sec` (the preparation's own rate, for reference).

use std::path::PathBuf;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::EngineError;
use omnibus_core::payments::relay::{
    DepositNotice, DepositState, LeaseRequest, Partner, PartnerId, PartnerMode, PoolSpec, Region,
};
use omnibus_core::BankCode;

use crate::drive::closed_loop;
use crate::flows::{config, start_with_simulator, EngineArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Partners (spread over the shards by their ids).
    #[arg(long, default_value_t = 16)]
    partners: u32,
    /// VAs in each partner's pool, all leased and paid once: the run's notices are
    /// partners × this.
    #[arg(long, default_value_t = 5_000)]
    vas_per_partner: u32,
    /// Notices outstanding in the closed-loop run.
    #[arg(long, default_value_t = 1_024)]
    in_flight: usize,
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

const AMOUNT_KRW: u64 = 15_000;

fn bank() -> BankCode {
    BankCode::new("004").expect("a bank code")
}

fn partner_id(p: u32) -> PartnerId {
    PartnerId::new(&format!("p{p}")).expect("a partner id")
}

pub fn run(args: Args) -> Result<(), String> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("omnibus-bench-deposits-")
        .tempdir_in(&base)
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (engine, sim) = start_with_simulator(config(&root.path().join("data"), &args.engine, "")?)?;
    let region = Region::any();
    eprintln!(
        "deposits: {} partners with {} VAs each (S10 at the simulated bank)",
        args.partners, args.vas_per_partner
    );
    rt.block_on(async {
        for p in 0..args.partners {
            let mut partner = Partner::new(partner_id(p), PartnerMode::A);
            partner.pools = vec![PoolSpec {
                bank: bank(),
                region: region.clone(),
                target: args.vas_per_partner,
                real_time: false,
            }];
            engine
                .set_partner(partner)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    })?;
    let total = u64::from(args.partners) * u64::from(args.vas_per_partner);
    eprintln!("deposits: {total} leases, one per VA");
    let leases = std::sync::Mutex::new(Vec::with_capacity(total as usize));
    let elapsed = {
        let (e, l, r) = (&engine, &leases, &region);
        rt.block_on(closed_loop(total, args.in_flight, |i| async move {
            let request = LeaseRequest {
                partner: partner_id((i % u64::from(args.partners)) as u32),
                order_no: format!("O-{i}"),
                customer: "payer".into(),
                bank: bank(),
                region: r.clone(),
                match_mode: None,
                expected_krw: Some(AMOUNT_KRW),
                min_krw: None,
                max_krw: None,
                due_at_ms: None,
            };
            let lease = e.va_lease(request).await?;
            l.lock().expect("not poisoned").push(lease.va_no);
            Ok::<(), EngineError>(())
        }))?
    };
    println!(
        "leases_per_sec={:.0} leases/s",
        total as f64 / elapsed.as_secs_f64()
    );
    let notices: Vec<DepositNotice> = {
        let vas = leases.into_inner().expect("not poisoned");
        let now = engine.now_ms();
        vas.iter()
            .map(|va| paid(&sim, va, now))
            .collect::<Result<_, _>>()?
    };
    eprintln!(
        "deposits: {total} notices, {} in flight, sync {}",
        args.in_flight, args.engine.sync
    );
    let elapsed = {
        let (e, n) = (&engine, &notices);
        rt.block_on(closed_loop(total, args.in_flight, |i| async move {
            let receipt = e.va_deposit(n[i as usize].clone(), false).await?;
            if receipt.deposit.state != DepositState::Matched || receipt.duplicate {
                return Err(EngineError::Invalid(format!(
                    "a notice was not matched: {:?}",
                    receipt.deposit
                )));
            }
            Ok(())
        }))?
    };
    println!(
        "deposits_matched_per_sec={:.0} deposits/s",
        total as f64 / elapsed.as_secs_f64()
    );
    engine.shutdown().map_err(|e| e.to_string())?;
    Ok(())
}

fn paid(
    sim: &Simulator,
    va: &omnibus_core::payments::relay::VaNo,
    now: u64,
) -> Result<DepositNotice, String> {
    sim.va_deposit(bank(), va, AMOUNT_KRW, "payer", now)
        .ok_or_else(|| format!("the bank does not know VA {va}"))
}
