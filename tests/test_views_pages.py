"""The leadership pages server-side (AppTest): no exceptions, and the numbers shown
equal the core's own queries (akrim_analytics.views) for the same filters."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from akrim_analytics import db, fmt, views
from akrim_analytics.filters import Filters, Period
from conftest import REPO, md_plain
from test_views import build_small
from ui import leadership as lv

PAGES = ("oversikt", "risikokart", "kontrakter", "leverandorer", "utvikling")


def open_page(monkeypatch, path, page: str, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("AKRIM_DB", str(path))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.switch_page(f"pages/{page}.py")
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, tuple[str, str]]:
    return {m.proto.label: (m.value, m.proto.delta) for m in at.metric}


def texts(at) -> list[str]:
    out = []
    for kind in ("title", "subheader", "caption", "markdown", "info", "warning", "success"):
        out += [e.value for e in getattr(at, kind)]
    out += [m.proto.label for m in at.metric] + [m.value for m in at.metric]
    return out


def arr(v) -> list:
    """A Plotly JSON array: a plain list, or Plotly's typed array {dtype, bdata}."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def money_format(df_element, column: str) -> str | None:
    """The number format the page gave a table column (``column_config``)."""
    config = json.loads(df_element.proto.columns or "{}")
    return (config.get(column) or {}).get("type_config", {}).get("format")


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.fixture(scope="module")
def core(demo_db):
    c = db.connect(demo_db)
    yield c
    c.close()


@pytest.fixture(scope="module")
def no_risk_db(tmp_path_factory):
    """Spend, contracts, controls and findings but no risk run yet (a demo DB: no login)."""
    path = tmp_path_factory.mktemp("norisk") / "norisk.duckdb"
    c = db.connect(path)
    build_small(c, with_risk=False)
    db.set_meta(c, "demo", "true")
    c.close()
    return path


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("empty") / "empty.duckdb"
    c = db.connect(path)
    db.set_meta(c, "demo", "true")
    c.close()
    return path


# ------------------------------------------------------------------ Oversikt

@pytest.mark.parametrize("query", [{}, {"periode": "2026-K2", "avdeling": "4100"}, {"periode": "2025-K3",
                                                                                    "kategori": "PERSONELL"}])
def test_oversikt_kpis_equal_core(monkeypatch, demo_db, core, query):
    at = open_page(monkeypatch, demo_db, "oversikt", query)
    f = Filters(Period.parse(query.get("periode", "2025")), query.get("avdeling"), query.get("kategori"))
    k = views.kpis(core, f)
    now, prev = k["now"], k["prev"]
    m = metrics(at)
    period = f.period.label()
    assert m[f"Samlet innkjøp {period}"][0] == fmt.nok(now["total"])
    assert m["Innkjøp på kontrakter med høy risiko"][0] == fmt.nok(now["high_spend"])
    assert m["Innkjøp uten kontrakt"][0] == fmt.nok(now["no_contract"])
    assert m[f"Åpne avvik per {fmt.date(now['window'].end)}"][0] == fmt.number(now["open_findings"])
    for level, word in (("høy", "høy"), ("middels", "middels"), ("lav", "lav")):
        value, delta = m[f"Kontrakter med {word} risiko"]
        assert value == fmt.number(now["contracts"][level])
        diff = now["contracts"][level] - prev["contracts"][level]
        assert delta == ("0" if diff == 0 else f"{'+' if diff > 0 else '-'}{fmt.number(abs(diff))}")
    assert m[f"Høyrisikokontrakter kontrollert i {now['window'].end.year}"][0] == \
        fmt.pct(now["high_controlled_share"])
    # the change is against the same window one quarter earlier
    diff = now["total"] - prev["total"]
    assert m[f"Samlet innkjøp {period}"][1].startswith("+" if diff > 0 else "-")


def test_oversikt_without_risk_run_says_what_to_do(monkeypatch, no_risk_db):
    at = open_page(monkeypatch, no_risk_db, "oversikt")
    assert metrics(at)["Samlet innkjøp 2025"][0] == fmt.nok(4950)
    assert "Innkjøp på kontrakter med høy risiko" in metrics(at)
    assert any("risikovurdering" in i.value.lower() and "Innstillinger" in i.value for i in at.info)


