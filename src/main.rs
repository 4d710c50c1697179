//! The `omnibus` binary: the server, the load generator and the write-ahead-log tools.
//!
//! The binary is the only place that installs a tracing subscriber; the library crates
//! log through `tracing` only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use omnibus_core::Config;

mod api_key_cli;
mod load;
mod server;

#[derive(Parser, Debug)]
#[command(
    name = "omnibus",
    version,
    about = "omnibus: an actor-based in-memory clearing engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the engine as an HTTP/JSON server (simulated rails, WAL in a local folder by default).
    Serve(ServeArgs),
    /// Generate load against a running server or an embedded engine.
    Load(load::Args),
    /// Inspect write-ahead logs.
    #[command(subcommand)]
    Wal(WalCommand),
    /// Make, revoke or list the API keys that sign requests, with the server stopped.
    #[command(subcommand)]
    ApiKey(api_key_cli::ApiKeyCommand),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// A TOML file laid over the embedded defaults (the repository's config.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on; overrides server.listen.
    #[arg(long)]
    listen: Option<String>,
    /// Directory of the write-ahead logs; overrides wal.dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum WalCommand {
    /// Check every frame of a log directory; print counts and the first problem.
    Verify { dir: PathBuf },
    /// Print one line per record, for people.
    Dump { dir: PathBuf },
}

/// A server whose engine panicked must not go on: the panic is logged (by the default
/// hook, and by the engine's, which stops the engine) and the process aborts, exiting
/// non-zero. The write-ahead log holds everything acknowledged; a restart recovers it.
fn fail_stop_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        eprintln!("omnibus: a panic stops the server: {info}");
        std::process::abort();
    }));
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        None => Ok(Config::embedded()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            Config::from_toml_over_defaults(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

/// The configuration of `serve`: the file over the defaults, then the flags over both.
fn serve_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(listen) = &args.listen {
        config.server.listen = listen.clone();
    }
    if let Some(dir) = &args.data_dir {
        config.wal.dir = dir.display().to_string();
    }
    // The flags are checked like the file's keys, and named the same way.
    config
        .validate()
        .map_err(|e| format!("after --listen/--data-dir: {e}"))?;
    Ok(config)
}

/// The logs under `dir`: its `shard-NNN` subdirectories if it is an engine's data
/// directory, otherwise `dir` itself.
fn log_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut shards: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("shard-"))
        })
        .collect();
    shards.sort();
    Ok(if shards.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        shards
    })
}

fn wal_verify(dir: &Path) -> Result<(), String> {
    let mut bad = 0;
    for log in log_dirs(dir)? {
        let report = omnibus_wal::tools::verify(&log);
        println!("{report}");
        if !report.is_ok() {
            bad += 1;
        }
    }
    if bad > 0 {
        return Err(format!(
            "wal verify: {bad} log(s) with problems under {}",
            dir.display()
        ));
    }
    Ok(())
}

fn wal_dump(dir: &Path) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for log in log_dirs(dir)? {
        writeln!(out, "# {}", log.display()).map_err(|e| e.to_string())?;
        let decode =
            |record: &omnibus_wal::RecordRef| omnibus_actors::describe_record(record.payload);
        omnibus_wal::tools::dump(&log, &decode, &mut out)
            .map_err(|e| format!("{}: {e}", log.display()))?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The load generator's output is its summary; an engine embedded in it logs errors
    // only (its per-request warnings would bury the progress bar). RUST_LOG overrides.
    let default_filter = match cli.command {
        Command::Load(_) => "error",
        Command::ApiKey(_) => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person's terminal, not for a log file or a test.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Serve(args) => {
            fail_stop_on_panic();
            serve_config(&args).and_then(server::serve)
        }
        Command::Load(args) => load::run(args),
        Command::Wal(WalCommand::Verify { dir }) => wal_verify(&dir),
        Command::Wal(WalCommand::Dump { dir }) => wal_dump(&dir),
        Command::ApiKey(command) => api_key_cli::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("omnibus: {message}");
            ExitCode::from(2)
        }
    }
}
