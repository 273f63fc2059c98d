#!/usr/bin/env python3
"""Rotation Lab command line. ``python run_backtest.py --help``; installed as ``run-backtest``."""

import sys

from rotationlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
