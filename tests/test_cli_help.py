"""Every command's --help: no value type after a flag, real types after options, names from the registries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from islandgrid.carbon.factors import FACTORS
from islandgrid.cli.main import app
from islandgrid.dispatch.registry import strategy_factories, strategy_summaries
from islandgrid.inputs.timegrid import RESOLUTIONS
from islandgrid.site.spec import Site

RUNNER = CliRunner()


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, sub in getattr(cmd, "commands", {}).items():
        out += _commands(sub, (*path, name))
    return out


COMMANDS = _commands(get_command(app))


def _help(path: tuple[str, ...]) -> str:
    r = RUNNER.invoke(app, [*path, "--help"], env={"COLUMNS": "400"}, terminal_width=400)
    assert r.exit_code == 0, r.stdout + r.stderr
    return r.stdout


def _option_row(text: str, option: str) -> str:
    """The help row of ``option`` (the line that starts with it inside the options box)."""
    rows = [line for line in text.splitlines() if re.search(rf"│\s+(\*\s+)?{re.escape(option)}\b", line)]
    assert rows, f"{option} not in help:\n{text}"
    return rows[0]


def test_every_command_is_covered() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"simulate", "size", "ledger verify", "report carbon", "factors", "serve", "strategies"} <= names
    assert len(names) >= 17


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "islandgrid")
def test_no_type_after_a_flag_and_a_type_after_every_value_option(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<bool>" not in text  # a flag takes no value
    cmd: Any = get_command(app)
    for part in path:
        cmd = cmd.commands[part]
    for param in cmd.params:
        if param.param_type_name != "option" or getattr(param, "hidden", False):
            continue
        row = _option_row(text, param.opts[0])
        shown = re.search(r"<[a-z\[\] ]+>", row)
        if param.is_flag:
            assert shown is None, f"flag {param.opts[0]} shows a value type: {row}"
        else:
            assert shown, f"{param.opts[0]} shows no type: {row}"


@pytest.mark.parametrize("path", [p for p in COMMANDS if p], ids=" ".join)
def test_strategy_and_resolution_help_name_every_choice(path: tuple[str, ...]) -> None:
    text = " ".join(_help(path).replace("│", " ").split())
    cmd: Any = get_command(app)
    for part in path:
        cmd = cmd.commands[part]
    opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
    if "--strategy" in opts:
        for name in strategy_factories():
            assert re.search(rf"\b{name}\b", text), f"--strategy help of {path} lacks {name}"
    if "--resolution" in opts:
        for res in RESOLUTIONS:  # forecast and regret used to omit 1min
            assert re.search(rf"\b{res}\b", text), f"--resolution help of {path} lacks {res}"


def test_factors_kind_help_lists_the_registry_kinds() -> None:
    text = _help(("factors",))
    for kind in {f.kind for f in FACTORS}:
        assert kind in text


@pytest.mark.parametrize("path", [("ledger", "verify"), ("ledger", "export")])
def test_site_id_help_of_commands_without_a_site_file(path: tuple[str, ...]) -> None:
    row = _option_row(_help(path), "--site-id")
    assert "site file" not in row and "chain" in row


def _fix_hints(model: Any) -> list[str]:
    hints = []
    for info in model.model_fields.values():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        hints += [str(extra["fix"])] if "fix" in extra else []
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and hasattr(arg, "model_fields") and arg is not model:
                hints += _fix_hints(arg)
    return hints


def test_commands_named_in_site_file_hints_exist() -> None:
    named = {m for hint in _fix_hints(Site) for m in re.findall(r"`islandgrid ([a-z]+)", hint)}
    assert "strategies" in named  # [simulation] strategy's hint
    for name in named:
        r = RUNNER.invoke(app, [name, "--help"])
        assert r.exit_code == 0, f"`islandgrid {name}` is named in a hint but does not exist"


def test_strategies_lists_the_registry() -> None:
    r = RUNNER.invoke(app, ["strategies"], env={"COLUMNS": "200"}, terminal_width=200)
    assert r.exit_code == 0
    for name in strategy_factories():
        assert re.search(rf"│ {name}\s+│", r.stdout), name
    missing = [name for name, summary in strategy_summaries().items() if not summary]
    assert not missing, f"add a line to strategy._SUMMARIES for {missing}"
