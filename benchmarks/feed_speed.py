"""Engine speed: the array feed against backtrader's PandasData, in the same run.

    python benchmarks/feed_speed.py [--repeat 3]

Runs the default divergence rule on the embedded sample (about 5,000 bars, 3 symbols) with each
feed class, checks both give the same equity, and prints the best-of-N wall times and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import backtrader as bt  # noqa: E402

from data_feeds import get_source  # noqa: E402
from rotationlab import engine  # noqa: E402
from rotationlab.config import RunConfig  # noqa: E402


def pandas_feed(frame, name):
    """backtrader's own pandas feed, called the way the engine calls its feed class."""
    return bt.feeds.PandasData(dataname=frame, name=name, openinterest=None)


def best_time(feed, data, repeat):
    engine.FEED = feed
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = engine.run(RunConfig(), data=data)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = get_source("sample").load_many(["^DJI", "^IXIC", "^GSPC"])
    t_pandas, r_pandas = best_time(pandas_feed, data, args.repeat)
    t_array, r_array = best_time(engine.ArrayFeed, data, args.repeat)
    same = r_pandas.equity.equals(r_array.equity)
    bars = len(r_array.equity)
    print(f"bars={bars} symbols=3 repeat={args.repeat}")
    print(f"PandasData (baseline): {t_pandas:.2f} s")
    print(f"ArrayFeed:             {t_array:.2f} s")
    print(f"speed-up ArrayFeed vs PandasData: {t_pandas / t_array:.2f}x; identical equity: {same}")


if __name__ == "__main__":
    main()
