"""Performance metrics of a run: :mod:`rotationlab.metrics`, re-exported here so that reports
(and existing callers) keep importing them as ``reports.metrics``."""

from rotationlab.metrics import *  # noqa: F401,F403
from rotationlab.metrics import __all__  # noqa: F401
from rotationlab.metrics import _d, _f, _j  # noqa: F401
