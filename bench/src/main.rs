//! omnibus-bench: benchmarks printing one `name=value unit` line per figure on stdout
//! (progress and notes go to stderr), so runs can be compared line by line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod crash;
mod deposits;
mod drive;
mod flows;
mod ledger;
mod payments;
mod process;
mod soak;
mod wal;

#[derive(Parser, Debug)]
#[command(
    name = "omnibus-bench",
    about = "omnibus benchmarks; each figure is one `name=value unit` line"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// Write-ahead log: group-commit throughput against raw sequential writes, and recovery speed.
    Wal(wal::Args),
    /// Ledger on actors: postings per second, memory per passive customer, restart time.
    Ledger(ledger::Args),
    /// Charges and remittances end to end: sagas per second, latency, latent rails.
    Flows(flows::Args),
    /// Direct prepaid card payments end to end: authorizations per second, latency.
    Payments(payments::Args),
    /// Virtual-account deposit notices matched per second (seed 001(b)), sync `always`.
    Deposits(deposits::Args),
    /// Kill -9 under a mixed HTTP load, restart, check every acknowledged outcome,
    /// reconciliation and the books (real `omnibus serve` processes).
    Crash(crash::Args),
    /// Half the measured throughput for a long while (30 minutes by default), snapshots
    /// on: memory per retained request, the saga tail, snapshot pauses.
    Soak(soak::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.bench {
        Bench::Wal(args) => wal::run(args),
        Bench::Ledger(args) => ledger::run(args),
        Bench::Flows(args) => flows::run(args),
        Bench::Payments(args) => payments::run(args),
        Bench::Deposits(args) => deposits::run(args),
        Bench::Crash(args) => crash::run(args),
        Bench::Soak(args) => soak::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("omnibus-bench: {message}");
            ExitCode::from(2)
        }
    }
}
