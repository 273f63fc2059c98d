"""Rotation Lab: test sector/style rotation hypotheses against market history.

    import rotationlab as rl
    run = rl.run()                                   # the divergence rule on the embedded sample
    run.metrics["metrics"]["cagr"], run.equity, run.trades
    run.report("output/quickstart")                  # PNGs, report.pdf, report.html

``rl.run``, ``rl.compare``, ``rl.sweep``, ``rl.study``, ``rl.walkforward``, ``rl.signal``; data
loaders ``rl.load_sample``, ``rl.load_csv``, ``rl.load_yahoo``; ``rl.Rule`` to write your own
rule (see the README's "Python API" section).
"""

__version__ = "0.2.0"

_API = ("run", "compare", "sweep", "study", "walkforward", "signal", "settings", "load_sample", "load_csv",
        "load_yahoo", "Run", "Comparison", "SweepRun", "StudyRun", "WalkForwardRun", "Signal")
_RULES = ("Rule", "History", "Target", "Decisions", "PanelHistory", "equal_weights", "weights_of", "register")


def __getattr__(name):  # imports on first use: `import rotationlab` stays fast
    if name in _API:
        from rotationlab import api
        return getattr(api, name)
    if name in _RULES:
        import strategies.base as base
        return getattr(base, name)
    if name == "RunConfig":
        from rotationlab.config import RunConfig
        return RunConfig
    if name == "Execution":
        from rotationlab.config import Execution
        return Execution
    if name == "read_trials":
        from rotationlab.sweeps import read_trials
        return read_trials
    if name == "UserError":
        from rotationlab.errors import UserError
        return UserError
    raise AttributeError(f"module 'rotationlab' has no attribute {name!r}")


def __dir__():
    return sorted([*_API, *_RULES, "RunConfig", "Execution", "read_trials", "UserError", "__version__"])
