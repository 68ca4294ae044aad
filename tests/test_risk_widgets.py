"""ui/risk_widgets.py: the explanation table shows exactly the stored lines of the
assessment, with the sums and the matrix result (AppTest on the demo database)."""
from __future__ import annotations

import textwrap

from streamlit.testing.v1 import AppTest

from akrim_analytics import risk
from akrim_analytics.risk import sources
from conftest import REPO
from ui.common import md_escape


def _run(monkeypatch, demo_db, entity_type, entity_id) -> AppTest:
    """A two-line page that renders one entity's summary and explanation table."""
    monkeypatch.setenv("AKRIM_DB", str(demo_db))
    at = AppTest.from_string(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from ui import risk_widgets
        risk_widgets.assessment_summary({entity_type!r}, {entity_id!r})
        risk_widgets.explanation_table({entity_type!r}, {entity_id!r})
    """), default_timeout=120)
    at.run()
    return at


def test_explanation_table_matches_the_stored_lines(monkeypatch, demo_db, demo_con):
    a = risk.assessments(demo_con, entity_type="contract")
    hoy = a[a["level"] == "høy"].iloc[0]
    at = _run(monkeypatch, demo_db, "contract", hoy["entity_id"])
    assert not at.exception
    frame = at.table[0].value                    # a static table: whole sentences, wrapped
    stored = risk.explain(demo_con, "contract", hoy["entity_id"])
    assert frame["Forklaring"].tolist() == [md_escape(x) for x in stored["explanation_nb"]]
    # the public documents behind each line, not the project's notes
    assert frame["Kilde"].tolist() == [md_escape(sources.public(s, "nb")) for s in stored["source"]]
    assert not any("domain" in s for s in frame["Kilde"])
    assert not at.dataframe
    assert len(frame) >= 3
    text = " ".join(c.value for c in at.caption)
    assert f"→ {hoy['likelihood']} av 5" in text and f"→ {hoy['consequence']} av 5" in text
    assert "Risikomatrisen gir høy" in text
    assert any(m.label == "Sannsynlighet" and m.value == f"{hoy['likelihood']} av 5" for m in at.metric)
    assert "Trinn 1 + 2 + 3" in " ".join(m.value for m in at.markdown) or hoy["required_step"] != 3


def test_not_assessed_entity_says_so(monkeypatch, demo_db):
    at = _run(monkeypatch, demo_db, "contract", "K-finnes-ikke")
    assert not at.exception
    assert at.info and "Ikke risikovurdert" in at.info[0].value
