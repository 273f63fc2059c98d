"""The sweep report's overfitting page: deflated Sharpe ratio and PBO (values of overfitting.json)."""

from __future__ import annotations

import numpy as np

from reports import pdf as P
from reports.style import FIGSIZE, style


def overfitting_page(o: dict, strategy: str):
    W, H = FIGSIZE
    with style():
        fig = P._page(f"Is the best combination skill or luck? {strategy}",
                      f"{o.get('n_trials', 0)} combinations, every one counted; {o.get('basis', '')}")
        if not o.get("applicable"):
            fig.text(0.4 / W, 0.8, f"Not applicable: {o.get('reason')}", fontsize=11)
            return fig
        rows = [["best combination", o["best"]],
                ["its Sharpe (annual)", f"{o['best_sharpe_annual']:.2f}"],
                ["trials / effective independent trials", f"{o['n_trials']} / {o['n_trials_effective']:.1f}"],
                ["best Sharpe expected from luck alone (annual)", f"{o['expected_max_sharpe_annual']:.2f}"],
                ["deflated Sharpe ratio (P[true Sharpe > luck])", f"{o['deflated_sharpe_ratio']:.3f}"],
                ["probability of backtest overfitting (PBO)", f"{o['pbo']:.3f}"],
                ["P[in-sample best loses out of sample]", f"{o['prob_oos_loss']:.3f}"],
                ["CSCV splits / combinations", f"{o['pbo_splits']} / {o['pbo_combinations']:,}"],
                ["days", f"{o['n_days']:,} ({o['from']} to {o['to']})"]]
        P._table(fig, [0.4 / W, 0.36, 6.6 / W, 0.045 * (len(rows) + 1)], ["", "value"], rows, widths=[4.2, 2.4],
                 aligns=["left", "right"], gid="overfit_table")
        ax = fig.add_axes([8.1 / W, 0.16, 3.6 / W, 0.6])
        is_p, oos_p = np.asarray(o["is_oos"]["is_perf"]), np.asarray(o["is_oos"]["oos_perf"])
        ax.scatter(is_p, oos_p, s=8, alpha=0.4, color="#1f77b4", gid="is_oos")
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_xlabel("in-sample Sharpe of the in-sample best (per day)")
        ax.set_ylabel("its out-of-sample Sharpe")
        ax.set_title("Each CSCV split", fontsize=11)
        note = P.Column(fig, 0.4, 0.34 * H, 6.8, 0.3)
        verdict = o.get("verdict")
        if isinstance(verdict, dict) and verdict.get("verdict"):
            note.para(f"Verdict: {verdict['verdict']}", size=11.5, weight="bold", color="#1f4e79")
            if verdict.get("sentence"):
                note.para(str(verdict["sentence"]), size=9)
            note.gap(0.08)
        note.para("Deflated Sharpe near 1: the best row's Sharpe is unlikely to be the luck of picking the best "
                  "of many correlated trials. PBO near 0: the in-sample best keeps ranking in the top half out "
                  "of sample; near 0.5 or above: the choice of parameters does not carry over. "
                  + o.get("method", ""), size=8.5, color="0.3")
    return fig
