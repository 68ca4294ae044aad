"""The quarterly report as a PowerPoint deck (python-pptx).

Every chart is a native, editable PowerPoint chart (``add_chart`` with
``CategoryChartData``: the numbers live in the chart's embedded workbook, so a
leader can restyle or re-label it), and every table is a native table. Nothing is
a picture. Each slide carries the stamp (data version, risk configuration and run,
edition, checksum) in its footer; the deck's document properties carry it too.

Text from the data (supplier and contract names) is set as plain text runs:
PowerPoint never evaluates it, so a name beginning with ``=`` stays that text.
"""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from .. import fmt
from ..i18n import t
from . import labels as L
from .snapshot import Snapshot

W, H = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
TOP = Inches(1.25)
BODY_H = Inches(5.45)
MILLIONS = '#,##0.0,,'          # NOK shown in millions; the chart data keeps whole kroner
WHOLE = '#,##0'


def _rgb(hex_: str) -> RGBColor:
    return RGBColor.from_string(hex_)


class _Deck:
    def __init__(self, snap: Snapshot, lang: str):
        self.snap, self.lang, self.ds = snap, lang, snap.dataset
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = W, H
        self.stamp = L.stamp_text(snap, lang)

    # -- building blocks ---------------------------------------------------------------
    def slide(self, title: str):
        s = self.prs.slides.add_slide(self.prs.slide_layouts[5])   # "Title Only": a real title placeholder
        ttl = s.shapes.title
        ttl.left, ttl.top, ttl.width, ttl.height = MARGIN, Inches(0.3), W - 2 * MARGIN, Inches(0.8)
        ttl.text = title
        p = ttl.text_frame.paragraphs[0]
        p.alignment = PP_ALIGN.LEFT
        p.runs[0].font.size = Pt(30)
        p.runs[0].font.bold = True
        p.runs[0].font.color.rgb = _rgb(L.PRIMARY)
        ttl.text_frame.vertical_anchor = MSO_ANCHOR.MIDDLE
        self.footer(s)
        return s

    def footer(self, s) -> None:
        n = len(self.prs.slides)
        box = s.shapes.add_textbox(MARGIN, H - Inches(0.45), W - 2 * MARGIN, Inches(0.35))
        box.name = "Stamp"
        tf = box.text_frame
        tf.word_wrap = True
        p = tf.paragraphs[0]
        r = p.add_run()
        r.text = f"{self.stamp}   ·   {n}"
        r.font.size = Pt(9)
        r.font.color.rgb = _rgb(L.GREY)

    def text(self, s, x, y, w, h, text: str, size: int = 14, bold: bool = False, color: str | None = None,
             align=PP_ALIGN.LEFT, name: str | None = None):
        box = s.shapes.add_textbox(x, y, w, h)
        if name:
            box.name = name
        tf = box.text_frame
        tf.word_wrap = True
        for i, line in enumerate(str(text).split("\n")):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            p.alignment = align
            r = p.add_run()
            r.text = line
            r.font.size = Pt(size)
            r.font.bold = bold
            if color:
                r.font.color.rgb = _rgb(color)
        return box

    def notes(self, s, lines: list[str]) -> None:
        """Speaker notes: the exact figures behind a slide, for the presenter."""
        s.notes_slide.notes_text_frame.text = "\n".join(lines)

    def table(self, s, x, y, w, header: list[str], rows: list[list[str]], widths: list[float] | None = None,
              size: int = 12, row_h: float = 0.36, fills: list[list[str | None]] | None = None,
              align_right: set[int] = frozenset(), name: str | None = None):
        n_rows = len(rows) + 1
        shape = s.shapes.add_table(n_rows, len(header), x, y, w, Inches(row_h * n_rows))
        if name:
            shape.name = name
        tbl = shape.table
        if widths:
            total = sum(widths)
            for i, wi in enumerate(widths):
                tbl.columns[i].width = Emu(int(w * wi / total))
        for r_i, values in enumerate([header] + rows):
            tbl.rows[r_i].height = Inches(row_h)
            for c_i, value in enumerate(values):
                cell = tbl.cell(r_i, c_i)
                cell.text = "" if value is None else str(value)
                cell.margin_left = cell.margin_right = Inches(0.06)
                cell.margin_top = cell.margin_bottom = Inches(0.03)
                cell.vertical_anchor = MSO_ANCHOR.MIDDLE
                for p in cell.text_frame.paragraphs:
                    if c_i in align_right and r_i > 0:
                        p.alignment = PP_ALIGN.RIGHT
                    for run in p.runs:
                        run.font.size = Pt(size)
                        run.font.bold = r_i == 0
                        if r_i == 0:
                            run.font.color.rgb = _rgb("FFFFFF")
                if r_i == 0:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = _rgb(L.PRIMARY)
                elif fills and fills[r_i - 1][c_i]:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = _rgb(fills[r_i - 1][c_i])
                else:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = _rgb("F2F2F2" if r_i % 2 == 0 else "FFFFFF")
        return shape

    def chart(self, s, kind, x, y, w, h, categories: list[str], series: list[tuple[str, list, str | None]],
              number_format: str = WHOLE, title: str | None = None, labels: bool = True, legend: bool = True,
              value_range: tuple[float, float] | None = None, name: str | None = None):
        cd = CategoryChartData(number_format=number_format)
        cd.categories = categories
        for sname, values, _ in series:
            cd.add_series(sname, [None if L.is_missing(v) else float(v) for v in values])
        gf = s.shapes.add_chart(kind, x, y, w, h, cd)
        if name:
            gf.name = name
        ch = gf.chart
        ch.font.size = Pt(12)
        if title:
            ch.has_title = True
            ch.chart_title.text_frame.text = title
            ch.chart_title.text_frame.paragraphs[0].runs[0].font.size = Pt(14)
        else:
            ch.has_title = False
        ch.has_legend = legend and len(series) > 1
        if ch.has_legend:
            ch.legend.position = XL_LEGEND_POSITION.BOTTOM
            ch.legend.include_in_layout = False
        va = ch.value_axis
        va.tick_labels.number_format = number_format
        va.tick_labels.number_format_is_linked = False
        va.has_major_gridlines = True
        if value_range:
            va.minimum_scale, va.maximum_scale = value_range
            va.major_unit = (value_range[1] - value_range[0]) / 5
        va.major_gridlines.format.line.color.rgb = _rgb("D9D9D9")
        plot = ch.plots[0]
        plot.gap_width = 60
        if labels:
            plot.has_data_labels = True
            dl = plot.data_labels
            dl.number_format = number_format
            dl.number_format_is_linked = False
            dl.font.size = Pt(10)
            if kind in (XL_CHART_TYPE.BAR_CLUSTERED, XL_CHART_TYPE.COLUMN_CLUSTERED):
                dl.position = XL_LABEL_POSITION.OUTSIDE_END
        for (_, _, color), ser in zip(series, plot.series):
            if color:
                ser.format.fill.solid()
                ser.format.fill.fore_color.rgb = _rgb(color)
        if kind in (XL_CHART_TYPE.BAR_CLUSTERED, XL_CHART_TYPE.BAR_STACKED):
            ch.category_axis.reverse_order = True   # first category at the top …
            # … and the value axis stays at the bottom: it crosses the category axis at its
            # maximum (c:valAx/c:crosses = max; python-pptx's setter leaves it at autoZero)
            for el in ch._chartSpace.xpath("c:chart/c:plotArea/c:valAx/c:crosses"):
                el.set("val", "max")
        return gf

    def table_rows(self, name: str, drop: tuple[str, ...] = ()) -> tuple[list[str], list[list[str]], list[str]]:
        return L.formatted(self.ds.table(name), name, self.lang, drop)

    # -- slides ------------------------------------------------------------------------
    def cover(self) -> None:
        s = self.prs.slides.add_slide(self.prs.slide_layouts[0])
        meta = self.ds.meta
        s.shapes.title.text = t("report.title", self.lang)
        s.shapes.title.left, s.shapes.title.top = MARGIN, Inches(2.0)
        s.shapes.title.width, s.shapes.title.height = W - 2 * MARGIN, Inches(1.5)
        sub = s.placeholders[1]
        sub.left, sub.top, sub.width, sub.height = MARGIN, Inches(3.6), W - 2 * MARGIN, Inches(1.4)
        sub.text = t("report.subtitle", self.lang, municipality=meta.get("municipality") or "",
                     period=L.period_label(self.snap.period, self.lang))
        if not meta.get("complete"):
            self.text(s, MARGIN, Inches(5.1), W - 2 * MARGIN, Inches(0.5),
                      t("report.incomplete", self.lang, last=L.value_text("date", meta.get("last_spend_date"))),
                      size=14, color="C00000")
        self.footer(s)

    def kpis(self) -> None:
        s = self.slide(t("report.section.kpis", self.lang) + " – " + L.period_label(self.snap.period, self.lang))
        df = self.ds.table("kpis")
        cols, gap = 4, Inches(0.18)
        n_rows = -(-len(df) // cols)
        tile_w = int((W - 2 * MARGIN - gap * (cols - 1)) / cols)
        tile_h = int((BODY_H - gap * (n_rows - 1)) / n_rows)
        for i, rec in enumerate(df.to_dict("records")):
            x = MARGIN + (i % cols) * (tile_w + gap)
            y = TOP + (i // cols) * (tile_h + gap)
            shape = s.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, x, y, tile_w, tile_h)
            shape.name = f"KPI {rec['kpi']}"
            shape.adjustments[0] = 0.08
            shape.fill.solid()
            shape.fill.fore_color.rgb = _rgb("EEF3F9")
            shape.line.color.rgb = _rgb(L.SECONDARY)
            tf = shape.text_frame
            tf.word_wrap = True
            tf.vertical_anchor = MSO_ANCHOR.TOP
            unit = rec["unit"]
            kind = {"nok": "nok", "pct": "pct"}.get(unit, "int")
            lines = [(L.code_text("kpi", rec["kpi"], self.lang), 13, False, L.GREY),
                     (L.short_text(kind, rec["value"], self.lang), 24, True, L.PRIMARY)]
            if L.is_missing(rec["previous"]):
                lines.append((t("report.kpi_no_previous", self.lang), 12, False, L.GREY))
            else:
                change = L.change_text(kind, rec["change"], self.lang)
                if not L.is_missing(rec["change_pct"]):
                    change += f" ({L.change_pct_text(rec['change_pct'])})"
                lines.append((t("report.kpi_change", self.lang, change=change), 12, False, "000000"))
                lines.append((f"{L.label('previous', self.lang)}: {L.short_text(kind, rec['previous'], self.lang)}",
                              11, False, L.GREY))
            for j, (text, size, bold, color) in enumerate(lines):
                p = tf.paragraphs[0] if j == 0 else tf.add_paragraph()
                p.alignment = PP_ALIGN.LEFT
                r = p.add_run()
                r.text = text
                r.font.size = Pt(size)
                r.font.bold = bold
                r.font.color.rgb = _rgb(color)
        header, rows, _ = self.table_rows("kpis")
        self.notes(s, [" | ".join(header)] + [" | ".join(r) for r in rows])

    def spend(self) -> None:
        s = self.slide(t("report.section.spend_by_category", self.lang))
        df = self.ds.table("spend_by_category")
        name_col = "name_nb" if self.lang == "nb" else "name_en"
        self.chart(s, XL_CHART_TYPE.BAR_CLUSTERED, MARGIN, TOP, Inches(7.6), BODY_H,
                   df[name_col].tolist(),
                   [(t("report.chart.this_quarter", self.lang), df["amount"].tolist(), L.PRIMARY),
                    (t("report.chart.previous_quarter", self.lang), df["previous"].tolist(), L.SECONDARY)],
                   number_format=MILLIONS, title=t("report.chart.spend_axis", self.lang), name="Chart spend")
        rows = [[n, L.value_text("nok", a, self.lang), L.value_text("pct", sh, self.lang)]
                for n, a, sh in zip(df[name_col], df["amount"], df["share"])]
        rows.append([t("report.total", self.lang),
                     L.value_text("nok", df["amount"].sum(), self.lang), L.value_text("pct", 1.0 if len(df) else None)])
        self.table(s, MARGIN + Inches(7.8), TOP, Inches(4.5), [L.label("name", self.lang), L.label("amount", self.lang),
                                                               L.label("share", self.lang)],
                   rows, widths=[2.3, 1.6, 0.8], size=11, row_h=0.42, align_right={1, 2}, name="Table spend")

    def heatmap(self) -> None:
        s = self.slide(t("report.section.risk_heatmap", self.lang))
        df = self.ds.table("risk_heatmap")
        if self.snap.risk_run_id is None:
            self.text(s, MARGIN, TOP, W - 2 * MARGIN, Inches(1), t("report.no_risk_run", self.lang), size=18)
            return
        cell = {(int(r.likelihood), int(r.consequence)): r for r in df.itertuples(index=False)}
        header = [f"{t('report.heatmap.likelihood', self.lang)} \\ {t('report.heatmap.consequence', self.lang)}"] + \
                 [str(c) for c in range(1, 6)]
        rows, fills = [], []
        for li in range(5, 0, -1):
            row, fill = [str(li)], [None]
            for ci in range(1, 6):
                r = cell[(li, ci)]
                row.append(f"{L.value_text('int', r.contracts)}\n{L.value_text('num', round(r.amount / 1e6, 1))}")
                fill.append(L.LEVEL_FILL.get(r.level))
            rows.append(row)
            fills.append(fill)
        shape = self.table(s, MARGIN, TOP, Inches(7.4), header, rows, widths=[2.0] + [1.0] * 5, size=14, row_h=0.85,
                           fills=fills, name="Heatmap")
        for r_i in range(1, 6):
            for c_i in range(1, 6):
                for p in shape.table.cell(r_i, c_i).text_frame.paragraphs:
                    p.alignment = PP_ALIGN.CENTER
        by_level = df.groupby("level", sort=False).agg(contracts=("contracts", "sum"), amount=("amount", "sum"))
        rows = [[L.level_text(lv, self.lang), L.value_text("int", by_level.loc[lv, "contracts"] if lv in by_level.index else 0),
                 L.value_text("nok", by_level.loc[lv, "amount"] if lv in by_level.index else 0)]
                for lv in ("høy", "middels", "lav")]
        self.table(s, MARGIN + Inches(7.8), TOP, Inches(4.5),
                   [L.label("level", self.lang), L.label("contracts", self.lang), L.label("amount", self.lang)],
                   rows, widths=[1.2, 1.4, 2.1], size=13, row_h=0.5,
                   fills=[[L.LEVEL_FILL[lv], None, None] for lv in ("høy", "middels", "lav")],
                   align_right={1, 2}, name="Levels")
        self.text(s, MARGIN + Inches(7.8), TOP + Inches(2.4), Inches(4.5), Inches(1.6),
                  t("report.heatmap.note", self.lang, config_version=self.snap.risk_config_version), size=12,
                  color=L.GREY)

    def top(self) -> None:
        df = self.ds.table("top_contracts")
        title = t("report.section.top_contracts", self.lang)
        if self.snap.risk_run_id is None or not len(df):
            s = self.slide(title)
            self.text(s, MARGIN, TOP, W - 2 * MARGIN, Inches(1), t("report.no_risk_run", self.lang), size=18)
            return
        reasons = "reasons_nb" if self.lang == "nb" else "reasons_en"
        header = [L.label(c, self.lang) for c in ("rank", "contract_name", "supplier_name", "level", "exposure",
                                                  "required_step", "last_control_date", "reasons")]
        records = df.to_dict("records")
        per_slide = 5
        for first in range(0, len(records), per_slide):
            chunk = records[first:first + per_slide]
            s = self.slide(f"{title} ({chunk[0]['rank']}–{chunk[-1]['rank']})" if len(records) > per_slide else title)
            rows, fills = [], []
            for r in chunk:
                rows.append([str(r["rank"]), f"{r['contract_name'] or ''} ({r['contract_id']})",
                             f"{r['supplier_name'] or '–'}" + (f"\n{r['orgnr']}" if r.get("orgnr") else ""),
                             f"{L.level_text(r['level'], self.lang)} ({r['likelihood']}×{r['consequence']})",
                             L.value_text("nok", r["exposure"], self.lang), L.step_text(r["required_step"], self.lang),
                             L.value_text("date", r["last_control_date"], self.lang), r[reasons] or "–"])
                fills.append([None, None, None, L.LEVEL_FILL.get(r["level"]), None, None, None, None])
            self.table(s, MARGIN, TOP - Inches(0.1), W - 2 * MARGIN, header, rows,
                       widths=[0.35, 2.2, 1.7, 1.05, 1.35, 0.75, 1.1, 4.6], size=10, row_h=0.85, fills=fills,
                       align_right={0, 4}, name="Top contracts")
            self.text(s, MARGIN, H - Inches(0.85), W - 2 * MARGIN, Inches(0.35), t("report.top.note", self.lang),
                      size=10, color=L.GREY)

    def controls(self) -> None:
        s = self.slide(t("report.section.controls_plan", self.lang))
        df = self.ds.table("controls_plan")
        cats = [L.step_text(v, self.lang) for v in df["step"]]
        self.chart(s, XL_CHART_TYPE.COLUMN_CLUSTERED, MARGIN, TOP, Inches(4.9), Inches(4.6), cats,
                   [(t("report.controls.chart_planned", self.lang), df["planned"].tolist(), L.SECONDARY),
                    (t("report.controls.chart_done", self.lang), df["done"].tolist(), L.PRIMARY)],
                   name="Chart controls")
        header, rows, kinds = self.table_rows("controls_plan")
        self.table(s, MARGIN + Inches(5.1), TOP, Inches(7.2), header, rows, size=10, row_h=0.45,
                   widths=[0.8, 1.1, 1.1, 1.0, 0.9, 0.8, 1.0, 0.9],
                   align_right={i for i, k in enumerate(kinds) if k in ("int", "pct")}, name="Table controls")
        self.text(s, MARGIN + Inches(5.1), TOP + Inches(2.3), Inches(7.2), Inches(0.9),
                  t("report.controls.note", self.lang) + " " + L.plan_source_text(self.ds.meta, self.lang), size=10,
                  color=L.GREY)
        header, rows, kinds = self.table_rows("controls_by_department", drop=("department",))
        if rows:
            rows = rows[:6]
            self.table(s, MARGIN + Inches(5.1), TOP + Inches(3.1), Inches(7.2), header, rows, size=9, row_h=0.3,
                       widths=[2.4, 1.1, 1.1, 1.0, 0.9, 0.8, 0.9],
                       align_right={i for i, k in enumerate(kinds) if k in ("int", "pct")}, name="Table departments")

    def findings(self) -> None:
        s = self.slide(t("report.section.findings_sanctions", self.lang))
        df = self.ds.table("findings")
        opened = df[df["total"] > 0]
        if len(opened):
            self.chart(s, XL_CHART_TYPE.BAR_STACKED, MARGIN, TOP, Inches(6.2), Inches(3.4),
                       [L.code_text("finding_type", v, self.lang) for v in opened["finding_type"]],
                       [(L.label(sev, self.lang), opened[sev].tolist(), L.SEVERITY_COLORS[sev])
                        for sev in ("low", "medium", "high")],
                       title=t("report.findings.chart_title", self.lang), name="Chart findings")
        else:
            self.text(s, MARGIN, TOP, Inches(6.2), Inches(0.6), t("report.none", self.lang), size=16)
        header, rows, kinds = self.table_rows("findings")
        if rows:
            self.table(s, MARGIN, TOP + Inches(3.5), Inches(6.2), header, rows, size=10, row_h=0.3,
                       widths=[2, 0.8, 0.8, 0.8, 1, 1.3], align_right={1, 2, 3, 4, 5}, name="Table findings")
        header, rows, kinds = self.table_rows("sanctions")
        fills = [["FBE5D6" if a in ("daily_fines", "withheld_payment", "termination") else None, None, None]
                 for a in self.ds.table("sanctions")["action"]]
        self.text(s, MARGIN + Inches(6.6), TOP, Inches(5.6), Inches(0.4), t("report.section.sanctions", self.lang),
                  size=16, bold=True)
        self.table(s, MARGIN + Inches(6.6), TOP + Inches(0.5), Inches(5.6), header, rows, size=12, row_h=0.45,
                   widths=[2.8, 1.4, 1.4], fills=fills, align_right={1, 2}, name="Table sanctions")

    def resource(self) -> None:
        s = self.slide(t("report.section.resource", self.lang))
        df = self.ds.table("resource")
        curve = self.ds.table("resource_curve")
        header, rows, kinds = self.table_rows("resource")
        body_top = TOP
        if rows:
            self.table(s, MARGIN, TOP, W - 2 * MARGIN, header, rows, size=12, row_h=0.5,
                       widths=[2.2, 0.8, 1.1, 1.1, 1.0, 1.0, 1.0, 2.2, 1.5],
                       fills=[[None] * len(header), [None] * len(header), ["E2EFDA"] * len(header)][:len(rows)],
                       align_right={i for i, k in enumerate(kinds) if k not in ("code:scenario", "text")},
                       name="Table resource")
            body_top = TOP + Inches(0.5 * (len(rows) + 1) + 0.3)
        if len(curve):
            self.chart(s, XL_CHART_TYPE.LINE_MARKERS, MARGIN, body_top, Inches(6.6), H - body_top - Inches(0.6),
                       [fmt.number(v, 1) for v in curve["ftes"]],
                       [(L.label("share_hm", self.lang), curve["share_hm"].tolist(), L.PRIMARY)],
                       number_format="0%", title=t("report.resource.chart_title", self.lang), labels=False,
                       value_range=(0.0, 1.0), name="Chart resource")
        x = MARGIN + (Inches(6.9) if len(curve) else 0)
        self.text(s, x, body_top + Inches(0.2), W - MARGIN - x, Inches(2.4), L.resource_note(self.ds.meta, self.lang),
                  size=12, color=L.GREY)
        if len(df):
            self.notes(s, [" | ".join(header)] + [" | ".join(r) for r in rows])

    def about(self) -> None:
        s = self.slide(t("report.section.about", self.lang))
        rows = [[k, v] for k, v in L.about_rows(self.snap, self.lang)]
        self.table(s, MARGIN, TOP, Inches(8), [t("report.about.key", self.lang), t("report.about.value", self.lang)],
                   rows, widths=[2.4, 5.6], size=11, row_h=0.34, name="About")
        self.text(s, MARGIN + Inches(8.3), TOP, Inches(4), Inches(3),
                  t("report.about.method", self.lang, edition=self.snap.edition), size=12, color=L.GREY)

    def build(self) -> bytes:
        self.cover()
        self.kpis()
        self.spend()
        self.heatmap()
        self.top()
        self.controls()
        self.findings()
        self.resource()
        self.about()
        cp = self.prs.core_properties
        cp.title = f"{t('report.title', self.lang)} – {L.period_label(self.snap.period, self.lang)}"
        cp.subject = self.snap.period
        cp.author = self.snap.created_by
        cp.last_modified_by = self.snap.created_by
        cp.keywords = (f"data_version={self.snap.data_version}; risk_config_version={self.snap.risk_config_version}; "
                       f"risk_run_id={self.snap.risk_run_id}; edition={self.snap.edition}; "
                       f"fingerprint={self.snap.fingerprint}")
        cp.comments = self.stamp
        created = self.snap.created_at if isinstance(self.snap.created_at, dt.datetime) else None
        if created:
            cp.created = created
            cp.modified = created
        cp.revision = self.snap.edition
        buf = io.BytesIO()
        self.prs.save(buf)
        return buf.getvalue()


def render(snap: Snapshot, lang: str = "nb") -> bytes:
    """The deck for a stored edition, as .pptx bytes."""
    return _Deck(snap, lang).build()