# ------------------------------------------------------------------ Risikokart

def _heatmap(spec):
    return next(t for t in spec["data"] if t["type"] == "heatmap")


def test_risikokart_category_level_equals_core(monkeypatch, demo_db, core):
    at = open_page(monkeypatch, demo_db, "risikokart")
    f = Filters(Period(2025))
    run = views.run_for_view(core, f)
    df = views.spend_by_category_level(core, f, run.run_id)
    specs = chart_specs(at)
    assert len(specs) == 1
    hm = _heatmap(specs[0])
    assert sum(sum(row) for row in hm["z"]) == pytest.approx(df["amount"].sum())
    assert "Innkjøp per kategori og risikonivå 2025" in specs[0]["layout"]["title"]["text"]
    # every cell has a click target that the page understands
    sc = next(t for t in specs[0]["data"] if t["type"] == "scatter")
    assert all(views.Selection.parse(k) is not None for k in sc["customdata"])
    assert len(sc["customdata"]) == len(hm["z"]) * len(hm["z"][0]) >= 9 * 3


@pytest.mark.parametrize("view", ["department_category", "matrix", "treemap"])
def test_risikokart_views_render(monkeypatch, demo_db, core, view):
    at = open_page(monkeypatch, demo_db, "risikokart", {"visning": view, "periode": "2026-K2"})
    f = Filters(Period(2026, 2))
    run = views.run_for_view(core, f)
    spec = chart_specs(at)[0]
    if view == "department_category":
        df = views.risk_weighted_by_department_category(core, f, run.run_id)
        assert sum(sum(r) for r in _heatmap(spec)["z"]) == pytest.approx(df["weighted"].sum())
        assert "beløp × sannsynlighet × konsekvens / 25" in spec["layout"]["title"]["subtitle"]["text"]
    elif view == "matrix":
        df = views.risk_matrix(core, f, run.run_id)
        cell_text = " ".join(sum(_heatmap(spec)["text"], []))
        assert sum(int(c) for c in df["contracts"]) > 0
        for r in df[df["contracts"] > 0].itertuples():
            assert f"{fmt.number(r.contracts)} kontr." in cell_text
    else:
        tm = spec["data"][0]
        df = views.treemap(core, f, run.run_id)
        assert tm["type"] == "treemap"
        assert tm["values"][0] == pytest.approx(df.loc[df["amount"] > 0, "amount"].sum())


def test_risikokart_selected_cell_lists_its_contracts(monkeypatch, demo_db, core):
    f = Filters(Period(2025))
    run = views.run_for_view(core, f)
    m = views.risk_matrix(core, f, run.run_id)
    cell = m.sort_values("contracts").iloc[-1]
    sel = views.Selection("matrix", likelihood=int(cell.likelihood), consequence=int(cell.consequence))
    at = open_page(monkeypatch, demo_db, "risikokart", {"visning": "matrix", "utvalg": sel.key})
    assert any(f"Sannsynlighet {sel.likelihood} × konsekvens {sel.consequence}" in s.value for s in at.subheader)
    table = at.dataframe[0].value
    assert len(table) == int(cell.contracts)
    assert any(fmt.nok(cell.amount) in md.value for md in at.markdown)
    expected = views.drilldown(core, f, run.run_id, sel)
    assert table["Kontrakt"].tolist() == expected["contract_id"].tolist()


def test_risikokart_bad_selection_is_ignored(monkeypatch, demo_db):
    at = open_page(monkeypatch, demo_db, "risikokart", {"utvalg": "matrix~~~~7~9~", "visning": "nonsense"})
    assert len(at.get("plotly_chart")) == 1 and not at.dataframe


def test_risikokart_without_risk_run(monkeypatch, no_risk_db):
    at = open_page(monkeypatch, no_risk_db, "risikokart")
    assert not at.get("plotly_chart")
    assert any("Innstillinger" in i.value for i in at.info)


