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


def _quoted_outputs() -> list[tuple[list[str], list[str]]]:
    """(command, the lines the README says it prints) of the market-note section."""
    section = README.split("## From a market note to an answer", 1)[1].split("\n## ", 1)[0]
    pairs = re.findall(r"```bash\n(.*?)```\n```text\n(.*?)```", section, flags=re.S)
    return [(shlex.split(cmd.replace("\\\n", " ").strip())[1:], [ln for ln in out.splitlines() if ln.strip()])
            for cmd, out in pairs]


@pytest.mark.slow
@pytest.mark.parametrize("argv, lines", _quoted_outputs(), ids=lambda a: " ".join(a)[:60] if a and
                         not a[0].startswith(("dow_", "days ", "the ")) else "")
def test_the_market_note_answers_are_what_the_commands_print(argv, lines, tmp_path, capsys, monkeypatch):
    shared = ROOT.parent / "shared" / "data" / "market"  # where configs/divergence_etf.toml looks
    if not (shared / "SPY.csv").is_file():
        pytest.skip(f"the shared market data ({shared}) is not beside this checkout (it is in CI)")
    from rotationlab.cli import main
    monkeypatch.chdir(ROOT)  # the configs name ../shared/data/market relative to the repository
    extra = [] if argv[0] == "signal" else ["--out", str(tmp_path / "o"), "--no-pdf", "--no-html", "--no-progress"]
    assert main([*argv, *extra]) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in lines:
        assert line in printed, line
