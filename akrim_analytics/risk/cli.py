"""Risk commands: ``python -m akrim_analytics risk score|explain|runs|config ...``.

They act as the ``system`` account (whoever runs them on the server already holds the
database file); every scoring run and settings change is audit-logged as in the app.
While a dashboard holds the database they run in its process (``handoff``)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .. import fmt, handoff
from ..i18n import t
from ..auth import SYSTEM
from ..cli import UserError


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of {text!r}: expected a date like 2026-09-30.") from None


# Each command runs as a job (``handoff.run``): in the dashboard's process while it holds
# the database, else here. Parameters are checked by type; dates travel as ISO text.
def _cmd_score(args) -> int:
    for text in (args.as_of, args.quarters_from):   # a bad date is refused before anything runs
        _date(text)
    return handoff.run(args.db, "risk-score", {"as_of": args.as_of, "quarters_from": args.quarters_from,
                                               "pin": bool(args.pin)})


@handoff.runner("risk-score")
def _score(con, params, out, job) -> None:
    from . import level_counts, run_info, score_all, score_quarters

    p = handoff.checked(params, {"as_of": handoff.OPT_STR, "quarters_from": handoff.OPT_STR, "pin": bool})
    if p["quarters_from"]:
        start = _date(p["quarters_from"])
        end = _date(p["as_of"]) or dt.date.today()
        ids = score_quarters(con, SYSTEM, start, end, reason="cli quarter history")
        print(json.dumps({"runs": ids}), file=out)
        return
    run_id = score_all(con, SYSTEM, _date(p["as_of"]), reason="cli", pinned=p["pin"])
    info = run_info(con, run_id)
    print(json.dumps({"run_id": run_id, "as_of": info["as_of"].isoformat()[:10],
                      "config_version": info["config_version"], "data_version": info["data_version"],
                      "contracts": info["n_contracts"], "suppliers": info["n_suppliers"],
                      "seconds": info["seconds"], "levels": level_counts(con, run_id)}, ensure_ascii=False),
          file=out)


def _cmd_explain(args) -> int:
    _date(args.as_of)
    return handoff.run(args.db, "risk-explain", {"entity_id": args.entity_id, "supplier": bool(args.supplier),
                                                 "as_of": args.as_of, "lang": args.lang})


@handoff.runner("risk-explain")
def _explain(con, params, out, job) -> None:
    from . import assessment, explain, run_for_period

    p = handoff.checked(params, {"entity_id": str, "supplier": bool, "as_of": handoff.OPT_STR, "lang": str})
    run_id = run_for_period(con, _date(p["as_of"])) if p["as_of"] else None
    etype = "supplier" if p["supplier"] else "contract"
    a = assessment(con, etype, p["entity_id"], run_id)
    if a is None:
        raise UserError(f"{etype} {p['entity_id']!r} is not assessed in that run.")
    lines = explain(con, etype, p["entity_id"], run_id)
    col = "explanation_en" if p["lang"] == "en" else "explanation_nb"
    if p["lang"] == "en":
        level = t("risk.level." + a["level"], "en")
        print(f"{etype} {p['entity_id']}: {level} (likelihood {a['likelihood']}, "
              f"consequence {a['consequence']}, step {a['required_step']}, exposure {fmt.nok(a['exposure'])})",
              file=out)
    else:
        print(f"{etype} {p['entity_id']}: {a['level']} (sannsynlighet {a['likelihood']}, "
              f"konsekvens {a['consequence']}, trinn {a['required_step']}, "
              f"eksponering {fmt.nok(a['exposure'])})", file=out)
    for text, unknown in zip(lines[col], lines["unknown"]):
        print(f"  {'?' if unknown else '-'} {text}", file=out)


def _cmd_runs(args) -> int:
    return handoff.run(args.db, "risk-runs", {"all": bool(args.all)})


@handoff.runner("risk-runs")
def _runs(con, params, out, job) -> None:
    from . import runs

    p = handoff.checked(params, {"all": bool})
    for r in runs(con, include_pruned=p["all"]).itertuples():
        print(f"{r.run_id:6d}  {fmt.date(r.as_of)}  config v{r.config_version}  data v{r.data_version}  "
              f"{r.n_contracts} kontrakter  {r.n_suppliers} leverandører  {'pinned ' if r.pinned else ''}"
              f"{'pruned ' if r.pruned else ''}{r.reason or ''}", file=out)


def _cmd_config(args) -> int:
    if args.export:
        return handoff.run(args.db, "risk-config-export", {"file": args.export},
                           results={"risk_config.toml": args.export})
    if args.import_file:
        path = Path(args.import_file)
        if not path.is_file():
            raise UserError(f"{args.import_file}: no such file.")
        return handoff.run(args.db, "risk-config-import", {"file": path.name, "shown_as": args.import_file,
                                                           "note": args.note},
                           files=(path,), results={})
    raise UserError("say --export FILE or --import FILE.")


@handoff.runner("risk-config-export")
def _config_export(con, params, out, job) -> None:
    from . import load_config, to_toml

    p = handoff.checked(params, {"file": str})
    handoff.out_path(job, "risk_config.toml").write_text(to_toml(load_config(con)), encoding="utf-8")
    print(json.dumps({"exported": p["file"]}), file=out)


@handoff.runner("risk-config-import")
def _config_import(con, params, out, job) -> None:
    from . import ConfigError, parse_toml, save_config

    p = handoff.checked(params, {"file": str, "shown_as": str, "note": handoff.OPT_STR})
    path = handoff.input_file(job, p["file"]) if job is not None else Path(p["shown_as"])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{p['shown_as']}: {e.strerror}.") from None
    try:
        version = save_config(con, SYSTEM, parse_toml(text), p["note"])
    except ConfigError as e:
        raise UserError(f"{p['shown_as']}: " + "; ".join(e.errors)) from None
    print(json.dumps({"config_version": version}), file=out)


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
