"""python -m akrim_analytics risk …: score, explain, config import refused with a clear message."""
from __future__ import annotations

import json

from akrim_analytics import db, risk
from conftest import run_cli as cli
from risk_data import D, contract, spend, supplier


def test_risk_cli(db_path, tmp_path):
    c = db.connect(db_path)
    supplier(c, "S1", nace_code="81.210", nace_version="SN2007")
    contract(c, "K1", "S1", labour_intensive=True, estimated_value=3_000_000)
    spend(c, "S1", 500_000, D(2026, 3, 1), "K1")
    c.close()
    out = cli("risk", "score", "--db", str(db_path), "--as-of", "2026-09-30")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["as_of"] == "2026-09-30" and data["contracts"] == 1 and sum(data["levels"].values()) == 1
    out = cli("risk", "explain", "K1", "--db", str(db_path))
    assert out.returncode == 0 and "Renhold (NACE 81.210) – allmenngjort bransje: +2 sannsynlighet" in out.stdout
    assert cli("risk", "explain", "NOPE", "--db", str(db_path)).stderr.startswith("Feil: contract 'NOPE'")
    toml = tmp_path / "risk.toml"
    assert cli("risk", "config", "--export", str(toml), "--db", str(db_path)).returncode == 0
    toml.write_text(toml.read_text(encoding="utf-8").replace('authority = "municipal"', 'authority = "x"'),
                    encoding="utf-8")
    out = cli("risk", "config", "--import", str(toml), "--db", str(db_path))
    assert out.returncode == 1 and "general.authority must be one of" in out.stderr and "Traceback" not in out.stderr
    toml.write_text(toml.read_text(encoding="utf-8").replace('authority = "x"', 'authority = "state"'),
                    encoding="utf-8")
    out = cli("risk", "config", "--import", str(toml), "--note", "stat", "--db", str(db_path))
    assert out.returncode == 0 and json.loads(out.stdout)["config_version"] == 2
    c = db.connect(db_path)
    try:
        assert risk.load_config(c)["general"]["authority"] == "state"
        assert risk.run_info(c)["config_version"] == 2
    finally:
        c.close()
    out = cli("risk", "score", "--db", str(db_path), "--as-of", "30.09.2026")
    assert out.returncode == 1 and "expected a date like" in out.stderr
