"""Quarterly report and supervision evidence: the files hold the core's numbers, a quarter's
report never changes after later uploads, text that looks like a formula stays text,
and only signed-in roles generate (every export audit-logged)."""
from __future__ import annotations

import datetime as dt
import io
import json

import duckdb
import openpyxl
import pandas as pd
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from akrim_analytics import audit, auth, controls, db, queries, risk, views
from akrim_analytics import plan as followup_plan
from akrim_analytics import report
from akrim_analytics.filters import Filters, Period
from akrim_analytics.report import evidence
from akrim_analytics.report.dataset import KPI_ORDER

from conftest import REPO, run_cli as _cli

QUARTER = "2026-K3"
P = Period(2026, 3)
LEDER = auth.User("kari.leder", "leder")
ANALYST = auth.User("ola.analytiker", "analytiker")


@pytest.fixture(scope="module")
def rcon(demo_db_copy):
    """A private copy of the demo database (the report writes its editions into it)."""
    c = db.connect(demo_db_copy("report"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def snap(rcon):
    return report.get_or_freeze(rcon, LEDER, QUARTER)


@pytest.fixture(scope="module")
def deck(snap):
    return Presentation(io.BytesIO(report.render(snap, "pptx")))


@pytest.fixture(scope="module")
def book(snap):
    return openpyxl.load_workbook(io.BytesIO(report.render(snap, "xlsx")))


def slide_with(prs, shape_name):
    for s in prs.slides:
        for sh in s.shapes:
            if sh.name == shape_name:
                return s, sh
    raise AssertionError(f"no shape {shape_name!r}")


def table_cells(shape) -> list[list[str]]:
    t = shape.table
    return [[t.cell(r, c).text for c in range(len(t.columns))] for r in range(len(t.rows))]


def sheet_rows(ws, header_row: int = 4) -> pd.DataFrame:
    """The table under the header row, up to the first empty row (a note may follow)."""
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    width = next((i for i, h in enumerate(rows[0]) if h is None), len(rows[0]))
    data = []
    for r in rows[1:]:
        if all(v is None for v in r[:width]):
            break
        data.append(r[:width])
    return pd.DataFrame(data, columns=list(rows[0][:width]))


# ------------------------------------------------------------------------ dataset vs core

def test_dataset_equals_core_queries(rcon, snap):
    ds = snap.dataset
    assert ds.meta["period"] == QUARTER and ds.meta["previous"] == "2026-K2" and ds.meta["complete"]
    f = Filters(P)
    k = views.kpis(rcon, f)
    base = queries.spend_kpis(rcon, f)
    assert ds.kpi("spend_total")["value"] == pytest.approx(k["now"]["total"], abs=0.005)
    assert ds.kpi("spend_total")["previous"] == pytest.approx(k["prev"]["total"], abs=0.005)
    assert ds.kpi("spend_total")["value"] == pytest.approx(base["total"], abs=0.005)
    assert ds.kpi("suppliers")["value"] == base["suppliers"]
    assert ds.kpi("contracts_high")["value"] == k["now"]["high_contracts"]
    assert ds.kpi("contracts_high")["previous"] == k["prev"]["high_contracts"]
    assert ds.kpi("spend_high")["value"] == pytest.approx(k["now"]["high_spend"], abs=0.005)
    assert ds.kpi("findings_open_end")["value"] == k["now"]["open_findings"]
    s = controls.summary(rcon, P.start, P.end)
    assert ds.kpi("controls_done")["value"] == s["controls_done"]
    assert ds.kpi("findings_opened")["value"] == s["findings_opened"]
    assert ds.kpi("sanctions_imposed")["value"] == sum(s["actions"][a] for a in ("daily_fines", "withheld_payment",
                                                                               "termination"))
    assert list(ds.table("kpis")["kpi"]) == list(KPI_ORDER)
    # change = value − previous, for every key figure that has both
    for r in ds.table("kpis").to_dict("records"):
        if r["value"] is not None and not pd.isna(r["previous"]):
            assert r["change"] == pytest.approx(r["value"] - r["previous"], abs=1e-4)

    cat = queries.spend_by_category(rcon, f)
    got = ds.table("spend_by_category")
    assert list(got["category"]) == list(cat["code"])
    assert got["amount"].tolist() == pytest.approx([float(v) for v in cat["amount"]], abs=0.005)
    prev = queries.spend_by_category(rcon, Filters(P.previous())).set_index("code")["amount"]
    assert got["previous"].tolist() == pytest.approx([float(prev[c]) for c in got["category"]], abs=0.005)

    run = views.run_at(rcon, P.end)
    assert snap.risk_run_id == run.run_id and snap.risk_config_version == run.config_version
    assert snap.risk_run_id == risk.run_for_period(rcon, P.end)
    m = views.risk_matrix(rcon, f, run.run_id)
    heat = ds.table("risk_heatmap")
    assert len(heat) == 25
    assert heat["contracts"].tolist() == m["contracts"].tolist()
    assert heat["level"].tolist() == m["level"].tolist()
    assert heat["amount"].tolist() == pytest.approx([float(v) for v in m["amount"]], abs=0.005)

    # the ten: the highest level, then likelihood × consequence, then exposure, of the run
    a = risk.assessments(rcon, run.run_id, entity_type="contract")
    a = a[a["active"].fillna(True)]
    rank = {"høy": 2, "middels": 1, "lav": 0}
    key = sorted(zip(a["level"].map(rank), a["likelihood"] * a["consequence"], a["exposure"], a["entity_id"]),
                 key=lambda x: (-x[0], -x[1], -x[2], x[3]))[:10]
    top = ds.table("top_contracts")
    assert top["contract_id"].tolist() == [x[3] for x in key]
    assert top["rank"].tolist() == list(range(1, 11))
    first = top.iloc[0]
    factors = risk.explain(rcon, "contract", first["contract_id"], run.run_id)
    heaviest = factors[factors["points"] > 0].sort_values("points", ascending=False)["explanation_nb"].iloc[0]
    assert heaviest in first["reasons_nb"]

    plan = ds.table("controls_plan")
    assert plan["done"].tolist() == [s["by_step"][st]["done"] for st in (1, 2, 3)]
    assert ds.meta["plan_id"] is None          # the demo has no saved plan: the log's planned dates
    planned = rcon.execute("SELECT step, count(*) FROM controls WHERE planned_date BETWEEN ? AND ? GROUP BY step",
                           [P.start, P.end]).fetchall()
    assert dict(zip(plan["step"], plan["planned"])) == {st: dict(planned).get(st, 0) for st in (1, 2, 3)}
    # the need: contracts covered whose risk calls for the step
    need = rcon.execute(
        """SELECT count(*) FILTER (WHERE required_step >= 1), count(*) FILTER (WHERE required_step >= 2),
                  count(*) FILTER (WHERE required_step >= 3)
           FROM risk_assessments WHERE run_id = ? AND entity_type = 'contract' AND covered AND active""",
        [run.run_id]).fetchone()
    assert tuple(plan["required"]) == need

    # the resource scenario is the follow-up plan's "one more person" for the next quarter
    r = followup_plan.one_more_person(rcon, followup_plan.get_settings(rcon), 2026, 4, run_id=run.run_id,
                                      as_of=P.end)
    res = ds.table("resource").set_index("scenario")
    assert res.loc["today", "controlled_contracts"] == r["contracts_before"]
    assert res.loc["plus_one", "controlled_contracts"] == r["contracts_after"]
    assert res.loc["extra", "hours"] == pytest.approx(r["extra_hours"])
    assert [res.loc["extra", f"extra_step{i}"] for i in (1, 2, 3)] == [r["extra_steps"][i] for i in (1, 2, 3)]
    assert res.loc["plus_one", "exposure_hm"] == pytest.approx(r["exposure_hm_after"], abs=0.01)
    assert res.loc["extra", "share_hm"] == pytest.approx(r["extra_share_hm"], abs=1e-6)
    assert ds.meta["resource"]["quarter"] == "2026-K4"
    curve = ds.table("resource_curve")
    assert len(curve) >= 10 and curve["share_hm"].is_monotonic_increasing
    assert set(curve["marker"]) >= {"today", "plus_one"}
    findings = ds.table("findings")
    assert int(findings["total"].sum()) == s["findings_opened"]
    sanctions = ds.table("sanctions").set_index("action")
    assert {a: int(sanctions.loc[a, "imposed"]) for a in controls.ACTIONS} == s["actions"]


def test_dataset_json_round_trip_and_fingerprint(rcon, snap):
    again = report.Dataset.from_json(snap.dataset.to_json())
    assert again.fingerprint == snap.fingerprint == snap.dataset.fingerprint
    # computing the same quarter from the same data gives the same checksum
    assert report.build(rcon, QUARTER).fingerprint == snap.fingerprint
    with pytest.raises(ValueError):
        report.build(rcon, "2026")


# --------------------------------------------------------------------------- PowerPoint

def test_deck_has_native_charts_and_the_core_numbers(rcon, snap, deck):
    shapes = [sh for s in deck.slides for sh in s.shapes]
    assert not [sh for sh in shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE], "a picture in the deck"
    charts = [sh for sh in shapes if sh.has_chart]
    assert {sh.name for sh in charts} == {"Chart spend", "Chart controls", "Chart findings", "Chart resource"}
    # spend by category: a native bar chart whose data are the core's kroner
    _, ch = slide_with(deck, "Chart spend")
    plot = ch.chart.plots[0]
    cat = queries.spend_by_category(rcon, Filters(P))
    assert list(plot.categories) == cat["name_nb"].tolist()
    assert list(plot.series[0].values) == pytest.approx([float(v) for v in cat["amount"]], abs=0.005)
    # the chart's embedded workbook holds the same numbers (the chart stays editable)
    wb = openpyxl.load_workbook(io.BytesIO(ch.chart.part.chart_workbook.xlsx_part.blob))
    col = [c.value for c in wb.active["B"]][1:]
    assert col == pytest.approx([float(v) for v in cat["amount"]], abs=0.005)
    # the resource curve: share of høy/middels exposure covered per FTE (a native line chart)
    _, ch = slide_with(deck, "Chart resource")
    curve = snap.dataset.table("resource_curve")
    assert list(ch.chart.plots[0].series[0].values) == pytest.approx(curve["share_hm"].tolist(), abs=1e-6)
    # controls chart = controls done per step in the quarter
    _, ch = slide_with(deck, "Chart controls")
    s = controls.summary(rcon, P.start, P.end)
    assert list(ch.chart.plots[0].series[1].values) == [s["by_step"][i]["done"] for i in (1, 2, 3)]

    # the heatmap: a native 5×5 table with the Risikokart's counts and coloured cells
    _, heat = slide_with(deck, "Heatmap")
    m = views.risk_matrix(rcon, Filters(P), snap.risk_run_id).set_index(["likelihood", "consequence"])
    cells = table_cells(heat)
    for r, li in enumerate(range(5, 0, -1), start=1):
        for ci in range(1, 6):
            count = cells[r][ci].split("\n")[0].replace("\u00a0", " ").replace(" ", "")
            assert int(count) == int(m.loc[(li, ci), "contracts"])
    colours = {str(heat.table.cell(r, c).fill.fore_color.rgb) for r in range(1, 6) for c in range(1, 6)}
    assert colours == {"A8DCC5", "F5D38A", "EE9B73"}

    # the ten highest-risk contracts, over two slides, in the dataset's order
    ids = []
    for s_ in deck.slides:
        for sh in s_.shapes:
            if sh.name == "Top contracts":
                ids += [row[1].rsplit("(", 1)[1].rstrip(")") for row in table_cells(sh)[1:]]
    assert ids == snap.dataset.table("top_contracts")["contract_id"].tolist()

    # KPI tiles and their exact figures in the speaker notes
    s_, tile = slide_with(deck, "KPI spend_total")
    assert "mrd. kr" in tile.text_frame.text or "mill. kr" in tile.text_frame.text
    notes = s_.notes_slide.notes_text_frame.text
    from akrim_analytics import fmt
    assert fmt.nok(snap.dataset.kpi("spend_total")["value"]) in notes


def test_deck_is_stamped_on_every_slide(snap, deck):
    for i, s in enumerate(deck.slides, start=1):
        stamp = next(sh for sh in s.shapes if sh.name == "Stamp").text_frame.text
        assert f"Dataversjon {snap.data_version}" in stamp, i
        assert f"risikokonfigurasjon v{snap.risk_config_version}" in stamp, i
        assert snap.fingerprint[:12] in stamp and f"utgave {snap.edition}" in stamp
    kw = deck.core_properties.keywords
    assert f"data_version={snap.data_version}" in kw and f"fingerprint={snap.fingerprint}" in kw
    assert f"risk_config_version={snap.risk_config_version}" in kw


def test_english_deck(snap):
    prs = Presentation(io.BytesIO(report.render(snap, "pptx", "en")))
    titles = [s.shapes.title.text for s in prs.slides if s.shapes.title is not None]
    assert "Spend by category" in titles and "Risk heatmap" in titles
    _, ch = slide_with(prs, "Chart spend")
    assert list(ch.chart.plots[0].categories)[0] == snap.dataset.table("spend_by_category")["name_en"].iloc[0]


# --------------------------------------------------------------------------------- Excel

def test_workbook_sheets_formats_and_numbers(rcon, snap, book):
    assert book.sheetnames == ["Nøkkeltall", "Kategorier", "Risikokart", "Topp 10 kontrakter", "Kontroller",
                               "Kontroller per enhet", "Funn", "Sanksjoner", "Ressursscenario", "Kapasitetskurve",
                               "Om rapporten"]
    for ws in book.worksheets:
        assert ws.freeze_panes == "A5", ws.title                    # title, stamp, blank, frozen header
        assert f"Dataversjon {snap.data_version}" in ws["A2"].value
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width >= 9
        assert not [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    ws = book["Kategorier"]
    df = sheet_rows(ws)
    cat = queries.spend_by_category(rcon, Filters(P))
    assert df["Kode"].tolist() == cat["code"].tolist()
    assert df["Beløp"].tolist() == pytest.approx([float(v) for v in cat["amount"]], abs=0.005)
    assert ws["C5"].number_format == '#,##0 "kr"' and ws["G5"].number_format == "0.0 %"
    kp = sheet_rows(book["Nøkkeltall"])
    assert kp["Nøkkeltall"].iloc[0] == "Samlet innkjøp" and kp["Enhet"].iloc[0] == "kr"
    assert kp["Dette kvartalet"].iloc[0] == pytest.approx(queries.spend_kpis(rcon, Filters(P))["total"], abs=0.005)
    assert book["Nøkkeltall"]["C5"].number_format == '#,##0 "kr"'
    assert book["Nøkkeltall"]["C6"].number_format == "#,##0"        # suppliers: a count, not kroner
    heat = sheet_rows(book["Risikokart"])
    m = views.risk_matrix(rcon, Filters(P), snap.risk_run_id)
    assert heat["Kontrakter"].tolist() == m["contracts"].tolist()
    top = sheet_rows(book["Topp 10 kontrakter"])
    assert top["Kontrakt-ID"].tolist() == snap.dataset.table("top_contracts")["contract_id"].tolist()
    res = sheet_rows(book["Ressursscenario"])
    assert res["Scenario"].tolist() == ["Dagens kapasitet", "Med én person til", "Økning med én person"]
    assert res["Kontrakter kontrollert"].tolist() == snap.dataset.table("resource")["controlled_contracts"].tolist()
    props = book.custom_doc_props
    assert props["data_version"].value == snap.data_version and props["fingerprint"].value == snap.fingerprint
    assert props["risk_config_version"].value == snap.risk_config_version


# ------------------------------------------------------------------ reproducibility

def _spend_file(path, supplier_name: str, orgnr: str | None, amount: float, day: dt.date):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Bilagsdato", "Leverandørnavn", "Org.nr.", "Beløp", "Ansvar", "Art", "Fakturanr"])
    ws.append([day, supplier_name, orgnr, amount, "4100", "12300", "TEST-1"])
    wb.save(path)
    return path


def test_report_for_a_quarter_is_unchanged_after_a_new_upload(demo_db_copy, tmp_path):
    from akrim_analytics import importer

    c = db.connect(demo_db_copy("report_upload"))
    try:
        first = report.get_or_freeze(c, LEDER, QUARTER)
        xlsx_before = sheet_rows(openpyxl.load_workbook(io.BytesIO(report.render(first, "xlsx")))["Kategorier"])
        pptx_before = Presentation(io.BytesIO(report.render(first, "pptx")))
        chart_before = list(slide_with(pptx_before, "Chart spend")[1].chart.plots[0].series[0].values)
        total_before = queries.spend_kpis(c, Filters(P))["total"]
        version_before = db.data_version(c)

        supplier = c.execute("SELECT name, orgnr FROM suppliers WHERE orgnr IS NOT NULL ORDER BY supplier_id LIMIT 1"
                             ).fetchone()
        res = importer.import_file(c, ANALYST, _spend_file(tmp_path / "sen-faktura.xlsx", supplier[0], supplier[1],
                                                            12_345_678.0, dt.date(2026, 8, 15)), kind="spend")
        assert res is not None
        assert queries.spend_kpis(c, Filters(P))["total"] == pytest.approx(total_before + 12_345_678.0, abs=0.01)
        assert db.data_version(c) > version_before

        again = report.get_or_freeze(c, LEDER, QUARTER)
        assert again.snapshot_id == first.snapshot_id and again.edition == 1
        assert again.fingerprint == first.fingerprint and again.data_version == version_before
        assert report.is_stale(c, again)
        xlsx_after = sheet_rows(openpyxl.load_workbook(io.BytesIO(report.render(again, "xlsx")))["Kategorier"])
        pd.testing.assert_frame_equal(xlsx_before, xlsx_after)
        chart_after = list(slide_with(Presentation(io.BytesIO(report.render(again, "pptx"))), "Chart spend")[1]
                           .chart.plots[0].series[0].values)
        assert chart_after == chart_before
        data, name, used = report.generate(c, LEDER, QUARTER, "xlsx")
        assert used.edition == 1 and name == "kvartalsrapport-2026-K3-utg1.xlsx"

        # today's data differs: only an explicit new edition shows it, and edition 1 stays
        assert report.build(c, QUARTER).kpi("spend_total")["value"] == pytest.approx(total_before + 12_345_678.0,
                                                                                     abs=0.01)
        new = report.get_or_freeze(c, LEDER, QUARTER, new_edition=True, reason="sen faktura for august")
        assert new.edition == 2 and new.fingerprint != first.fingerprint and new.data_version == db.data_version(c)
        assert new.dataset.kpi("spend_total")["value"] == pytest.approx(total_before + 12_345_678.0, abs=0.01)
        assert report.load(c, QUARTER).edition == 2
        assert report.load(c, QUARTER, 1).fingerprint == first.fingerprint
        old, _, used = report.generate(c, LEDER, QUARTER, "xlsx", edition=1)
        assert used.edition == 1
        pd.testing.assert_frame_equal(sheet_rows(openpyxl.load_workbook(io.BytesIO(old))["Kategorier"]), xlsx_before)
        ed = audit.entries(c, action="report_edition")
        assert ed["object_id"].tolist() == [f"{QUARTER}#2", f"{QUARTER}#1"]
        assert json.loads(ed["details"].iloc[0])["reason"] == "sen faktura for august"
        # stored editions are never rewritten
        assert report.editions(c, QUARTER)["edition"].tolist() == [2, 1]
    finally:
        c.close()


# ------------------------------------------------------------------- formula injection

EVIL = ['=HYPERLINK("http://evil.example","Klikk")', "+47 Bygg AS", "-1+2 Maler", "@SUM(A1) Renhold"]


def test_formula_like_names_stay_text(demo_db_copy):
    c = db.connect(demo_db_copy("report_evil"))
    try:
        ds = report.build(c, QUARTER)
        ids = ds.table("top_contracts")["contract_id"].tolist()[:4]
        sup = [c.execute("SELECT supplier_id FROM contracts WHERE contract_id = ?", [i]).fetchone()[0] for i in ids]
        for s, name in zip(sup, EVIL):
            c.execute("UPDATE suppliers SET name = ? WHERE supplier_id = ?", [name, s])
        c.execute("UPDATE contracts SET name = ? WHERE contract_id = ?", ["=1+1", ids[0]])
        snap = report.get_or_freeze(c, LEDER, QUARTER)
        assert snap.dataset.table("top_contracts")["supplier_name"].tolist()[:4] == EVIL

        wb = openpyxl.load_workbook(io.BytesIO(report.render(snap, "xlsx")))
        ws = wb["Topp 10 kontrakter"]
        cells = [c_ for row in ws.iter_rows() for c_ in row]
        assert not [x.coordinate for x in cells if x.data_type == "f"], "a cell became a formula"
        texts = [x.value for x in cells if isinstance(x.value, str)]
        assert not [v for v in texts if v.startswith(("=", "+", "-", "@"))]
        top = sheet_rows(ws)
        assert top["Leverandør"].tolist()[:4] == ["'" + n for n in EVIL]
        assert top["Kontrakt"].iloc[0] == "'=1+1"

        prs = Presentation(io.BytesIO(report.render(snap, "pptx")))
        _, table = slide_with(prs, "Top contracts")
        rows = table_cells(table)[1:]
        assert [r[2].split("\n")[0] for r in rows[:4]] == EVIL          # plain text, exactly as named
        assert rows[0][1].startswith("=1+1 (")

        ev = evidence.render(evidence.build(c), "nb")
        ws = openpyxl.load_workbook(io.BytesIO(ev))["Kontrakter"]
        cells = [c_ for row in ws.iter_rows() for c_ in row]
        assert not [x.coordinate for x in cells if x.data_type == "f"]
        assert not [x.value for x in cells if isinstance(x.value, str) and x.value.startswith(("=", "+", "-", "@"))]
    finally:
        c.close()


# ------------------------------------------------------------------- roles and audit

def test_roles_and_audit(demo_db_copy):
    c = db.connect(demo_db_copy("report_roles"))
    try:
        for fn in (lambda u: report.generate(c, u, QUARTER, "pptx"),
                   lambda u: report.get_or_freeze(c, u, QUARTER),
                   lambda u: report.freeze(c, u, QUARTER),
                   lambda u: evidence.export_evidence(c, u)):
            with pytest.raises(auth.PermissionDenied):
                fn(None)
        assert report.editions(c).empty and audit.entries(c, action="export").empty
        data, name, snap = report.generate(c, LEDER, QUARTER, "pptx")
        assert data[:2] == b"PK" and name.endswith(".pptx") and snap.created_by == "kari.leder"
        report.generate(c, LEDER, QUARTER, "xlsx")
        evidence.export_evidence(c, LEDER)
        e = audit.entries(c, action="export")
        assert e["username"].tolist() == ["kari.leder"] * 3
        assert e["object_id"].tolist() == ["supervision_evidence", "quarterly_report", "quarterly_report"]
        d = json.loads(e["details"].iloc[1])
        assert d["format"] == "xlsx" and d["period"] == QUARTER and d["edition"] == 1
        assert d["data_version"] == snap.data_version and d["fingerprint"] == snap.fingerprint
        assert audit.entries(c, action="report_edition")["username"].tolist() == ["kari.leder"]
        with pytest.raises(ValueError):
            report.generate(c, LEDER, QUARTER, "docx")
        with pytest.raises(LookupError):
            report.generate(c, LEDER, QUARTER, "pptx", edition=7)
    finally:
        c.close()


# ---------------------------------------------------------------------------- evidence

def test_evidence_lists_every_covered_contract_with_assessment_and_controls(rcon):
    ev = evidence.build(rcon)
    run_id = risk.current_run_id(rcon)
    assert ev.meta["run_id"] == run_id
    covered = rcon.execute(
        """SELECT entity_id FROM risk_assessments WHERE run_id = ? AND entity_type = 'contract' AND covered
           ORDER BY entity_id""", [run_id]).fetchall()
    k = ev.tables["contracts"]
    assert sorted(k["contract_id"]) == [r[0] for r in covered] and len(k) > 100
    # clauses as registered, assessment as stored in the run
    one = k.iloc[len(k) // 2]
    reg = rcon.execute("SELECT wage_clause, seriousness_clause FROM contracts WHERE contract_id = ?",
                       [one["contract_id"]]).fetchone()
    assert (bool(one["wage_clause"]), bool(one["seriousness_clause"])) == reg
    a = risk.assessment(rcon, "contract", one["contract_id"], run_id)
    assert (one["level"], one["likelihood"], one["consequence"], one["required_step"]) == \
        (a["level"], a["likelihood"], a["consequence"], a["required_step"])
    assert one["config_version"] == risk.run_info(rcon, run_id)["config_version"]
    assert pd.Timestamp(one["assessed_on"]).date() == risk.run_info(rcon, run_id)["as_of"]
    # every factor line and every control performed on a covered contract
    n_factors = rcon.execute(
        """SELECT count(*) FROM risk_factors f JOIN risk_assessments a USING (run_id, entity_type, entity_id)
           WHERE f.run_id = ? AND f.entity_type = 'contract' AND a.covered""", [run_id]).fetchone()[0]
    assert len(ev.tables["factors"]) == n_factors
    n_controls = rcon.execute(
        """SELECT count(*) FROM controls c JOIN risk_assessments a ON a.entity_id = c.contract_id
           WHERE a.run_id = ? AND a.entity_type = 'contract' AND a.covered AND c.done_date IS NOT NULL""",
        [run_id]).fetchone()[0]
    assert len(ev.tables["controls"]) == n_controls == ev.summary["controls"]
    assert ev.summary["covered_contracts"] == len(k)
    assert ev.summary["wage_clause_yes"] + ev.summary["wage_clause_no"] + ev.summary["wage_clause_unknown"] == len(k)

    wb = openpyxl.load_workbook(io.BytesIO(evidence.render(ev, "nb")))
    assert wb.sheetnames == ["Sammendrag", "Kontrakter", "Risikofaktorer", "Kontroller", "Funn og sanksjoner"]
    ws = wb["Kontrakter"]
    assert ws.freeze_panes == "A5" and f"dataversjon {ev.meta['data_version']}" in ws["A2"].value
    sheet = sheet_rows(ws)
    assert len(sheet) == len(k)
    assert set(sheet["Lønnsklausul"]) <= {"Ja", "Nei", "Ukjent"}
    row = sheet[sheet["Kontrakt-ID"] == one["contract_id"]].iloc[0]
    assert row["Risikonivå"].lower() == one["level"] and row["Sannsynlighet"] == one["likelihood"]
    assert len(sheet_rows(wb["Kontroller"])) == n_controls
    ctl = sheet_rows(wb["Kontroller"]).iloc[0]
    assert ctl["Trinn"].startswith("Trinn ") and isinstance(ctl["Utført"], dt.datetime)


# ------------------------------------------------------------------ edge cases

def test_quarter_without_risk_run_still_renders(tmp_path):
    c = db.connect(tmp_path / "small.duckdb")
    try:
        c.execute("INSERT INTO suppliers (supplier_id, name) VALUES ('N:x', '@Rare navn AS')")
        c.execute("""INSERT INTO spend (upload_id, posting_date, period, supplier_id, amount, category)
                     VALUES (1, DATE '2025-05-02', 202505, 'N:x', 1000.50, 'BYGG')""")
        assert report.quarter_options(c) == ["2025-K2"] and report.default_quarter(c) == "2025-K2"
        snap = report.freeze(c, LEDER, "2025-K2")
        assert snap.risk_run_id is None and snap.dataset.kpi("contracts_high")["value"] is None
        assert snap.dataset.kpi("spend_total")["value"] == pytest.approx(1000.5)
        prs = Presentation(io.BytesIO(report.render(snap, "pptx")))
        text = " ".join(sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame)
        assert "Ingen risikovurdering" in text
        wb = openpyxl.load_workbook(io.BytesIO(report.render(snap, "xlsx", "en")))
        assert wb.sheetnames[0] == "Key figures"
        ev = evidence.build(c)
        assert ev.meta["run_id"] is None and ev.summary["covered_contracts"] == 0
        openpyxl.load_workbook(io.BytesIO(evidence.render(ev)))
    finally:
        c.close()


def test_parse_quarter():
    assert report.parse_quarter("2026-K3") == Period(2026, 3)
    assert report.parse_quarter("2026k3") == Period(2026, 3)
    assert report.parse_quarter("2026-Q1") == Period(2026, 1)
    for bad in ("2026", "K3", "2026-K5", ""):
        with pytest.raises(ValueError):
            report.parse_quarter(bad)


# ------------------------------------------------------------------------------- CLI

def test_cli_writes_stamped_files_and_reports_errors(demo_db_copy, tmp_path):
    path = demo_db_copy("report_cli")
    out = tmp_path / "ut"
    r = _cli("report", "--db", str(path), "--quarter", QUARTER, "--out", str(out))
    assert r.returncode == 0, r.stderr
    written = json.loads(r.stdout)
    assert [w["file"] for w in written] == [str(out / "kvartalsrapport-2026-K3-utg1.pptx"),
                                            str(out / "kvartalsrapport-2026-K3-utg1.xlsx")]
    assert written[0]["fingerprint"] == written[1]["fingerprint"]
    prs = Presentation(out / "kvartalsrapport-2026-K3-utg1.pptx")
    assert f"fingerprint={written[0]['fingerprint']}" in prs.core_properties.keywords
    r = _cli("report", "--db", str(path), "--format", "evidence", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["contracts"] > 100
    for args, message in ((("--quarter", "2026"), "not a quarter"), (("--quarter", "2031-K1"), "no spend in 2031-K1"),
                          (("--quarter", QUARTER, "--edition", "9"), "no edition 9")):
        r = _cli("report", "--db", str(path), "--out", str(out), *args)
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    c = duckdb.connect(str(path), read_only=True)
    try:
        assert c.execute("SELECT count(*) FROM audit_log WHERE action = 'export'").fetchone()[0] == 3
    finally:
        c.close()


def test_every_report_text_exists_in_both_languages():
    import re

    from akrim_analytics import i18n
    from akrim_analytics.report.dataset import TABLES
    from akrim_analytics.report.evidence import EVIDENCE_TABLES, SUMMARY_KEYS

    keys = set()
    for path in list((REPO / "akrim_analytics" / "report").glob("*.py")) + [REPO / "pages" / "rapport.py"]:
        keys |= set(re.findall(r'"(report\.[a-z_.]+[a-z_])"', path.read_text(encoding="utf-8")))
    from akrim_analytics.report import labels as L
    for name, cols in TABLES.items():
        keys |= {f"report.col.{L.base_name(c)}" for c, _ in cols} | {f"report.sheet.{name}", f"report.section.{name}"}
    for name, cols in EVIDENCE_TABLES.items():
        keys |= {f"report.evidence.col.{L.base_name(c) if c.endswith(('_nb', '_en')) else c}" for c, _ in cols}
        keys.add(f"report.evidence.sheet.{name}")
    keys |= {f"report.evidence.summary.{k}" for k in SUMMARY_KEYS}
    keys |= {f"report.code.kpi.{k}" for k in KPI_ORDER}
    strings = i18n.strings()
    missing = sorted(k for k in keys if k not in strings or not strings[k].get("nb") or not strings[k].get("en"))
    assert not missing, missing
