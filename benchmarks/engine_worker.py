"""Helper of benchmarks/rule_speed.py: times ``run_fast`` of one source tree on request.

    python benchmarks/engine_worker.py ROOT DATA_DIR JOBS

Imports ``rotationlab``, ``data_feeds`` and ``strategies`` from ROOT (this checkout, or an older
revision extracted by rule_speed.py), loads DIA, QQQ, IWM and SPY from DATA_DIR, compiles or loads
the kernel, runs the divergence grid once, prints ``ready``, then for every line read from stdin
runs the grid again (``keep_equity=False``, as ``sweep --engine fast`` runs it) and prints its
wall-clock seconds. Only the API both trees share is used.
"""

from __future__ import annotations

import sys
import time

root, data_dir, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root)

from data_feeds import get_source  # noqa: E402
from rotationlab import fast  # noqa: E402
from rotationlab.config import RunConfig  # noqa: E402

ETF = dict(dow_symbol="DIA", nasdaq_symbol="QQQ", growth_symbols=("QQQ",), rotation_symbols=("DIA", "IWM"))
SETS = [{"lookback_days": n, "threshold": round(0.005 * i, 3)} for n in range(5, 101, 5) for i in range(20)]

data = get_source("csv", data_dir=data_dir).load_many(["DIA", "QQQ", "IWM", "SPY"])
base = RunConfig(params=ETF, start="2001-01-01", end="2020-12-31", source="csv", benchmark="SPY")
fast.warm_up()
fast.run_fast(fast.prepare(base, data, SETS), SETS, jobs=jobs, keep_equity=False)
print("ready", flush=True)
for _ in sys.stdin:
    prep = fast.prepare(base, data, SETS)
    t0 = time.perf_counter()
    fast.run_fast(prep, SETS, jobs=jobs, keep_equity=False)
    print(f"{time.perf_counter() - t0:.6f}", flush=True)
