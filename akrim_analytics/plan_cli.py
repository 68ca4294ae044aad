"""Follow-up commands: ``python -m akrim_analytics plan ...``.

    plan show   [--quarter 2026-K4] [--ftes 2 | --hours 800] [--min-per-department N] [--json]
    plan export --out plan.xlsx [same options]
    plan one-more-person [same options]
    plan adherence [--quarter 2026-K4]

They read the saved planning settings and override what is given. Nothing is written
to the database (saving a plan is done in the app by an analyst)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from . import db, fmt
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


def _run(args, fn):
    from . import plan

    con = db.connect(args.db, read_only=True)
    try:
        s = _settings(con, args)
        q = _quarter(con, getattr(args, "quarter", None))
        return fn(con, plan, s, q)
    except plan.PlanError as e:
        raise UserError(str(e)) from None
    finally:
        con.close()


def _cmd_show(args) -> int:
    def go(con, plan, s, q):
        p = plan.build_plan(con, s, q.year, q.quarter)
        if args.json:
            print(json.dumps({
                "year": p.year, "quarter": p.quarter, "capacity_hours": p.capacity_hours,
                "hours_planned": p.hours_planned, "objective": p.objective, "coverage": p.coverage,
                "items": [{"contract_id": r.contract_id, "department": r.department, "steps": list(r.steps),
                           "hours": r.hours, "exposure": r.exposure, "why": plan.why(r.reasons)}
                          for r in p.items.itertuples()],
            }, ensure_ascii=False, default=str))
            return 0
        print(f"Oppfølgingsplan {q.label('nb')}: {len(p.items)} kontrakter, {len(p.steps)} kontroller, "
              f"{fmt.number(p.hours_planned, 0)} av {fmt.number(p.capacity_hours, 0)} timer; "
              f"høy/middels eksponering dekket {fmt.pct(p.coverage['share_hm_after'])} "
              f"(før: {fmt.pct(p.coverage['share_hm_before'])})")
        for r in p.items.itertuples():
            print(f"  {r.department:6s} {r.contract_id:16s} {r.steps_text:18s} {fmt.number(r.hours, 0):>5s} t  "
                  f"{fmt.nok(r.exposure):>18s}  {r.contract_name}")
        return 0
    return _run(args, go)


def _cmd_export(args) -> int:
    def go(con, plan, s, q):
        p = plan.build_plan(con, s, q.year, q.quarter)
        out = Path(args.out)
        out.write_bytes(plan.export_excel(p, args.lang))
        print(json.dumps({"file": str(out), "contracts": len(p.items), "sheets": 1 + p.items["department"].nunique()}))
        return 0
    return _run(args, go)


def _cmd_extra(args) -> int:
    def go(con, plan, s, q):
        r = plan.one_more_person(con, s, q.year, q.quarter)
        print(json.dumps(r, ensure_ascii=False, default=str))
        return 0
    return _run(args, go)


def _cmd_adherence(args) -> int:
    def go(con, plan, s, q):
        a = plan.adherence(con, year=q.year, quarter=q.quarter)
        if a is None:
            raise UserError(f"Ingen lagret plan for {q.label('nb')}.")
        print(json.dumps({"plan_id": a["plan_id"], "as_of": a["as_of"], "total": a["total"],
                          "by_department": a["by_department"].to_dict(orient="records"),
                          "overdue": len(a["overdue"]), "unplanned_done": a["unplanned_done"]},
                         ensure_ascii=False, default=str))
        return 0
    return _run(args, go)


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
