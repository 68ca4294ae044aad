"""Streamlit rendering of risk assessments: level labels, the summary of one
assessment and the line-by-line explanation table (used by the contract and supplier
pages). Every number comes from ``akrim_analytics.risk``; the explanation lines are
the stored factor rows the scores were computed from."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from akrim_analytics import fmt, i18n, risk
from akrim_analytics.i18n import t
from akrim_analytics.risk import sources
from ui import common

BADGE_COLORS = {"lav": "green", "middels": "orange", "høy": "red"}
LEVEL_ICONS = {"lav": ":material/check_circle:", "middels": ":material/error:", "høy": ":material/warning:"}


def level_label(level: str | None) -> str:
    """'Lav' / 'Middels' / 'Høy' in the current language ('–' for none)."""
    return t(f"risk.level.{level}") if level else "–"


def step_label(step: int | None) -> str:
    """The control a required_step calls for, e.g. 'Trinn 1 + 2: dokumentasjonsgjennomgang'."""
    return "–" if step is None or pd.isna(step) else t(f"risk.step.{int(step)}")


def level_badge(level: str | None) -> None:
    """A coloured badge with the level's name (the text carries the meaning, not only colour)."""
    if not level:
        st.badge("–", color="gray")
        return
    st.badge(level_label(level), color=BADGE_COLORS.get(level, "gray"), icon=LEVEL_ICONS.get(level))


def _points_text(p: float) -> str:
    if p > 0:
        return "+" + fmt.number(p, 1 if p != int(p) else 0)
    if p < 0:
        return "−" + fmt.number(-p, 1 if p != int(p) else 0)
    return "±0"


def _run_config(run: dict) -> dict:
    return common.cached(risk.load_config, run["config_version"])


def assessment_summary(entity_type: str, entity_id: str, run_id: int | None = None) -> dict | None:
    """Level, likelihood, consequence, required control, spend and exposure of one
    contract ('contract') or supplier ('supplier') as metrics; returns the assessment
    (None, with a note, when it was not assessed)."""
    run = common.cached(risk.run_info, run_id)
    a = common.cached(risk.assessment, entity_type, entity_id, run["run_id"]) if run else None
    if a is None:
        st.info(t("risk.widget.not_assessed"), icon=":material/info:")
        return None
    cols = st.columns(5)
    with cols[0]:
        st.caption(t("risk.widget.level"))
        level_badge(a["level"])
    cols[1].metric(t("risk.widget.likelihood"), t("risk.widget.of5", n=a["likelihood"]))
    cols[2].metric(t("risk.widget.consequence"), t("risk.widget.of5", n=a["consequence"]))
    cols[3].metric(t("risk.widget.spend_12m"), fmt.nok(a["spend_12m"]))
    cols[4].metric(t("risk.widget.exposure"), fmt.nok(a["exposure"]), help=t("risk.widget.exposure_help"))
    st.markdown(f"**{t('risk.widget.control')}:** {step_label(a['required_step'])}")
    if a.get("no_contract"):
        st.caption(t("risk.widget.no_contract"))
    st.caption(t("risk.widget.run_caption", as_of=fmt.date(run["as_of"]), run_id=run["run_id"],
                 version=run["config_version"], data_version=run["data_version"]))
    return a


def explanation_frame(entity_type: str, entity_id: str, run_id: int | None = None,
                      lang: str | None = None) -> pd.DataFrame:
    """The explanation lines as a display table (columns in the current language)."""
    lang = lang or i18n.get_language()
    df = common.cached(risk.explain, entity_type, entity_id, run_id)
    return pd.DataFrame({
        t("risk.widget.col_dimension"): [t(f"risk.dimension.{d}") for d in df["dimension"]],
        t("risk.widget.col_points"): [_points_text(float(p)) for p in df["points"]],
        t("risk.widget.col_explanation"): df["explanation_nb" if lang == "nb" else "explanation_en"].tolist(),
        t("risk.widget.col_unknown"): [t("risk.widget.unknown") if u else "" for u in df["unknown"]],
        t("risk.widget.col_source"): [sources.public(s, lang) for s in df["source"]],
    })


def explanation_table(entity_type: str, entity_id: str, run_id: int | None = None, *,
                      show_summary: bool = True) -> None:
    """Render why an entity got its level: every factor line with its points (the rows
    the scores were computed from), the sums, the 1–5 scores and the matrix result.

    A static table whose text wraps: the explanations are whole sentences that a grid
    would cut after a few words. ``st.table`` reads Markdown, so every cell is escaped
    (a contract or supplier name in an explanation shows as typed)."""
    run = common.cached(risk.run_info, run_id)
    if run is None:
        st.info(t("risk.widget.not_assessed"), icon=":material/info:")
        return
    a = common.cached(risk.assessment, entity_type, entity_id, run["run_id"])
    if a is None:
        st.info(t("risk.widget.not_assessed"), icon=":material/info:")
        return
    frame = explanation_frame(entity_type, entity_id, run["run_id"])
    st.table(frame.map(common.md_escape).rename(columns=common.md_escape), hide_index=True, border="horizontal")
    if not show_summary:
        return
    cfg = _run_config(run)
    for dim, points, score, bands in (
            ("likelihood", a["likelihood_points"], a["likelihood"], cfg["scoring"]["likelihood_bands"]),
            ("consequence", a["consequence_points"], a["consequence"], cfg["scoring"]["consequence_bands"])):
        st.caption(t("risk.widget.sum_line", dimension=t(f"risk.dimension.{dim}"),
                     points=fmt.number(points or 0, 1 if (points or 0) != int(points or 0) else 0), score=score,
                     bands=" / ".join(fmt.number(b, 1 if b != int(b) else 0) for b in bands)))
    st.caption(t("risk.widget.matrix_line", level=level_label(a["level"]).lower(), likelihood=a["likelihood"],
                 consequence=a["consequence"], step=step_label(a["required_step"]).lower()
                 if a["required_step"] == 0 else step_label(a["required_step"])))
