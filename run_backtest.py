#!/usr/bin/env python3
"""Rotation Lab command line. ``python run_backtest.py --help``; installed as ``run-backtest``."""

from rotationlab.cli import entry

if __name__ == "__main__":
    entry()
