//! `omnibus api-key`: the operator's first key, and keys made or revoked without the HTTP
//! server (docs/auth.md). It opens the data directory itself, so the server must be
//! stopped (the write-ahead log's lock refuses a second opener); it prints the key as the
//! API answers it, as JSON on stdout, with the secret only when it makes one.

use std::path::PathBuf;

use omnibus_actors::Engine;
use omnibus_core::ids::MerchantId;
use omnibus_core::payments::api_key::{ApiKey, ApiKeyId, ApiKeyOwner, ApiSecret};

#[derive(clap::Args, Debug)]
pub struct Target {
    /// A TOML file laid over the embedded defaults, as `serve` takes it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory of the write-ahead logs; overrides wal.dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Make a key: the operator's (--operator) or a merchant's (--merchant ID). Prints its
    /// secret, this once.
    Create {
        #[arg(
            long,
            conflicts_with = "merchant",
            required_unless_present = "merchant"
        )]
        operator: bool,
        #[arg(long)]
        merchant: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a key for good.
    Revoke {
        key_id: String,
        #[command(flatten)]
        target: Target,
    },
    /// List every key, without secrets.
    List {
        #[command(flatten)]
        target: Target,
    },
}

fn view(engine: &Engine, key: &ApiKey, secret: Option<ApiSecret>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "key_id": key.id.to_string(),
        "owner": match key.owner { ApiKeyOwner::Operator => "operator", ApiKeyOwner::Merchant(_) => "merchant" },
        "status": if key.is_active() { "active" } else { "revoked" },
        "created_at_ms": key.created_at_ms,
    });
    if let ApiKeyOwner::Merchant(no) = key.owner {
        v["merchant_id"] = engine.merchant_id_of(no).map(|m| m.to_string()).into();
    }
    if let Some(secret) = secret {
        v["secret"] = secret.reveal().into();
    }
    v
}

pub fn run(command: ApiKeyCommand) -> Result<(), String> {
    let target = match &command {
        ApiKeyCommand::Create { target, .. }
        | ApiKeyCommand::Revoke { target, .. }
        | ApiKeyCommand::List { target } => target,
    };
    let mut config = crate::load_config(target.config.as_ref())?;
    if let Some(dir) = &target.data_dir {
        config.wal.dir = dir.display().to_string();
    }
    let engine = Engine::start(config).map_err(|e| format!("the engine did not start: {e}"))?;
    let result: Result<Vec<serde_json::Value>, String> = futures::executor::block_on(async {
        match command {
            ApiKeyCommand::Create {
                merchant: Some(merchant),
                ..
            } => {
                let id: MerchantId = merchant.parse().map_err(|e| format!("--merchant: {e}"))?;
                let entry = engine
                    .merchant(id)
                    .ok_or_else(|| format!("no merchant {id}"))?;
                let (key, secret) = engine
                    .create_api_key(ApiKeyOwner::Merchant(entry.no))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(vec![view(&engine, &key, Some(secret))])
            }
            ApiKeyCommand::Create { .. } => {
                let (key, secret) = engine
                    .create_api_key(ApiKeyOwner::Operator)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(vec![view(&engine, &key, Some(secret))])
            }
            ApiKeyCommand::Revoke { key_id, .. } => {
                let id: ApiKeyId = key_id.parse().map_err(|e| format!("{key_id}: {e}"))?;
                let key = engine
                    .revoke_api_key(id, ApiKeyOwner::Operator)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(vec![view(&engine, &key, None)])
            }
            ApiKeyCommand::List { .. } => Ok(engine
                .api_keys(None)
                .iter()
                .map(|k| view(&engine, k, None))
                .collect()),
        }
    });
    let stopped = engine
        .shutdown()
        .map_err(|e| format!("the engine did not shut down cleanly: {e}"));
    let views = result?;
    stopped?;
    for v in views {
        println!("{v}");
    }
    Ok(())
}
