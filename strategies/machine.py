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


def _compiled():
    """The compiled loop (numba imported on first use: per-bar runs never need it)."""
    global _RUN
    if _RUN is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a dependency
            def run(valid, entered, confirmed, exited, confirm_days, hold_days, out):
                state, pend, held = 0, 0, 0
                for t in range(valid.shape[0]):
                    state, pend, held = step(state, pend, held, valid[t], entered[t], confirmed[t], exited[t],
                                             confirm_days, hold_days)
                    out[t] = state
            _RUN = run
            return _RUN
        jstep = numba.njit(cache=True, nogil=True)(step)

        @numba.njit(cache=True, nogil=True)
        def run(valid, entered, confirmed, exited, confirm_days, hold_days, out):
            state, pend, held = 0, 0, 0
            for t in range(valid.shape[0]):
                state, pend, held = jstep(state, pend, held, valid[t], entered[t], confirmed[t], exited[t],
                                          confirm_days, hold_days)
                out[t] = state
        _RUN = run
    return _RUN


def run_states(valid, entered, confirmed, exited, confirm_days: int, hold_days: int) -> np.ndarray:
    """The state after each close (int8: GROWTH, PENDING, ROTATED) over whole boolean arrays."""
    out = np.empty(len(valid), dtype=np.int8)
    _compiled()(np.ascontiguousarray(valid, dtype=np.bool_), np.ascontiguousarray(entered, dtype=np.bool_),
         np.ascontiguousarray(confirmed, dtype=np.bool_), np.ascontiguousarray(exited, dtype=np.bool_),
         int(confirm_days), int(hold_days), out)
    return out
