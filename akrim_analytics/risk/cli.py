"""Risk commands: ``python -m akrim_analytics risk score|explain|runs|config ...``.

They act as the ``system`` account (whoever runs them on the server already holds the
database file); every scoring run and settings change is audit-logged as in the app."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .. import db, fmt
from ..i18n import t
from ..auth import SYSTEM
from ..cli import UserError


def _connect(path):
    """The database, without DuckDB's progress bar (it prints to stdout, into the JSON)."""
    con = db.connect(path)
    con.execute("SET enable_progress_bar = false")
    return con


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of {text!r}: expected a date like 2026-09-30.") from None


def _cmd_score(args) -> int:
    from . import level_counts, run_info, score_all, score_quarters

    con = _connect(args.db)
    try:
        if args.quarters_from:
            start = _date(args.quarters_from)
            end = _date(args.as_of) or dt.date.today()
            ids = score_quarters(con, SYSTEM, start, end, reason="cli quarter history")
            print(json.dumps({"runs": ids}))
            return 0
        run_id = score_all(con, SYSTEM, _date(args.as_of), reason="cli", pinned=args.pin)
        info = run_info(con, run_id)
        print(json.dumps({"run_id": run_id, "as_of": info["as_of"].isoformat()[:10],
                          "config_version": info["config_version"], "data_version": info["data_version"],
                          "contracts": info["n_contracts"], "suppliers": info["n_suppliers"],
                          "seconds": info["seconds"], "levels": level_counts(con, run_id)}, ensure_ascii=False))
    finally:
        con.close()
    return 0


def _cmd_explain(args) -> int:
    from . import assessment, explain, run_for_period

    con = _connect(args.db)
    try:
        run_id = run_for_period(con, _date(args.as_of)) if args.as_of else None
        etype = "supplier" if args.supplier else "contract"
        a = assessment(con, etype, args.entity_id, run_id)
        if a is None:
            raise UserError(f"{etype} {args.entity_id!r} is not assessed in that run.")
        lines = explain(con, etype, args.entity_id, run_id)
        col = "explanation_en" if args.lang == "en" else "explanation_nb"
        if args.lang == "en":
            exposure = "–" if a["exposure"] is None else f"NOK {float(a['exposure']):,.0f}"
            level = t("risk.level." + a["level"], "en")
            print(f"{etype} {args.entity_id}: {level} (likelihood {a['likelihood']}, "
                  f"consequence {a['consequence']}, step {a['required_step']}, exposure {exposure})")
        else:
            print(f"{etype} {args.entity_id}: {a['level']} (sannsynlighet {a['likelihood']}, "
                  f"konsekvens {a['consequence']}, trinn {a['required_step']}, "
                  f"eksponering {fmt.nok(a['exposure'])})")
        for text, unknown in zip(lines[col], lines["unknown"]):
            print(f"  {'?' if unknown else '-'} {text}")
    finally:
        con.close()
    return 0


def _cmd_runs(args) -> int:
    from . import runs

    con = _connect(args.db)
    try:
        df = runs(con, include_pruned=args.all)
    finally:
        con.close()
    for r in df.itertuples():
        print(f"{r.run_id:6d}  {fmt.date(r.as_of)}  config v{r.config_version}  data v{r.data_version}  "
              f"{r.n_contracts} kontrakter  {r.n_suppliers} leverandører  {'pinned ' if r.pinned else ''}"
              f"{'pruned ' if r.pruned else ''}{r.reason or ''}")
    return 0


def _cmd_config(args) -> int:
    from . import ConfigError, load_config, parse_toml, save_config, to_toml

    con = _connect(args.db)
    try:
        if args.export:
            Path(args.export).write_text(to_toml(load_config(con)), encoding="utf-8")
            print(json.dumps({"exported": args.export}))
        elif args.import_file:
            try:
                text = Path(args.import_file).read_text(encoding="utf-8")
            except OSError as e:
                raise UserError(f"{args.import_file}: {e.strerror}.") from None
            try:
                version = save_config(con, SYSTEM, parse_toml(text), args.note)
            except ConfigError as e:
                raise UserError(f"{args.import_file}: " + "; ".join(e.errors)) from None
            print(json.dumps({"config_version": version}))
        else:
            raise UserError("say --export FILE or --import FILE.")
    finally:
        con.close()
    return 0


def register(sub) -> None:
    p = sub.add_parser("risk", help="risk assessment: score, explain, runs, settings")
    rsub = p.add_subparsers(dest="risk_command", required=True)

    s = rsub.add_parser("score", help="score every contract and supplier and store the run")
    s.add_argument("--db", default=None)
    s.add_argument("--as-of", default=None, help="assessment date YYYY-MM-DD (default: today / the demo's date)")
    s.add_argument("--pin", action="store_true", help="keep the run even when a newer run for its quarter exists")
    s.add_argument("--quarters-from", default=None,
                   help="instead: one pinned run per quarter end from this date up to --as-of")
    s.set_defaults(func=_cmd_score)

    e = rsub.add_parser("explain", help="the lines behind one contract's or supplier's score")
    e.add_argument("entity_id")
    e.add_argument("--supplier", action="store_true", help="the id is a supplier id")
    e.add_argument("--as-of", default=None, help="the run in force on this date (default: current)")
    e.add_argument("--lang", default="nb", choices=["nb", "en"])
    e.add_argument("--db", default=None)
    e.set_defaults(func=_cmd_explain)

    r = rsub.add_parser("runs", help="list the stored runs")
    r.add_argument("--all", action="store_true", help="include pruned runs")
    r.add_argument("--db", default=None)
    r.set_defaults(func=_cmd_runs)

    c = rsub.add_parser("config", help="export or import the risk settings as TOML")
    c.add_argument("--export", default=None, metavar="FILE")
    c.add_argument("--import", dest="import_file", default=None, metavar="FILE")
    c.add_argument("--note", default=None)
    c.add_argument("--db", default=None)
    c.set_defaults(func=_cmd_config)