# ------------------------------------------------------------------ Kontrakter

def test_kontrakter_list_search_and_open(monkeypatch, demo_db, core):
    f = Filters(Period(2025), department="4100")
    run = views.run_for_view(core, f)
    at = open_page(monkeypatch, demo_db, "kontrakter", {"avdeling": "4100"})
    expected = views.contracts_table(core, f, run.run_id)
    table = at.dataframe[0].value
    assert table["Kontrakt"].tolist() == expected["contract_id"].tolist()
    assert any(fmt.nok(expected["amount"].sum()) in c.value for c in at.caption)
    target = expected.iloc[3]
    at.text_input(key="kt_search").input(target["contract_id"]).run()
    assert not at.exception
    assert at.dataframe[0].value["Kontrakt"].tolist() == [target["contract_id"]]


def test_a_long_list_is_shown_a_page_at_a_time(monkeypatch, demo_db, core):
    """More rows than a list shows at once (2 412 contracts run in 2025): the first 2 000,
    and a chooser for the rest; the second page holds exactly the remaining rows and is
    kept in the URL (a contract opened from it and closed returns there); a search that
    leaves fewer rows drops the chooser and the page from the URL."""
    f = Filters(Period(2025))
    expected = views.contracts_table(core, f, views.run_for_view(core, f).run_id)
    n = len(expected)
    assert lv.MAX_ROWS < n <= 2 * lv.MAX_ROWS
    at = open_page(monkeypatch, demo_db, "kontrakter")
    assert at.dataframe[0].value["Kontrakt"].tolist() == expected["contract_id"].head(lv.MAX_ROWS).tolist()
    pager = at.selectbox(key="side")
    assert pager.label == "Rader" and pager.options == ["1–2 000", f"2 001–{fmt.number(n)}"]
    assert any(c.value.startswith(f"Viser 1–2 000 av {fmt.number(n)} rader, 2 000 om gangen.") for c in at.caption)
    assert "side" not in at.query_params
    pager.set_value("2").run()
    assert not at.exception
    assert at.dataframe[0].value["Kontrakt"].tolist() == expected["contract_id"].iloc[lv.MAX_ROWS:].tolist()
    assert any(f"Viser 2 001–{fmt.number(n)} av {fmt.number(n)} rader" in c.value for c in at.caption)
    assert at.query_params["side"] == "2"
    # a link to page 2 opens page 2
    at = open_page(monkeypatch, demo_db, "kontrakter", {"side": "2"})
    assert at.dataframe[0].value["Kontrakt"].tolist() == expected["contract_id"].iloc[lv.MAX_ROWS:].tolist()
    # a search leaves fewer rows: no chooser, no page in the URL
    at.text_input(key="kt_search").input(expected["contract_id"].iloc[0]).run()
    assert not at.exception
    assert at.dataframe[0].value["Kontrakt"].tolist() == [expected["contract_id"].iloc[0]]
    assert not [s for s in at.selectbox if s.key == "side"] and "side" not in at.query_params


def test_kontrakt_page_equals_core(monkeypatch, demo_db, core):
    f = Filters(Period(2025))
    cid = views.contracts_table(core, f, views.run_for_view(core, f).run_id).iloc[0]["contract_id"]
    at = open_page(monkeypatch, demo_db, "kontrakter", {"kontrakt": cid})
    m = metrics(at)
    assert m["Innkjøp 2025"][0] == fmt.nok(views.contract_spend_in(core, cid, Period(2025)))
    total = views.spend_over_time(core, contract_id=cid)["amount"].sum()
    assert m["Innkjøp i alt på kontrakten"][0] == fmt.nok(total)
    latest = views.latest_run(core)
    a = views.assessment(core, latest.run_id, "contract", cid)
    assert m["Risiko nå"][0] == {"lav": "Lav", "middels": "Middels", "høy": "Høy"}[a["level"]]
    heads = [s.value for s in at.subheader]
    for h in ("Røde flagg i registrene", "Innkjøp over tid", "Risikovurdering – hvorfor dette nivået", "Kontroller",
              "Avvik"):
        assert h in heads
    assert len(at.get("plotly_chart")) == 1


