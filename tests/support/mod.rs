//! Shared helpers of the end-to-end tests: engines on temporary data directories and
//! customers with valid linked accounts.

#![allow(dead_code)]

use std::path::Path;

use omnibus_actors::Engine;
use omnibus_core::books::shard_of;
use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountId, AccountNo, Amount, BankCode, Config, CustomerId, ParentAccount};

pub const FIN_PARENT: AccountId = AccountId::Parent {
    parent: ParentAccount::FinParent,
};

/// The embedded defaults with a data directory, a shard count and test-sized knobs laid over.
pub fn config(dir: &Path, shards: u32, extra: &str) -> Config {
    let text = format!(
        "[engine]\nshards = {shards}\n[wal]\ndir = {dir:?}\nsync = \"always\"\nsegment_bytes = 4_194_304\nbatch_bytes_max = 1_048_576\n{extra}",
        dir = dir.display().to_string()
    );
    Config::from_toml_over_defaults(&text).expect("test config is valid")
}

pub fn start(dir: &Path, shards: u32, extra: &str) -> Engine {
    Engine::start(config(dir, shards, extra)).expect("engine starts")
}

pub fn customer(n: u64) -> CustomerId {
    CustomerId::new(n).unwrap()
}

pub fn opened(n: u64) -> CustomerOpened {
    CustomerOpened {
        customer: customer(n),
        linked_bank: BankCode::new("004").unwrap(),
        linked_account: AccountNo::new(&format!("110-{n:09}")).unwrap(),
        tradable: true,
        subscription_valid: true,
        signing_key: None,
    }
}

pub fn krw(won: i64) -> Amount {
    Amount::krw(won).unwrap()
}

/// The first `count` customer numbers from `from` whose home is `shard` of `shards`.
pub fn customers_in(shard: u16, shards: u16, from: u64, count: usize) -> Vec<CustomerId> {
    (from..)
        .map(customer)
        .filter(|c| shard_of(*c, shards) == shard)
        .take(count)
        .collect()
}
