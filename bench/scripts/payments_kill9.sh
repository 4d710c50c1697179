#!/bin/bash
# Payments under kill -9: pay in a loop, kill the server mid-way, restart; every answer
# given before the crash is given again, and the merchant holds exactly the approved
# payments' money.
set -u
B=${B:-$(dirname "$0")/../../target/release/omnibus}
DD=$(mktemp -d /tmp/omni-crashpay.XXXX)
H='content-type: application/json'
D=$(date -u +%F)
U=http://127.0.0.1:18083
$B serve --data-dir $DD --listen 127.0.0.1:18083 > $DD/serve1.log 2>&1 &
P=$!
sleep 2
curl -s $U/v1/customers -H "$H" -d '{"customer": 1001, "linked_bank": "004", "linked_account": "110-1"}' >/dev/null
curl -s $U/v1/charges -H "$H" -d '{"customer": 1001, "request_date": "'$D'", "request_no": "C-1", "amount": "500000"}' >/dev/null
curl -s $U/v1/merchants -H "$H" -d '{"merchant_id": "m2", "category": "books", "accepts": ["prepaid_card"], "payout_bank": "004", "payout_account": "110-2"}' >/dev/null
curl -s $U/v1/customers/1001/prepaid-cards -H "$H" -d '{"card_name": "ALICE", "card_password": "4827"}' >/dev/null
N=$(curl -s -X POST $U/v1/prepaid-cards/pc_1001_1/reveal | python3 -c "import sys,json; print(json.load(sys.stdin)['number'])")
curl -s $U/v1/prepaid-cards/pc_1001_1/charges -H "$H" -d '{"source": "balance", "request_date": "'$D'", "request_no": "PC-1", "amount": "400000"}' >/dev/null
body() { echo '{"merchant_id": "m2", "merchant_request_no": "R-'$1'", "amount_krw": 1000, "category": "books", "instrument": {"type": "prepaid_card", "number": "'$N'", "password": "4827"}}'; }
( for i in $(seq 1 400); do r=$(curl -s -m 5 $U/v1/payments -H "$H" -d "$(body $i)"); echo "$i $r"; done ) > $DD/answers &
W=$!
sleep 1.5
kill -9 $P
wait $W
$B serve --data-dir $DD --listen 127.0.0.1:18083 > $DD/serve2.log 2>&1 &
P=$!
sleep 6
python3 - "$DD" "$N" <<'PY'
import json, subprocess, sys
dd, n = sys.argv[1], sys.argv[2]
U = "http://127.0.0.1:18083"
def post(path, body):
    out = subprocess.run(["curl", "-s", U + path, "-H", "content-type: application/json", "-d", json.dumps(body)], capture_output=True, text=True).stdout
    return json.loads(out) if out else None
def get(path):
    out = subprocess.run(["curl", "-s", U + path], capture_output=True, text=True).stdout
    return json.loads(out) if out else None
before = {}
for line in open(dd + "/answers"):
    i, _, rest = line.strip().partition(" ")
    try:
        before[int(i)] = json.loads(rest)["status"]
    except Exception:
        pass
print("answered before the crash:", len(before), {s: list(before.values()).count(s) for s in set(before.values())})
changed = 0
approved = 0
for i in range(1, 401):
    body = {"merchant_id": "m2", "merchant_request_no": f"R-{i}", "amount_krw": 1000, "category": "books",
            "instrument": {"type": "prepaid_card", "number": n, "password": "4827"}}
    after = post("/v1/payments", body)
    if i in before and after["status"] != before[i]:
        changed += 1
        print("CHANGED", i, before[i], after)
    approved += after["status"] == "APPROVED"
print("answers changed by the crash:", changed)
import time; time.sleep(3)
card = get("/v1/prepaid-cards/pc_1001_1")
print("approved after all:", approved, "pocket:", card["pocket_balance"], "expected:", 400000 - 1000 * approved)
metrics = subprocess.run(["curl", "-s", U + "/metrics"], capture_output=True, text=True).stdout
print([l for l in metrics.splitlines() if l.startswith("omnibus_books_sum")])
PY
kill $P; wait $P 2>/dev/null
echo DD=$DD