def test_kontrakt_not_assessed_says_so_once(monkeypatch, demo_db, core):
    """A contract outside the current run (ended long ago) gets the note once, not once
    for the key figures and again for the explanation table."""
    latest = views.latest_run(core)
    cid = core.execute(
        """SELECT min(contract_id) FROM contracts c WHERE NOT EXISTS (
               SELECT 1 FROM risk_assessments a WHERE a.run_id = ? AND a.entity_type = 'contract'
                                                  AND a.entity_id = c.contract_id)""", [latest.run_id]).fetchone()[0]
    assert cid is not None
    at = open_page(monkeypatch, demo_db, "kontrakter", {"kontrakt": cid})
    notes = [i.value for i in at.info if "Ikke risikovurdert" in i.value]
    assert len(notes) == 1, notes
    assert not at.table                  # no explanation table either


@pytest.mark.parametrize("page, param, unknown, title, back", [
    ("kontrakter", "kontrakt", "K-0000-9999", "Kontrakter", "Alle kontrakter"),
    ("leverandorer", "leverandor", "000000000", "Leverandører", "Alle leverandører"),
    # an id from a crafted link is text: a Markdown link in it is not a link
    ("kontrakter", "kontrakt", "[logg inn](https://evil.example)", "Kontrakter", "Alle kontrakter")])
def test_unknown_record_says_so_and_back_returns_to_the_list(monkeypatch, demo_db, page, param, unknown, title, back):
    at = open_page(monkeypatch, demo_db, page, {param: unknown})
    assert any(f"«{unknown}»" in md_plain(w.value) for w in at.warning)
    assert not any("](" in w.value for w in at.warning)
    assert [x.value for x in at.title] == [title]
    next(b for b in at.button if b.label == back).click().run()
    assert not at.exception, at.exception
    assert param not in at.query_params
    assert not at.warning


# ------------------------------------------------------------------ Leverandører

def test_leverandorer_list_and_flags_filter(monkeypatch, demo_db, core):
    f = Filters(Period(2025), category="BYGG")
    run = views.run_for_view(core, f)
    at = open_page(monkeypatch, demo_db, "leverandorer", {"kategori": "BYGG"})
    expected = views.suppliers_table(core, f, run.run_id)
    table = at.dataframe[0].value
    assert len(table) == min(len(expected), lv.MAX_ROWS)
    if len(expected) > lv.MAX_ROWS:
        assert any(f"av {fmt.number(len(expected))} radene" in c.value for c in at.caption)
    # amounts stay numbers (the column sorts by size) and are shown as fmt.nok shows them
    assert table["Innkjøp i perioden"].iloc[0] == pytest.approx(float(expected["amount"].iloc[0]))
    assert money_format(at.dataframe[0], "Innkjøp i perioden") == lv.MONEY_FORMAT
    at.toggle(key="lv_flagged").set_value(True).run()
    assert not at.exception
    flagged = views.suppliers_table(core, f, run.run_id, flagged_only=True)
    assert len(at.dataframe[0].value) == len(flagged) < len(expected)
    assert all(at.dataframe[0].value["Røde flagg i registrene"].str.len() > 0)


def test_leverandor_page_equals_core(monkeypatch, demo_db, core):
    f = Filters(Period(2025))
    sup = views.suppliers_table(core, f, views.run_for_view(core, f).run_id, flagged_only=True).iloc[0]
    at = open_page(monkeypatch, demo_db, "leverandorer", {"leverandor": sup["supplier_id"]})
    m = metrics(at)
    sp = views.supplier_spend_in(core, sup["supplier_id"], Period(2025))
    assert m["Innkjøp 2025"][0] == fmt.nok(sp["amount"])
    assert m["Herav uten kontrakt 2025"][0] == fmt.nok(sp["no_contract"])
    detail = views.supplier_detail(core, sup["supplier_id"])
    assert len(at.warning) == len(detail["flags"]) > 0          # one box per red flag
    assert m["Kontrakter"][0] == fmt.number(len(views.supplier_contracts(core, sup["supplier_id"], None)))


