"""The README's examples cannot rot: its Python blocks run, its command lines parse, and its
Quick start is exactly the two commands CI runs."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    quick = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [ln for ln in quick.splitlines() if ln.strip()]
    assert len(lines) == 2
    assert "run-backtest run" in lines[0] and "pytest" in lines[1]
    assert "sed -n 2p" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("i", range(len(_blocks("python"))))
def test_python_blocks_run(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write into ./output
    code = _blocks("python")[i]
    exec(compile(code, f"README python block {i + 1}", "exec"), {"__name__": f"readme_{i}"})


def _commands() -> list[list[str]]:
    out = []
    for block in _blocks("bash"):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("run-backtest "):
                out.append(shlex.split(line)[1:])
    return out


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a)[:60])
def test_command_lines_parse(argv):
    from rotationlab.cli import build_parser
    build_parser().parse_args(argv)


def test_api_names_are_not_shadowed_by_modules():
    """``rl.compare`` etc. must stay the API functions even after every core module is imported."""
    import importlib
    import pkgutil

    import rotationlab as rl
    for mod in pkgutil.iter_modules(rl.__path__):
        importlib.import_module(f"rotationlab.{mod.name}")
    for name in ("run", "compare", "sweep", "study", "walkforward", "signal", "settings"):
        assert callable(getattr(rl, name)) and not isinstance(getattr(rl, name), type(importlib)), name
