#!/usr/bin/env bash
# Reproduces every figure in RESULTS.md (about 10 minutes of machine time on 2 cores).
# Data goes to data/ (relative to this directory)/<store>-<n> (deleted by each load phase; about 3.7 GB at most
# per store at 10M); figures go to results/.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release
B=target/release/archive-eval
mkdir -p results

# 1M records, all phases
$B bench --store own   --n 1000000 > results/own-1M.txt
$B bench --store redb  --n 1000000 > results/redb-1M.txt
$B bench --store redb  --n 1000000 --redb-quick-repair > results/redb_qr-1M.txt
$B bench --store fjall --n 1000000 > results/fjall-1M.txt
$B bench --store fjall --n 1000000 --fjall-flush-checkpoint > results/fjall_fc-1M.txt

# 10M records
$B bench --store own   --n 10000000 > results/own-10M.txt
$B bench --store own   --n 10000000 --filter16 --tag f16 > results/own_f16-10M.txt
$B bench --store redb  --n 10000000 --redb-quick-repair > results/redb_qr-10M.txt
$B bench --store fjall --n 10000000 --fjall-flush-checkpoint > results/fjall_fc-10M.txt
$B bench --store fjall --n 10000000 --fjall-flush-checkpoint --fjall-fpr 0.0001 --tag fpr4 > results/fjall_fc_fpr4-10M.txt
$B bench --store fjall --n 10000000 > results/fjall-10M.txt

# redb with 16 bits/key blooms on the same 10M file (after its recover phase: day 0 expired):
# the first probe finds no filter files and rebuilds them from the tables (its open_ms is the
# rebuild time), the second measures with the rebuilt filters.
D=data/redb-qr-10000000
rm -rf $D/filters/*
$B probe --store redb --redb-quick-repair --bloom-bits 16 --tag b16 --hit-min 333334 --n 10000000 --dir $D > results/redb_qr_b16-10M-rebuild.txt
$B probe --store redb --redb-quick-repair --bloom-bits 16 --tag b16 --hit-min 333334 --n 10000000 --dir $D > results/redb_qr_b16-10M-probe.txt