# ------------------------------------------------------------------ Utvikling

def test_utvikling_equals_core(monkeypatch, demo_db, core):
    at = open_page(monkeypatch, demo_db, "utvikling", {"periode": "2026-K3", "kategori": "BYGG"})
    f = Filters(Period(2026, 3), category="BYGG")
    specs = chart_specs(at)
    assert len(specs) == 4
    spend = views.trend_spend(core, f)
    per_q = spend.groupby("q_start")["amount"].sum()
    shown = sum(sum(arr(t["y"])) for t in specs[0]["data"])
    assert shown == pytest.approx(per_q.sum())
    # both risk charts stack høy on the baseline (their legends then read lav → høy)
    assert [t["name"] for t in specs[0]["data"]][:3] == [t["name"] for t in specs[1]["data"]] == \
        ["Høy", "Middels", "Lav"]
    table = at.dataframe[0].value
    assert table["Innkjøp"].tolist() == [fmt.nok(v) for v in per_q]
    fnd = views.trend_findings(core, f)
    assert table["Åpnet"].tolist() == [fmt.number(v) for v in fnd["opened"]]
    # axes group thousands the Norwegian way ("2 000"), 4-digit counts included
    for spec in specs:
        assert spec["layout"]["separators"] == ", "
        assert spec["layout"]["yaxis"]["separatethousands"] is True


# ------------------------------------------------------------------ every page

@pytest.mark.parametrize("page", PAGES)
def test_page_in_english_has_no_missing_text(monkeypatch, demo_db, page):
    at = open_page(monkeypatch, demo_db, page, {"lang": "en", "periode": "2026-K1"})
    assert not [s for s in texts(at) if "views." in s]


@pytest.mark.parametrize("page", PAGES)
def test_page_on_empty_database_says_what_to_do(monkeypatch, empty_db, page):
    at = open_page(monkeypatch, empty_db, page)
    assert any("Import" in i.value for i in at.info)
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("page", PAGES)
def test_page_without_risk_run(monkeypatch, no_risk_db, page):
    at = open_page(monkeypatch, no_risk_db, page)
    assert not at.error
    assert any("risikovurdering" in s.lower() for s in texts(at))


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """The hand-computed database of test_views.py, with its two risk runs."""
    path = tmp_path_factory.mktemp("small") / "small.duckdb"
    c = db.connect(path)
    build_small(c)
    db.set_meta(c, "demo", "true")
    c.close()
    return path


@pytest.mark.parametrize("page", PAGES)
def test_page_with_no_data_for_the_filter(monkeypatch, small_db, page):
    """Department 2000 bought nothing in Personell: every page says so, no empty axes."""
    at = open_page(monkeypatch, small_db, page, {"avdeling": "2000", "kategori": "PERSONELL"})
    assert not at.get("plotly_chart")
    assert at.info, "an empty state must say what to do"


def test_small_database_numbers(monkeypatch, small_db):
    """The hand-computed numbers of test_views.py, as the pages show them."""
    m = metrics(open_page(monkeypatch, small_db, "oversikt"))
    assert m["Samlet innkjøp 2025"][0] == "4 950 kr"
    assert m["Innkjøp på kontrakter med høy risiko"][0] == "3 500 kr"
    assert m["Innkjøp på kontrakter med høy risiko"][1].startswith("+1 900 kr")
    assert m["Innkjøp uten kontrakt"][0] == "450 kr"
    assert m["Åpne avvik per 31.12.2025"][0] == "1"
    assert m["Høyrisikokontrakter kontrollert i 2025"][0] == "100,0 %"
    at = open_page(monkeypatch, small_db, "risikokart",
                   {"utvalg": views.Selection("category_level", category="PERSONELL", level="høy").key})
    table = at.dataframe[0].value
    assert table["Kontrakt"].tolist() == ["(uten kontrakt)"] and table["Leverandør"].tolist() == ["Gamma Renhold AS"]
    assert table["Innkjøp i ruten"].tolist() == [400.0]
    assert money_format(at.dataframe[0], "Innkjøp i ruten") == lv.MONEY_FORMAT


