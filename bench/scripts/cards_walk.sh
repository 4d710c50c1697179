#!/bin/bash
# Outsider check of the payments layer: serve on defaults, a card from issue to charge,
# payment, a wrong password, cancel, refund, kill -9 during a load, restart, and the same
# answers after.
set -u
B=${B:-$(dirname "$0")/../../target/release/omnibus}
DD=$(mktemp -d /tmp/omni-cards.XXXX)
H='content-type: application/json'
D=$(date -u +%F)
U=http://127.0.0.1:18081
$B serve --data-dir $DD --listen 127.0.0.1:18081 > $DD/serve1.log 2>&1 &
P=$!
sleep 2
curl -s $U/v1/customers -H "$H" -d '{"customer": 1001, "linked_bank": "004", "linked_account": "110-123-456789"}' >/dev/null
curl -s $U/v1/charges -H "$H" -d '{"customer": 1001, "request_date": "'$D'", "request_no": "C-1", "amount": "500000"}'; echo
curl -s $U/v1/merchants -H "$H" -d '{"merchant_id": "m2", "category": "books", "accepts": ["prepaid_card"], "payout_bank": "004", "payout_account": "110-222-333"}'; echo
echo "--- issue"
curl -s $U/v1/customers/1001/prepaid-cards -H "$H" -d '{"card_name": "ALICE", "card_password": "4827"}'; echo
N=$(curl -s -X POST $U/v1/prepaid-cards/pc_1001_1/reveal | python3 -c "import sys,json; print(json.load(sys.stdin)['number'])")
echo "number ends ${N: -4}"
echo "--- fill 150,000 from the balance"
curl -s $U/v1/prepaid-cards/pc_1001_1/charges -H "$H" -d '{"source": "balance", "request_date": "'$D'", "request_no": "PC-1", "amount": "150000"}'; echo
pay() { curl -s $U/v1/payments -H "$H" -d '{"merchant_id": "m2", "merchant_request_no": "'$1'", "amount_krw": '$2', "category": "books", "instrument": {"type": "prepaid_card", "number": "'$N'", "password": "'$3'"}}'; echo; }
echo "--- pay 35,000; again; wrong password; too much"
pay R-1 35000 4827
pay R-1 35000 4827
pay R-2 1000 0000
pay R-3 200000 4827
echo "--- pay 20,000 and cancel it; pay 30,000 and refund 10,000 twice under one number"
ID2=$(pay R-4 20000 4827 | python3 -c "import sys,json; print(json.load(sys.stdin)['payment_id'])")
curl -s $U/v1/payments/$ID2/cancel -H "$H" -d '{"merchant_id": "m2"}'; echo
ID3=$(pay R-5 30000 4827 | python3 -c "import sys,json; print(json.load(sys.stdin)['payment_id'])")
curl -s $U/v1/payments/$ID3/refunds -H "$H" -d '{"merchant_id": "m2", "refund_request_no": "RF-1", "amount_krw": 10000}'; echo
curl -s $U/v1/payments/$ID3/refunds -H "$H" -d '{"merchant_id": "m2", "refund_request_no": "RF-1", "amount_krw": 10000}'; echo
echo "--- cancel-by-request of a number never sent, then that number arrives"
curl -s $U/v1/payments/cancel-by-request -H "$H" -d '{"merchant_id": "m2", "merchant_request_no": "R-9"}'; echo
pay R-9 1000 4827
echo "--- card and customer before the crash (pocket: 150,000 - 35,000 - 30,000 + 10,000 = 95,000)"
curl -s $U/v1/prepaid-cards/pc_1001_1; echo
curl -s $U/v1/customers/1001; echo
echo "--- load 10 s, kill -9 during it"
$B load --url $U --duration 10s > $DD/load.log 2>&1 &
L=$!
sleep 6; kill -9 $P; wait $L 2>/dev/null; sleep 1
$B serve --data-dir $DD --listen 127.0.0.1:18081 > $DD/serve2.log 2>&1 &
P=$!
sleep 4
echo "--- after the restart: the same answers"
pay R-1 35000 4827
curl -s "$U/v1/payments?merchant_id=m2&merchant_request_no=R-4"; echo
curl -s $U/v1/payments/$ID3/refunds -H "$H" -d '{"merchant_id": "m2", "refund_request_no": "RF-1", "amount_krw": 10000}'; echo
pay R-9 1000 4827
curl -s $U/v1/prepaid-cards/pc_1001_1; echo
curl -s $U/metrics | grep -E "^omnibus_books_sum" | head -3
grep -c "$N" $DD/serve1.log $DD/serve2.log
grep -rl "$N" $DD 2>/dev/null | head -3; echo "(files holding the number in clear: above, if any)"
kill $P; wait $P 2>/dev/null
echo DD=$DD
