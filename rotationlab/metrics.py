"""Performance metrics of a run (placeholder module: the definitions live in reports.metrics
until they move here)."""

from reports.metrics import *  # noqa: F401,F403
from reports.metrics import (METRIC_ROWS, PERIODS, RELATIVE, TRADING, annual_turnover, benchmark_returns,  # noqa: F401
                             compute_metrics, drawdown, drawdown_episodes, fmt, holding_spans, monthly_returns,
                             returns_metrics, returns_of, rolling_return, rolling_sharpe, rotation_episodes,
                             strategy_returns, wealth, worst_drawdowns, yearly_returns)
