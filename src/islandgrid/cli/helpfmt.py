"""Help-screen plumbing shared by every command: flags without a value type, option texts from the registries.

typer's rich help prints a value type after every option, so a flag such as ``--json`` reads
``--json <bool>`` as if it took a value. :class:`Command` and :class:`Group` give flags (and
``--help``) an empty metavar before the help is drawn, so they show none, while every option
that takes a value keeps its type (``<path>``, ``<str>``, ``<float range>``...).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from islandgrid.carbon.factors import FACTORS
from islandgrid.dispatch.registry import strategy_factories
from islandgrid.inputs.timegrid import RESOLUTIONS

#: ``--resolution`` choices, from the one table of resolutions.
RESOLUTION_CHOICES = ", ".join(RESOLUTIONS)
#: ``--resolution`` help of every command that takes it.
RESOLUTION_HELP = f"One of {RESOLUTION_CHOICES}; overrides the site file."
#: Strategy names, from the one strategy registry (``islandgrid strategies`` lists them too).
STRATEGY_CHOICES = ", ".join(strategy_factories())
#: ``--strategy`` help of every command that takes one strategy.
STRATEGY_HELP = f"Dispatch strategy, one of {STRATEGY_CHOICES} (see `islandgrid strategies`); overrides the site file."
#: Emission-factor kinds, from the factor registry.
FACTOR_KINDS: tuple[str, ...] = tuple(dict.fromkeys(f.kind for f in FACTORS))


def _untyped_flags(params: list[Any]) -> None:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # typer prints the metavar instead of the type: nothing after a flag


class Command(TyperCommand):
    """A typer command whose help shows no value type after a flag."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _untyped_flags(self.get_params(ctx))
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """A typer command group whose help shows no value type after a flag."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _untyped_flags(self.get_params(ctx))
        super().format_help(ctx, formatter)


def use_help_classes(app: typer.Typer) -> None:
    """Give ``app``, its commands and its sub-groups (recursively) the help classes above."""
    if not app.info.cls or app.info.cls is TyperGroup:
        app.info.cls = Group
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = Command
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_help_classes(group.typer_instance)


JOB_POLICY_HELP = (
    "Place flexible training jobs with this policy: fifo, green, optimal or mpc (README, Carbon-aware compute); "
    "overrides [compute] job_policy and turns jobs on for a site without that section."
)
