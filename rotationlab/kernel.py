"""The fast engine's broker: one numba kernel that turns decided targets into fills, equity and
metrics, for many combinations per call. It knows nothing of rules.

Per combination it takes, on a shared panel (symbols x bars): the first trading bar ``tf``, the
traded symbols' rows, a small table of target weight rows ``W[k]``, the decision code of every
bar (``codes[t]``: a row of ``W``, or -1 = keep the target) and forced rebalances, the execution
settings and the fill timing (open or close, bars after the decision). It reproduces
:class:`rotationlab.engine.RuleStrategy` and backtrader's broker operation for operation:

* records at each close from ``tf``: the broker's portfolio value (``BackBroker._get_value``),
  the actual weights (position value / value), the target;
* a rebalance ticket when the target changes, a rebalance is forced, an order was refused, or a
  weight drifts beyond ``drift_tolerance`` while no ticket or order is waiting;
* a ticket due at an open is sized from that open's prices and executed there (slipped);
  a ticket due at a close is sized from that close and executed at it (slipped), booked after
  that bar's records, as backtrader's cheat-on-close books it on the next bar;
* orders are sized with the cash buffer, whole or fractional shares, sells before buys;
  execution as ``BackBroker._execute``: sells release their cost basis plus P&L less commission,
  a buy whose cost and commission exceed the cash is refused (Margin) and retried next close;
* the metrics of :mod:`rotationlab.metrics` (empyrical conventions) in the same compiled pass.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba as _numba
except ImportError:  # pragma: no cover - numba is a dependency
    _numba = None

#: Metric columns produced for every combination, in ``sweep.csv`` order (rotationlab.metrics
#: METRIC_ROWS, then ``rejected_orders``; tests/test_fast.py checks they match).
METRIC_KEYS = ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
               "max_drawdown_days", "time_in_drawdown", "best_day", "worst_day", "monthly_hit_rate",
               "annual_turnover", "exposure", "n_trades", "n_rotations", "avg_holding_days", "excess_cagr",
               "tracking_error", "information_ratio", "beta", "alpha", "rejected_orders")
#: Metrics only defined with a benchmark.
RELATIVE_KEYS = ("excess_cagr", "tracking_error", "information_ratio", "beta", "alpha")
#: Metrics that are counts (ints in a metrics row).
INT_KEYS = ("max_drawdown_days", "n_trades", "n_rotations", "rejected_orders")
#: Execution columns of ``exf``: cash, commission (fraction), slippage (fraction), 1 - cash buffer,
#: drift tolerance.
N_EXEC = 5
MAX_TICKETS = 4


def available() -> bool:
    return _numba is not None


def _jit(fn):
    # error_model="numpy": a division by zero gives inf/NaN (as numpy does) instead of a checked
    # ZeroDivisionError on every division; validated data has no zero prices or equity
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, error_model="numpy")(fn)


@_jit
def _mx(a, b):
    return b if b > a else a


@_jit
def _ab(x):
    return -x if x < 0 else x


@_jit
def _finite(x):
    return x if math.isfinite(x) else np.nan


@_jit
def _metrics(e, n1, r, b, has_b, ym, t0, counts, acc, out):
    """rotationlab.metrics.compute_metrics of one equity curve e[:n1] (dated t0.. on the panel)
    and, with has_b, benchmark returns b[:n1-1]; counts: fills, refused orders, rotations; acc:
    turnover sum, exposure sum, held bars, spans, then the benchmark's sums (_bench_sums).

    Three passes over the returns (the statistics that need a mean or beta first come later),
    each sum accumulated in date order."""
    nan = np.nan
    ann = 252.0
    n = n1 - 1
    prod = 1.0
    peak_w = 100.0
    mdd = 0.0
    s = 0.0
    lo = np.inf
    hi = -np.inf
    down = 0.0
    peak_v = e[0]
    peak_i = 0
    in_dd = False
    trough_e = 0.0
    best_depth = 0.0
    mdd_days = 0
    under = 0
    months = 0
    ups = 0
    mprod = 1.0
    rel = has_b and n >= 1
    sa = 0.0           # excess over the benchmark: sum, smallest, largest
    alo = np.inf
    ahi = -np.inf
    for i in range(n):
        ek = e[i + 1]
        x = ek / e[i] - 1.0
        r[i] = x
        prod *= x + 1.0
        w = prod * 100.0
        if w > peak_w:
            peak_w = w
        elif w - peak_w < mdd * peak_w:
            d = (w - peak_w) / peak_w
            if d < mdd:
                mdd = d
        s += x
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        xm = x if x < 0.0 else 0.0
        down += xm * xm
        if ek < peak_v:
            under += 1
            if not in_dd:
                in_dd = True
                trough_e = ek
            elif ek < trough_e:
                trough_e = ek
        else:
            if in_dd:
                depth = trough_e / peak_v - 1.0
                if depth < best_depth:
                    best_depth = depth
                    mdd_days = i + 1 - peak_i
                in_dd = False
            peak_v = ek
            peak_i = i + 1
        mprod *= x + 1.0
        if i == n - 1 or ym[t0 + 2 + i] != ym[t0 + 1 + i]:
            months += 1
            if mprod - 1.0 > 0:
                ups += 1
            mprod = 1.0
        if rel:
            a = x - b[i]
            sa += a
            if a < alo:
                alo = a
            if a > ahi:
                ahi = a
    if in_dd and trough_e / peak_v - 1.0 < best_depth:
        mdd_days = n1 - 1 - peak_i
    mean = s / n if n >= 1 else nan
    # second pass: squared deviations (volatility; tracking error and beta against the benchmark)
    sq = 0.0
    acc_a = 0.0
    cov = 0.0
    if n >= 2:
        if rel:
            ma = sa / n
            mb = acc[5] / n
            for i in range(n):
                x = r[i]
                dx = x - mean
                sq += dx * dx
                da = (x - b[i]) - ma
                acc_a += da * da
                db = b[i] - mb
                cov += db * x
        else:
            for i in range(n):
                dx = r[i] - mean
                sq += dx * dx
    total = prod - 1.0 if n >= 1 else nan
    cagr = prod ** (1.0 / (n / ann)) - 1.0 if n >= 1 else nan
    vol = sharpe = sortino = nan
    if n >= 2:
        std = math.sqrt(sq / (n - 1))
        vol = std * ann ** (1.0 / 2.0)
        sharpe = nan if hi == lo else _finite(mean / std * math.sqrt(ann))
        dr = math.sqrt(down / n) * math.sqrt(ann)
        sortino = _finite(mean * ann / dr) if dr != 0.0 else nan
    if n < 1:
        mdd = nan
    years = n / ann
    turnover = nan
    if years > 0:
        turnover = 0.0 if counts[0] == 0 else _finite(acc[0] / 2.0 / years)
    out[0] = _finite(total)
    out[1] = _finite(cagr)
    out[2] = _finite(vol)
    out[3] = sharpe
    out[4] = sortino
    out[5] = _finite(cagr / -mdd) if mdd < 0 else nan
    out[6] = _finite(mdd)
    out[7] = mdd_days
    out[8] = under / n if n >= 1 else nan
    out[9] = hi if n >= 1 else nan
    out[10] = lo if n >= 1 else nan
    out[11] = ups / months if months > 0 else nan
    out[12] = turnover
    out[13] = _finite(acc[1] / n1)
    out[14] = counts[0]
    out[15] = counts[2]
    out[16] = acc[2] / acc[3] if acc[3] > 0 else nan
    for k in range(17, 22):
        out[k] = nan
    out[22] = counts[1]
    if rel:
        pb = acc[4]
        var = acc[6]
        cagr_b = pb ** (1.0 / (n / ann)) - 1.0
        out[17] = _finite(_finite(cagr) - _finite(cagr_b))
        if n >= 2:
            ma = sa / n
            te = math.sqrt(acc_a / (n - 1))
            out[18] = _finite(te * ann ** (1.0 / 2.0))
            out[19] = nan if ahi == alo else _finite(ma / te * math.sqrt(ann))
            cov /= n
            var /= n
            beta = nan if var < 1.0e-30 else cov / var
            out[20] = _finite(beta)
            # third pass: alpha needs beta
            sr = 0.0
            for i in range(n):
                sr += r[i] - beta * b[i]
            out[21] = _finite((sr / n + 1.0) ** ann - 1.0)


@_jit
def _bench_sums(b, n, acc):
    """The benchmark's product of growth, sum and squared deviations from its mean over b[:n]
    (into acc[4], acc[5], acc[6]), summed in the order _metrics used to sum them."""
    pb = 1.0
    sb = 0.0
    for i in range(n):
        pb *= b[i] + 1.0
        sb += b[i]
    mb = sb / n if n >= 1 else 0.0
    var = 0.0
    for i in range(n):
        db = b[i] - mb
        var += db * db
    acc[4] = pb
    acc[5] = sb
    acc[6] = var


@_jit
def _size(sh, cash, prices, traded, nj, W, c, k, invf, isw, o_j, o_d):
    """RuleStrategy._rebalance: orders (traded index, signed shares) to reach row k of W at
    ``prices``, sells first then buys, each in traded order; returns how many."""
    tmp = 0.0
    for j in range(nj):
        px = prices[traded[c, j]]
        if px == px and sh[j] != 0.0:
            tmp += sh[j] * px
    inv = (cash + tmp) * invf
    no = 0
    for sign in range(2):
        for j in range(nj):
            px = prices[traded[c, j]]
            if px != px:
                continue
            have = sh[j]
            want = W[c, k, j] * inv / px
            if isw:
                want = math.floor(want)
            delta = want - have
            if _ab(delta) > 1e-9 * _mx(1.0, _ab(have)):
                if (sign == 0 and delta < 0) or (sign == 1 and delta > 0):
                    o_j[no] = j
                    o_d[no] = delta
                    no += 1
    return no


@_jit
def simulate(closes, opens, ym, bench, tfa, traded, ntr, W, codes, force, exf, whole, at_close, delay,
             eq, stats, mets, scratch, iscratch, series):
    """Simulate every combination c of the chunk from its first trading bar tfa[c]: equity into
    eq[c, tf:], counts into stats[c] (fills, refused orders; stats[c, 2] holds the rotations
    counted by the caller), metrics into mets[c]."""
    n = tfa.shape[0]
    T = closes.shape[1]
    J = traded.shape[1]
    nan = np.nan
    sh = scratch[0]
    avg = scratch[1]
    was_held = scratch[2]
    o_d = scratch[3]
    px_row = scratch[4]
    pos_v = scratch[5]
    o_j = iscratch[0]
    q_due = iscratch[1]
    q_k = iscratch[2]
    r_buf = series[0]
    b_buf = series[1]
    accs = series[2]
    S = closes.shape[0]
    b_tf = -1
    b_cash = nan
    for c in range(n):
        tf = tfa[c]
        nj = ntr[c]
        cash = exf[c, 0]
        comm = exf[c, 1]
        slip = exf[c, 2]
        invf = exf[c, 3]
        tol = exf[c, 4]
        isw = whole[c] != 0
        closing = at_close[c] != 0
        dl = delay[c]
        for j in range(J):
            sh[j] = 0.0
            avg[j] = 0.0
            was_held[j] = 0.0
        cur = -1  # the target: no row yet (all cash)
        nq = 0
        retry = False
        n_fills = 0
        n_rej = 0
        turn = 0.0
        expo = 0.0
        held_bars = 0
        spans = 0
        for t in range(tf, T):
            notional = 0.0
            no = 0
            due_k = -2
            # -- tickets due at this bar (one fill time per run: all at the open or all at the close)
            q = 0
            while q < nq:
                if q_due[q] == t:
                    due_k = q_k[q]
                    for z in range(q, nq - 1):
                        q_due[z] = q_due[z + 1]
                        q_k[z] = q_k[z + 1]
                    nq -= 1
                else:
                    q += 1
            if due_k != -2:
                for s in range(S):
                    px_row[s] = closes[s, t] if closing else opens[s, t]
                no = _size(sh, cash, px_row, traded, nj, W, c, due_k if due_k >= 0 else W.shape[1] - 1,
                           invf, isw, o_j, o_d)
            if not closing and no > 0:
                # executed at this open, in submission order
                for qq in range(no):
                    j = o_j[qq]
                    d = o_d[qq]
                    px = opens[traded[c, j], t]
                    if d < 0:
                        fill = px * (1.0 - slip) if slip != 0.0 else px
                        x = -d
                        pnl = x * (fill - avg[j]) * 1.0
                        cash += x * avg[j] + pnl
                        cash -= x * comm * fill
                        sh[j] = sh[j] + d
                        if sh[j] == 0.0:
                            avg[j] = 0.0
                    else:
                        fill = px * (1.0 + slip) if slip != 0.0 else px
                        c2 = cash - d * fill
                        c2 -= d * comm * fill
                        if c2 < 0.0:
                            n_rej += 1
                            retry = True
                            continue
                        cash = c2
                        old = sh[j]
                        new = old + d
                        if new == 0.0:
                            avg[j] = 0.0
                        elif old == 0.0:
                            avg[j] = fill
                        else:
                            avg[j] = (avg[j] * old + d * fill) / new
                        sh[j] = new
                    notional += _ab(d * fill)
                    n_fills += 1
                no = 0
            # -- records at the close (backtrader's portfolio value)
            pvu = 0.0
            for j in range(nj):
                if sh[j] != 0.0:
                    px = closes[traded[c, j], t]
                    dv = sh[j] * px
                    pos_v[j] = dv
                    du = sh[j] * (px - avg[j]) * 1.0
                    if dv > 0:
                        pvu += dv - du
                        pvu += du
                    else:
                        pvu += dv
            value = cash + pvu
            eq[c, t] = value
            frc = force[c, t] != 0 or retry
            retry = False
            changed = False
            code = codes[c, t]
            if code >= 0 and code != cur:
                if cur < 0:
                    for j in range(nj):
                        if W[c, code, j] != 0.0:
                            changed = True
                else:
                    for j in range(nj):
                        if W[c, code, j] != W[c, cur, j]:
                            changed = True
                cur = code
            drift = 0.0
            tot = 0.0
            for j in range(nj):
                if sh[j] != 0.0:
                    a = pos_v[j] / value
                    tot += a
                    h = a > 1e-9
                else:
                    a = 0.0
                    h = False
                wt = W[c, cur, j] if cur >= 0 else 0.0
                dd = _ab(a - wt)
                if dd > drift:
                    drift = dd
                if h:
                    held_bars += 1
                    if was_held[j] == 0.0:
                        spans += 1
                was_held[j] = 1.0 if h else 0.0
            expo += tot
            idle = nq == 0 and no == 0
            if changed or frc or (drift > tol and idle):
                k = cur if cur >= 0 else -1
                if dl == 0:
                    # study option: sized now, at this close (after any order already sized here)
                    for s in range(S):
                        px_row[s] = closes[s, t]
                    no2 = _size(sh, cash, px_row, traded, nj, W, c, k if k >= 0 else W.shape[1] - 1, invf,
                                isw, o_j[no:], o_d[no:])
                    no += no2
                elif nq < q_due.shape[0]:
                    q_due[nq] = t + dl
                    q_k[nq] = k
                    nq += 1
            if closing and no > 0 and t < T - 1:
                # booked after the records, at this close's (slipped) price (backtrader books them at
                # the next bar: orders sized at the last close of the data are never filled)
                for qq in range(no):
                    j = o_j[qq]
                    d = o_d[qq]
                    px = closes[traded[c, j], t]
                    if d < 0:
                        fill = px * (1.0 - slip) if slip != 0.0 else px
                        x = -d
                        pnl = x * (fill - avg[j]) * 1.0
                        cash += x * avg[j] + pnl
                        cash -= x * comm * fill
                        sh[j] = sh[j] + d
                        if sh[j] == 0.0:
                            avg[j] = 0.0
                    else:
                        fill = px * (1.0 + slip) if slip != 0.0 else px
                        c2 = cash - d * fill
                        c2 -= d * comm * fill
                        if c2 < 0.0:
                            n_rej += 1
                            retry = True
                            continue
                        cash = c2
                        old = sh[j]
                        new = old + d
                        if new == 0.0:
                            avg[j] = 0.0
                        elif old == 0.0:
                            avg[j] = fill
                        else:
                            avg[j] = (avg[j] * old + d * fill) / new
                        sh[j] = new
                    notional += _ab(d * fill)
                    n_fills += 1
            if notional != 0.0:
                turn += notional / value
        stats[c, 0] = n_fills
        stats[c, 1] = n_rej
        n1 = T - tf
        has_b = bench >= 0
        if has_b and (tf != b_tf or exf[c, 0] != b_cash):  # the benchmark's returns (shared by a chunk)
            b_tf = tf
            b_cash = exf[c, 0]
            x0 = nan
            for t in range(tf, T):
                v0 = closes[bench, t]
                if v0 == v0:
                    x0 = v0
                    break
            cash0 = exf[c, 0]
            prev = nan
            for i in range(n1):
                t = tf + i
                v = closes[bench, t] / x0 * cash0
                if i >= 1:
                    rb = v / prev - 1.0
                    b_buf[i - 1] = rb if rb == rb else 0.0
                prev = v
            _bench_sums(b_buf, n1 - 1, accs)
        accs[0] = turn
        accs[1] = expo
        accs[2] = held_bars
        accs[3] = spans
        _metrics(eq[c, tf:], n1, r_buf, b_buf, has_b, ym, tf, stats[c], accs, mets[c])


def scratch(J: int, T: int, S: int):
    """Work arrays of one simulate() call."""
    return (np.zeros((6, max(J, S, 1) * 2 + 2)), np.zeros((3, max(J * 2 + 2, MAX_TICKETS)), dtype=np.int64),
            np.zeros((3, max(T, 8))))


def warm_up() -> None:
    """Compile the kernel (or load it from numba's cache)."""
    T, S = 4, 1
    c = np.ones((S, T))
    simulate(c, c, np.ones(T, np.int64), -1, np.zeros(1, np.int64), np.zeros((1, 1), np.int64),
             np.ones(1, np.int64), np.ones((1, 2, 1)), np.zeros((1, T), np.int16), np.zeros((1, T), np.int8),
             np.array([[1.0, 0.0, 0.0, 1.0, 0.05]]), np.zeros(1, np.int64), np.zeros(1, np.int64),
             np.ones(1, np.int64), np.zeros((1, T)), np.zeros((1, 3), np.int64), np.zeros((1, len(METRIC_KEYS))),
             *scratch(1, T, S))
