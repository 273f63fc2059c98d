"""Regenerate the golden results: ``python tests/goldens/generate.py [--shared DIR]``.

Runs every strategy on the embedded sample (and, with --shared, on the real market CSVs) with
default costs, and writes ``sample.json`` / ``shared.json`` beside this file. Before committing new
goldens, read the printed diff and check the numbers make sense (e.g. buy_and_hold ^GSPC tracks
the index's own return less costs and the cash buffer).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from rotationlab.config import RunConfig  # noqa: E402
from rotationlab.engine import run  # noqa: E402

SAMPLE_CASES = {
    "dow_nasdaq_divergence": RunConfig(),
    "buy_and_hold": RunConfig(strategy="buy_and_hold"),
    "static_blend": RunConfig(strategy="static_blend"),
    "momentum_rotation": RunConfig(strategy="momentum_rotation"),
    "always_rotated": RunConfig(strategy="always_rotated"),
    "golden_cross_timing": RunConfig(strategy="golden_cross_timing"),
}

_ETF = dict(source="csv", start="2001-01-01", benchmark="SPY")
_DIV = {"dow_symbol": "DIA", "nasdaq_symbol": "QQQ", "growth_symbols": "QQQ", "rotation_symbols": "DIA,IWM"}
SHARED_CASES = {
    "dow_nasdaq_divergence": RunConfig(params=_DIV, **_ETF),
    "buy_and_hold": RunConfig(strategy="buy_and_hold", params={"symbol": "SPY"}, **_ETF),
    "static_blend": RunConfig(strategy="static_blend", params={"symbols": "QQQ,DIA,IWM"}, **_ETF),
    "momentum_rotation": RunConfig(strategy="momentum_rotation", params={"universe": "QQQ,DIA,IWM,SPY"}, **_ETF),
    "always_rotated": RunConfig(strategy="always_rotated", params={"rotation_symbols": "DIA,IWM"}, **_ETF),
    "golden_cross_timing": RunConfig(strategy="golden_cross_timing", params={"symbol": "SPY"}, **_ETF),
}


def summarize(result) -> dict:
    eq = result.equity
    dd = float((eq / eq.cummax() - 1).min())
    t = result.trades
    return {
        "trade_from": result.provenance["period"]["trade_from"],
        "trade_to": result.provenance["period"]["trade_to"],
        "final_equity": float(eq.iloc[-1]),
        "max_drawdown": dd,
        "n_trades": int(len(t)),
        "first_trade": [str(t["date"].iloc[0].date()), t["symbol"].iloc[0], float(t["size"].iloc[0])] if len(t) else None,
        "total_commission": float(t["commission"].sum()),
        "data_sha256": {s: m["sha256"] for s, m in result.provenance["symbols"].items()},
    }


def compute(cases: dict, data_dir: str | None = None) -> dict:
    out = {}
    for name, cfg in cases.items():
        if data_dir:
            cfg = RunConfig(**{**cfg.__dict__, "data_dir": data_dir})
        out[name] = summarize(run(cfg))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", help="folder of the real market CSVs (../shared/data/market)")
    args = ap.parse_args()
    targets = [("sample.json", SAMPLE_CASES, None)]
    if args.shared:
        targets.append(("shared.json", SHARED_CASES, args.shared))
    for fname, cases, data_dir in targets:
        new = compute(cases, data_dir)
        path = HERE / fname
        old = json.loads(path.read_text()) if path.exists() else {}
        for k, v in new.items():
            for field, val in v.items():
                if old.get(k, {}).get(field) != val:
                    print(f"{fname} {k}.{field}: {old.get(k, {}).get(field)!r} -> {val!r}")
        path.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
