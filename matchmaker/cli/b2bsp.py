"""CLI command ``import-b2bsp``: a B2BSP MiniZinc instance (.dzn) -> scenario file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import force_option, library_errors


def register(group: click.Group) -> None:
    """Add ``import-b2bsp`` to the click group (``matchmaker.cli.main``)."""

    @group.command("import-b2bsp")
    @click.argument("dzn", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--fairness", "fairness", type=click.IntRange(min=0), default=2, show_default=True,
                  help="Hard rule: most minus fewest breaks of any participant is at most this.")
    @click.option("--no-fairness", is_flag=True, help="No fairness rule.")
    @click.option("--variant", type=str, default=None, metavar="RECIPE",
                  help="A crafted variant of the instance, by the paper's recipes: forb0003, forb0007 (random forbidden "
                       "slots), fixed020-Forb, fixed040-Forb (meetings fixed to random slots), prec15, prec25 (random "
                       "precedences); see docs/brokerage.md.")
    @click.option("--variant-seed", type=int, default=0, show_default=True, help="Seed of --variant's random choices.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Scenario file to write.")
    @force_option
    @library_errors
    def import_b2bsp_command(dzn, fairness, no_fairness, variant, variant_seed, output, force):
        """Convert a B2BSP brokerage-event instance (MiniZinc .dzn) into a scenario file.

        Every requested meeting becomes a must request between two participants,
        meeting at one shared pool of nTables tables; slots 1..nMorningSlots are the
        morning session, the rest the afternoon; the objective is the fewest breaks.

        \b
        Example:
          matchmaker import-b2bsp forum-13.original.dzn --fairness 2 -o forum-13.json
          matchmaker solve forum-13.json -o out/forum-13
          matchmaker import-b2bsp forum-13.original.dzn --variant prec25 --variant-seed 1 -o forum-13.prec25-s1.json
        """
        from ..io.b2bsp import load_b2bsp
        from ..io.b2bsp_variants import parse_recipe
        from ..io.files import write_atomic

        if variant is not None:
            try:
                parse_recipe(variant)
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--variant") from None
        scenario = load_b2bsp(dzn, None if no_fairness else fairness, None if variant is None else (variant, variant_seed))
        text = json.dumps(scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True), indent=1, ensure_ascii=False) + "\n"
        write_atomic(output, text, force=force)
        click.echo(
            f"wrote {output}: {len(scenario.participants)} participants, {sum(r.meetings for r in scenario.requests)} meetings, "
            f"{scenario.locations[0].tables} tables, {len(scenario.pinned)} pinned, {len(scenario.precedences)} precedences"
        )