def test_names_from_data_are_neutralised(monkeypatch, tmp_path):
    """A supplier called like a spreadsheet formula is shown (and downloadable from the
    grid) as text, and Markdown in names does not render."""
    path = tmp_path / "evil.duckdb"
    c = db.connect(path)
    build_small(c)
    c.execute("""UPDATE suppliers SET name = '=HYPERLINK("http://evil.example","Klikk")' WHERE supplier_id = '911111111'""")
    c.execute("UPDATE contracts SET name = '**Fet** [lenke](http://evil.example)' WHERE contract_id = 'K-1'")
    db.set_meta(c, "demo", "true")
    c.close()
    table = open_page(monkeypatch, path, "leverandorer").dataframe[0].value
    assert table["Leverandør"].iloc[0] == """'=HYPERLINK("http://evil.example","Klikk")"""
    at = open_page(monkeypatch, path, "kontrakter", {"kontrakt": "K-1"})
    assert "\\*\\*Fet\\*\\*" in at.title[0].value
    assert at.dataframe[0].value["Verdi"].iloc[0].startswith("'=HYPERLINK")


EVIL = '<i>Kursiv</i> <a href="https://evil.example">lenke</a>'


def test_names_from_data_are_text_in_charts(monkeypatch, tmp_path):
    """Plotly draws a subset of HTML in chart text (titles, axis labels, tiles, hover):
    a supplier, contract or department name with tags shows as the text it is, never as
    a link or styled text; the captions naming the department escape its Markdown."""
    path = tmp_path / "evil.duckdb"
    c = db.connect(path)
    build_small(c)
    c.execute("UPDATE suppliers SET name = ? WHERE supplier_id = '911111111'", [f"Alfa {EVIL} AS"])
    c.execute("UPDATE contracts SET name = ? WHERE contract_id = 'K-1'", [f"Rammeavtale {EVIL}"])
    c.execute("UPDATE departments SET name = ? WHERE code = '1000'", [f"Avd {EVIL} [klikk](https://evil.example/md)"])
    db.set_meta(c, "demo", "true")
    c.close()
    specs = []
    for page, query in (("leverandorer", {"leverandor": "911111111"}), ("kontrakter", {"kontrakt": "K-1"}),
                        ("risikokart", {"visning": "treemap"}), ("risikokart", {"visning": "department_category"}),
                        ("oversikt", {"avdeling": "1000"}), ("utvikling", {"avdeling": "1000"})):
        at = open_page(monkeypatch, path, page, query)
        assert at.get("plotly_chart"), (page, query)
        if "avdeling" in query:   # the department in the caption: Markdown escaped, no link
            assert any("Avd" in c.value and "\\[klikk\\]" in c.value for c in at.caption), page
        specs.append(json.dumps([json.loads(c.proto.spec) for c in at.get("plotly_chart")], ensure_ascii=False))
    text = " ".join(specs)
    assert "evil.example" in text                       # the names are in the charts ...
    assert "<a " not in text and "<i>" not in text      # ... as text: no tag of theirs survives
    assert "&lt;a href=" in text and "&lt;i&gt;Kursiv&lt;/i&gt;" in text


@pytest.mark.parametrize("report", ["kontrakter", "leverandorer"])
def test_excel_download_of_a_whole_list(core, report):
    """What the download button builds: every row, Norwegian headers, a valid workbook."""
    import io

    from openpyxl import load_workbook

    from akrim_analytics import export

    f = Filters(Period(2025))
    run = views.run_for_view(core, f)
    df = (views.contracts_table if report == "kontrakter" else views.suppliers_table)(core, f, run.run_id)
    frame = lv.export_frame(df)
    assert "Risikonivå" in frame.columns and len(frame) == len(df)
    ws = load_workbook(io.BytesIO(export.excel_bytes({"Liste": frame})), read_only=True)["Liste"]
    assert ws.max_row == len(df) + 1
