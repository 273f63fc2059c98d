"""The entry / follow-through / hold / exit state machine of signal rotation rules, defined once.

    growth --entry--> pending --confirm_days days of follow-through--> rotated
       ^                 | (follow-through fails)                          |
       +-----------------+<---- exit, once held at least hold_days --------+

(with ``confirm_days = 0`` an entry rotates at once). :func:`step` is one close of it, in plain
Python, called by the rules' per-bar ``decide``; :func:`run_states` applies the very same
function (compiled by numba) to whole arrays for the rules' vectorized form, so the two forms
cannot drift apart. A bar whose signal is not defined yet (``valid`` false: warm-up) changes
nothing, not even the hold counter.
"""

from __future__ import annotations

import numpy as np

GROWTH, PENDING, ROTATED = 0, 1, 2
STATE_NAMES = ("growth", "pending", "rotated")


def step(state, pend, held, valid, entered, confirmed, exited, confirm_days, hold_days):
    """One close: ``(state, pend, held)`` after seeing this bar's ``entered`` (entry condition),
    ``confirmed`` (follow-through condition) and ``exited`` (exit condition)."""
    if not valid:
        return state, pend, held
    if state == ROTATED:
        held += 1
        if held >= hold_days and exited:
            state = GROWTH
    elif state == PENDING:
        pend = pend + 1 if confirmed else -1
        if pend < 0:
            state = GROWTH
        elif pend >= confirm_days:
            state = ROTATED
            held = 0
    elif entered:
        if confirm_days == 0:
            state = ROTATED
            held = 0
        else:
            state = PENDING
            pend = 0
    return state, pend, held


_RUN = None


def _run_loop(valid, entered, confirmed, exited, cash, confirm_days, hold_days, states, codes):
    """:func:`step` over whole arrays, for ``k`` parameter sets at once: row ``r`` of ``states``
    gets the state after each close, row ``r`` of ``codes`` the decision code (-1 warm-up: keep
    the target; 1 rotated; 2 the ``cash`` mask outside rotation; 0 the base basket). Every input
    is 2-D, with ``k`` rows or one row shared by every set (``cash``: zero rows for none)."""
    k, T = codes.shape
    keep_states = states.shape[0] > 0
    for r in range(k):
        rv = r if valid.shape[0] > 1 else 0
        re = r if entered.shape[0] > 1 else 0
        rc = r if confirmed.shape[0] > 1 else 0
        rx = r if exited.shape[0] > 1 else 0
        has_cash = cash.shape[0] > 0
        rk = r if cash.shape[0] > 1 else 0
        cd = confirm_days[r]
        hd = hold_days[r]
        state, pend, held = 0, 0, 0
        for t in range(T):
            v = valid[rv, t]
            state, pend, held = step(state, pend, held, v, entered[re, t], confirmed[rc, t], exited[rx, t], cd, hd)
            if keep_states:
                states[r, t] = state
            if not v:
                codes[r, t] = -1
            elif state == ROTATED:
                codes[r, t] = 1
            elif has_cash and cash[rk, t]:
                codes[r, t] = 2
            else:
                codes[r, t] = 0


def _compiled():
    """The compiled loop (numba imported on first use: per-bar runs never need it)."""
    global _RUN
    if _RUN is None:
        try:
            import numba
            from numba.extending import register_jitable
        except ImportError:  # pragma: no cover - numba is a dependency
            _RUN = _run_loop
            return _RUN
        register_jitable(step)  # step stays a plain function for decide(); compiled where the loop calls it
        _RUN = numba.njit(cache=True, nogil=True)(_run_loop)
    return _RUN


def _rows(x) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.bool_)
    return x.reshape(1, -1) if x.ndim == 1 else x


def run_codes(valid, entered, confirmed, exited, confirm_days, hold_days, cash=None, states: bool = True):
    """``(states, codes)`` over whole boolean arrays: the state after each close (int8: GROWTH,
    PENDING, ROTATED; None with ``states=False``) and the decision code (int8: -1 warm-up, 1
    rotated, 2 ``cash`` outside rotation, 0 the base basket).

    With 1-D inputs and integer ``confirm_days``/``hold_days``: one parameter set, 1-D results.
    With ``k`` sets: ``confirm_days``/``hold_days`` of length ``k``, each input either 1-D
    (shared by every set) or ``(k, T)``; results ``(k, T)``."""
    many = np.ndim(confirm_days) > 0
    cd = np.atleast_1d(np.asarray(confirm_days, dtype=np.int64))
    hd = np.atleast_1d(np.asarray(hold_days, dtype=np.int64))
    k, T = len(cd), np.shape(valid)[-1]
    st = np.empty((k if states else 0, T), dtype=np.int8)
    codes = np.empty((k, T), dtype=np.int8)
    _compiled()(_rows(valid), _rows(entered), _rows(confirmed), _rows(exited),
                _rows(cash) if cash is not None else np.zeros((0, T), dtype=np.bool_), cd, hd, st, codes)
    if not many:
        return (st[0] if states else None), codes[0]
    return (st if states else None), codes


def decisions(valid, entered, confirmed, exited, confirm_days: int, hold_days: int, base: dict, rotation: dict,
              cash=None):
    """The vectorized decisions of a rule driven by this machine: hold ``rotation`` while
    rotated, else ``base`` (or nothing, all cash, where ``cash`` is true); keep the target
    during the warm-up (``valid`` false)."""
    return decisions_many(valid, entered, confirmed, exited, [confirm_days], [hold_days], [(base, rotation)],
                          cash)[0]


def decisions_many(valid, entered, confirmed, exited, confirm_days, hold_days, baskets: list, cash=None) -> list:
    """:func:`decisions` of ``k`` parameter sets at once (inputs as :func:`run_codes` takes them
    for ``k`` sets; ``baskets``: ``(base, rotation)`` of each set)."""
    from .base import Decisions
    _, codes = run_codes(valid, entered, confirmed, exited, confirm_days, hold_days, cash, states=False)
    rotated = codes == 1
    rows: dict = {}  # one rows list per pair of basket objects (the engine packs each list once)
    blocks: dict = {}  # and one block of those sets' codes (the engine copies runs of rows at once)
    out = []
    for r, (base, rot) in enumerate(baskets):
        key = (id(base), id(rot))
        if key not in rows:
            rows[key] = [base, rot, {}]
            blocks[key] = Decisions(codes=codes, rows=rows[key], rotated=rotated)
        out.append(Decisions(codes=codes[r], rows=rows[key], rotated=rotated[r], block=blocks[key], row=r))
    return out
