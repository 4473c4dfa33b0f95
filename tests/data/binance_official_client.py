"""Binance's official Python connector (binance-connector) against ballast's local Binance server.

Run by tests/binance_official.rs with BN_URL, the account keys and the Ed25519 key in the environment. Prints
one JSON document with what the server answered; any unexpected error raises (non-zero exit).
"""

import json
import os

from binance.error import ClientError
from binance.spot import Spot

url = os.environ["BN_URL"]
spot = Spot(api_key=os.environ["BN_KEY"], api_secret=os.environ["BN_SECRET"], base_url=url)
out = {}

out["time"] = spot.time()["serverTime"]
info = spot.exchange_info(symbol="USDCUSDT")
out["filters"] = [f["filterType"] for f in info["symbols"][0]["filters"]]
out["rate_limits"] = [(r["rateLimitType"], r["interval"], r["intervalNum"]) for r in info["rateLimits"]]
out["avg_price"] = spot.avg_price("USDCUSDT")["price"]
out["book_ticker"] = spot.book_ticker("USDCUSDT")
out["depth_asks"] = spot.depth("USDCUSDT", limit=5)["asks"]

account = spot.account()
out["balances"] = {b["asset"]: [b["free"], b["locked"]] for b in account["balances"]}

placed = spot.new_order(
    symbol="USDCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
    quantity=100, price="0.9990", newClientOrderId="py-1",
)
out["placed"] = [placed["status"], placed["origQty"], placed["cummulativeQuoteQty"], placed["fills"]]
queried = spot.get_order("USDCUSDT", origClientOrderId="py-1")
out["queried"] = [queried["status"], queried["price"], queried["clientOrderId"], queried["isWorking"]]
out["open"] = [o["clientOrderId"] for o in spot.get_open_orders("USDCUSDT")]

replaced = spot.cancel_and_replace(
    "USDCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE", timeInForce="GTC",
    quantity=100, price="0.9991", cancelOrigClientOrderId="py-1", newClientOrderId="py-2",
)
out["replaced"] = [
    replaced["cancelResult"], replaced["newOrderResult"],
    replaced["cancelResponse"]["status"], replaced["newOrderResponse"]["clientOrderId"],
]
cancelled = spot.cancel_order("USDCUSDT", origClientOrderId="py-2")
out["cancelled"] = [cancelled["status"], cancelled["origClientOrderId"]]

# Taking the resting ask: a FULL response with fills, then myTrades.
taken = spot.new_order(
    symbol="USDCUSDT", side="BUY", type="LIMIT", timeInForce="IOC",
    quantity=250, price="1.0001", newClientOrderId="py-take",
)
out["taken"] = [taken["status"], taken["executedQty"], [f["price"] for f in taken["fills"]]]
out["trades"] = [[t["price"], t["qty"], t["isBuyer"], t["isMaker"]] for t in spot.my_trades("USDCUSDT")]

errors = {}
for name, kwargs in {
    "tick": dict(type="LIMIT", timeInForce="GTC", quantity=100, price="0.99905"),
    "post_only": dict(type="LIMIT_MAKER", quantity=100, price="1.0001"),
    "balance": dict(type="LIMIT", timeInForce="GTC", quantity=1000000, price="0.9990"),
}.items():
    try:
        spot.new_order(symbol="USDCUSDT", side="BUY", **kwargs)
        errors[name] = None
    except ClientError as e:
        errors[name] = [e.status_code, e.error_code, e.error_message]
try:
    spot.cancel_order("USDCUSDT", origClientOrderId="nope")
except ClientError as e:
    errors["unknown"] = [e.status_code, e.error_code, e.error_message]
try:
    Spot(api_key=os.environ["BN_KEY"], api_secret="wrong", base_url=url).account()
except ClientError as e:
    errors["signature"] = [e.status_code, e.error_code, e.error_message]
out["errors"] = errors

coins = spot.coin_info()
out["networks"] = {c["coin"]: [n["network"] for n in c["networkList"]] for c in coins}
out["deposit_address"] = spot.deposit_address(coin="USDC", network="ARBITRUM")["address"]
withdrawal = spot.withdraw(
    coin="USDC", amount=50, address="0x00000000000000000000000000000000000000a1",
    network="ARBITRUM", withdrawOrderId="py-w1",
)
out["withdraw_id"] = withdrawal["id"]
out["withdrawals"] = [[w["id"], w["withdrawOrderId"], w["amount"], w["transactionFee"]] for w in spot.withdraw_history(coin="USDC")]
out["deposits"] = spot.deposit_history()

ed = Spot(api_key=os.environ["BN_ED_KEY"], private_key=os.environ["BN_ED_PEM"], base_url=url)
out["ed25519_balances"] = len(ed.account()["balances"])

print(json.dumps(out))
