"""The README's carbon-aware compute table (``make compute-headline``).

For the Horinger example with 24 h and 48 h of deadline slack: PV share, diesel hours, CO2, energy
cost and late jobs under each job policy, each with its dispatch (fifo and green under the site's
``pv_first`` rules, mpc under the MPC, optimal under the perfect-foresight MILP, whose gap to the
jobs-and-dispatch LP bound is printed); and ``size`` of the 100 kW reference room at the same targets
without jobs, with the jobs first come first served, and with flexible jobs (green, placed on the chosen
design until the choice stops changing: the rounds are printed). Prints markdown; ``--out FILE`` also writes it there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import islandgrid
from islandgrid.compute.place import site_with_job_policy
from islandgrid.simulate.optimal import optimize
from islandgrid.site.compute import ComputeSpec
from islandgrid.site.spec import Site
from islandgrid.sizing.search import run_sizing

ROOT = Path(__file__).resolve().parents[1]
RUNS = (("fifo", "pv_first"), ("green", "pv_first"), ("mpc", "mpc"), ("optimal", "optimal"))


def with_slack(site: Site, slack_h: float) -> Site:
    """``site`` with flexible compute at the section's defaults and ``slack_h`` of deadline slack."""
    spec = site.compute or ComputeSpec()
    return site.model_copy(update={"compute": spec.model_copy(update={"deadline_slack_h": slack_h})})


def policy_table(site: Site) -> list[str]:
    """One markdown row per slack and policy."""
    rows = [
        "| slack | job policy | dispatch | PV share | diesel h | CO2 t | energy cost k CNY | late jobs "
        "(of which fifo met) | jobs shifted MWh | resumes | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    plain = islandgrid.simulate(site)
    k = plain.kpis
    rows.append(
        f"| none | (no jobs: the [load] profile) | pv_first | {100 * k['pv_share']:.1f} % | {k['diesel_hours']:.1f} | "
        f"{k['co2_kg'] / 1000:.1f} | {k['energy_cost'] / 1000:.1f} | | | | |"
    )
    for slack in (24.0, 48.0):
        for policy, strategy in RUNS:
            t0 = time.perf_counter()
            s = site_with_job_policy(with_slack(site, slack), policy)
            r = optimize(s) if strategy == "optimal" else islandgrid.simulate(s, strategy=strategy)
            wall = time.perf_counter() - t0
            k = r.kpis
            note = ""
            if policy == "optimal" and r.jobs is not None and r.jobs.info.lp_objective is not None:
                bound = r.jobs.info.lp_objective
                gap = (k["optimal_objective"] - bound) / abs(k["optimal_objective"])
                note = f" (gap to the LP bound {100 * gap:.2f} %)"
            rows.append(
                f"| {slack:.0f} h | {policy} | {strategy}{note} | {100 * k['pv_share']:.1f} % | "
                f"{k['diesel_hours']:.1f} | "
                f"{k['co2_kg'] / 1000:.1f} | {k['energy_cost'] / 1000:.1f} | {k['jobs_late']} of {k['jobs_total']} "
                f"({k['jobs_late_fifo_met']}) | {k['flexible_energy_shifted_kwh'] / 1000:.1f} | {k['job_resumes']} | "
                f"{wall:.1f} |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def sizing_table(site: Site) -> list[str]:
    """The cheapest design meeting the targets without jobs, with the jobs run first come first served, and
    with flexible jobs (green), each placed on the chosen design until the choice stops changing."""
    rows = [
        "| load | PV kWp | battery kWh | battery kW | genset kW | strategy | PV share | NPC CNY | placement rounds "
        "| designs/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, s in (
        ("fixed ([load] profile)", site),
        ("the jobs, fifo (not shifted), 24 h slack", site_with_job_policy(with_slack(site, 24.0), "fifo")),
        ("flexible jobs, green, 24 h slack", site_with_job_policy(with_slack(site, 24.0), "green")),
        ("the jobs, fifo (not shifted), 48 h slack", site_with_job_policy(with_slack(site, 48.0), "fifo")),
        ("flexible jobs, green, 48 h slack", site_with_job_policy(with_slack(site, 48.0), "green")),
    ):
        res = run_sizing(s, s.sizing)
        if res.best is None:
            rows.append(f"| {label} | no design meets the targets: {'; '.join(res.why)} ||||||||| ")
            continue
        b = res.table.iloc[res.best]
        n_rounds = len(res.job_rounds) or ""
        rows.append(
            f"| {label} | {b['pv_kwp']:.0f} | {b['battery_kwh']:.0f} | {b['battery_kw']:.0f} | {b['genset_kw']:.0f} | "
            f"{b['strategy']} | {100 * b['pv_share']:.1f} % | {b['npc']:,.0f} | {n_rounds} | "
            f"{len(res.table) * max(len(res.job_rounds), 1) / res.seconds:,.0f} |"
        )
        print(rows[-1], *res.notes, sep="\n  ", file=sys.stderr, flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    ap.add_argument("--skip-size", action="store_true", help="only the policy table")
    args = ap.parse_args()
    site = islandgrid.load_site(ROOT / "examples" / "horinger-ai-room.toml")
    lines = ["Horinger AI room, hourly, 2025 (`make compute-headline`):", "", *policy_table(site)]
    if not args.skip_size:
        ref = islandgrid.load_site(ROOT / "examples" / "reference-100kw-sizing.toml")
        lines += ["", "`size` of the 100 kW reference room at the same targets:", "", *sizing_table(ref)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
