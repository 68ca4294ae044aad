"""Follow-up commands: ``python -m akrim_analytics plan ...``.

    plan show   [--quarter 2026-K4] [--ftes 2 | --hours 800] [--min-per-department N] [--json]
    plan export --out plan.xlsx [same options]
    plan one-more-person [same options]
    plan adherence [--quarter 2026-K4]

They read the saved planning settings and override what is given. Nothing is written
to the database (saving a plan is done in the app by an analyst). While a dashboard holds
the database they run in its process (``handoff``)."""
from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

from . import fmt, handoff
from .cli import UserError
from .filters import Period


def _settings(con, args):
    from . import plan

    s = plan.get_settings(con)
    if args.ftes is not None:
        s = replace(s, capacity_mode="fte", ftes=float(args.ftes))
    if args.hours is not None:
        s = s.with_hours(float(args.hours))
    if args.min_per_department is not None:
        s = replace(s, min_per_department=int(args.min_per_department))
    return s


def _quarter(con, text):
    from . import plan

    if not text:
        return plan.default_quarter(con)
    try:
        p = Period.parse(text)
    except ValueError:
        raise UserError(f"--quarter {text!r}: expected e.g. 2026-K4.") from None
    if p.quarter is None:
        raise UserError(f"--quarter {text!r}: give a quarter, e.g. {p.year}-K1.")
    return p


# Each command runs as a job (``handoff.run``): in the dashboard's process while it holds
# the database, else here (read-only). Parameters travel as JSON values.
_PARAMS = {"quarter": handoff.OPT_STR, "ftes": (float, int, type(None)), "hours": (float, int, type(None)),
           "min_per_department": (int, type(None))}


def _run(args, command: str, extra: dict | None = None, **kw) -> int:
    params = {"quarter": args.quarter, "ftes": args.ftes, "hours": args.hours,
              "min_per_department": args.min_per_department, **(extra or {})}
    return handoff.run(args.db, command, params, read_only=True, **kw)


def _plan_runner(command: str, extra_types: dict | None = None):
    """Register ``fn(con, plan, settings, quarter, params, out, job)`` as ``command``."""
    def register(fn):
        @handoff.runner(command)
        def run(con, params, out, job):
            from . import plan

            p = handoff.checked(params, {**_PARAMS, **(extra_types or {})})
            ns = SimpleNamespace(**p)
            try:
                fn(con, plan, _settings(con, ns), _quarter(con, p["quarter"]), p, out, job)
            except plan.PlanError as e:
                raise UserError(str(e)) from None
        return fn
    return register


def _cmd_show(args) -> int:
    return _run(args, "plan-show", {"json": bool(args.json)})


@_plan_runner("plan-show", {"json": bool})
def _show(con, plan, s, q, p, out, job) -> None:
    pl = plan.build_plan(con, s, q.year, q.quarter)
    if p["json"]:
        print(json.dumps({
            "year": pl.year, "quarter": pl.quarter, "capacity_hours": pl.capacity_hours,
            "hours_planned": pl.hours_planned, "objective": pl.objective, "coverage": pl.coverage,
            "items": [{"contract_id": r.contract_id, "department": r.department, "steps": list(r.steps),
                       "hours": r.hours, "exposure": r.exposure, "why": plan.why(r.reasons)}
                      for r in pl.items.itertuples()],
        }, ensure_ascii=False, default=str), file=out)
        return
    print(f"Oppfølgingsplan {q.label('nb')}: {len(pl.items)} kontrakter, {len(pl.steps)} kontroller, "
          f"{fmt.number(pl.hours_planned, 0)} av {fmt.number(pl.capacity_hours, 0)} timer; "
          f"høy/middels eksponering dekket {fmt.pct(pl.coverage['share_hm_after'])} "
          f"(før: {fmt.pct(pl.coverage['share_hm_before'])})", file=out)
    for r in pl.items.itertuples():
        print(f"  {r.department:6s} {r.contract_id:16s} {r.steps_text:18s} {fmt.number(r.hours, 0):>5s} t  "
              f"{fmt.nok(r.exposure):>18s}  {r.contract_name}", file=out)


def _cmd_export(args) -> int:
    return _run(args, "plan-export", {"file": str(args.out), "lang": args.lang}, results={"plan.xlsx": args.out})


@_plan_runner("plan-export", {"file": str, "lang": str})
def _export(con, plan, s, q, p, out, job) -> None:
    pl = plan.build_plan(con, s, q.year, q.quarter)
    handoff.out_path(job, "plan.xlsx").write_bytes(plan.export_excel(pl, p["lang"]))
    print(json.dumps({"file": p["file"], "contracts": len(pl.items),
                      "sheets": 1 + pl.items["department"].nunique()}), file=out)


def _cmd_extra(args) -> int:
    return _run(args, "plan-one-more-person")


@_plan_runner("plan-one-more-person")
def _extra(con, plan, s, q, p, out, job) -> None:
    print(json.dumps(plan.one_more_person(con, s, q.year, q.quarter), ensure_ascii=False, default=str), file=out)


def _cmd_adherence(args) -> int:
    return _run(args, "plan-adherence")


@_plan_runner("plan-adherence")
def _adherence(con, plan, s, q, p, out, job) -> None:
    a = plan.adherence(con, year=q.year, quarter=q.quarter)
    if a is None:
        raise UserError(f"Ingen lagret plan for {q.label('nb')}.")
    print(json.dumps({"plan_id": a["plan_id"], "as_of": a["as_of"], "total": a["total"],
                      "by_department": a["by_department"].to_dict(orient="records"),
                      "overdue": len(a["overdue"]), "unplanned_done": a["unplanned_done"]},
                     ensure_ascii=False, default=str), file=out)


def register(sub) -> None:
    p = sub.add_parser("plan", help="the quarterly follow-up plan (read-only)")
    psub = p.add_subparsers(dest="plan_command", required=True)

    def common(q):
        q.add_argument("--db", default=None, help="database path (default: $AKRIM_DB or the demo database)")
        q.add_argument("--quarter", default=None, help="e.g. 2026-K4 (default: the coming/current quarter)")
        q.add_argument("--ftes", type=float, default=None, help="dedicated FTEs (capacity = FTEs × hours per FTE)")
        q.add_argument("--hours", type=float, default=None, help="capacity in hours for the quarter")
        q.add_argument("--min-per-department", type=int, default=None)

    q = psub.add_parser("show", help="print the plan")
    common(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_show)
    q = psub.add_parser("export", help="write the plan to Excel (one sheet per department)")
    common(q)
    q.add_argument("--out", required=True)
    q.add_argument("--lang", default="nb", choices=("nb", "en"))
    q.set_defaults(func=_cmd_export)
    q = psub.add_parser("one-more-person", help="what one more dedicated person would cover")
    common(q)
    q.set_defaults(func=_cmd_extra)
    q = psub.add_parser("adherence", help="plan against done for the quarter's saved plan")
    common(q)
    q.set_defaults(func=_cmd_adherence)
