"""Plotly styling for projector use: large fonts, Norwegian number separators and a
risk palette that colour-blind viewers can tell apart (Okabe–Ito based)."""
from __future__ import annotations

import re

import plotly.graph_objects as go

PRIMARY = "#0B5394"
# lav / middels / høy: bluish green, orange, vermillion (Okabe–Ito), distinct in deuteranopia.
RISK_COLORS = {"lav": "#009E73", "middels": "#E69F00", "høy": "#D55E00"}
FONT_SIZE = 16


_BR = re.compile(r"(<br>)")
# the trace attributes Plotly draws as text (tick labels of category axes, tiles, bar labels, hover)
_TEXT_ATTRS = ("x", "y", "labels", "text", "hovertext", "name")


def text(value: str) -> str:
    """``value`` as plain text for Plotly, which draws a subset of HTML in titles, labels,
    tiles and hover boxes (``<a href>``, ``<b>``, ``<i>``, ``<span style>`` …): & < > become
    entities (Plotly shows them as the characters), only our own line breaks (``<br>``)
    stay markup. A supplier or department name from an export shows as typed."""
    return "".join(p if p == "<br>" else p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   for p in _BR.split(value))


def _texts(values):
    if isinstance(values, str):
        return text(values)
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if isinstance(values, (list, tuple)) or kind in ("O", "U"):   # (numpy: objects or text)
        return [_texts(v) for v in values]
    return values   # numbers, dates, numeric arrays


def style(fig: go.Figure, *, title: str, x_title: str | None = None, y_title: str | None = None,
          height: int = 480, subtitle: str | None = None) -> go.Figure:
    """Title (and an optional subtitle, e.g. how a measure is defined), fonts large
    enough for a projector and Norwegian separators (space for thousands, comma for
    decimals). Every chart goes through here once, after its traces are added: the
    titles and the traces' texts are made plain text (``text``), so names from data
    never render as HTML."""
    for trace in fig.data:
        for attr in _TEXT_ATTRS:
            value = getattr(trace, attr, None)
            if value is not None:
                setattr(trace, attr, _texts(value))
    title, subtitle, x_title, y_title = (None if s is None else text(s) for s in (title, subtitle, x_title, y_title))
    t = {"text": title, "font": {"size": FONT_SIZE + 6}}
    if subtitle:
        t["subtitle"] = {"text": subtitle, "font": {"size": FONT_SIZE}}
    fig.update_layout(
        title=t,
        font={"size": FONT_SIZE},
        separators=", ",
        height=height,
        margin={"l": 10, "r": 10, "t": 100 if subtitle else 70, "b": 40},
        xaxis_title=x_title, yaxis_title=y_title,
        legend={"font": {"size": FONT_SIZE}},
        hoverlabel={"font": {"size": FONT_SIZE}},
    )
    # separatethousands: "2 000" like every other number in the app (Plotly leaves 4 digits ungrouped)
    fig.update_xaxes(tickfont={"size": FONT_SIZE - 1}, title_font={"size": FONT_SIZE}, separatethousands=True)
    fig.update_yaxes(tickfont={"size": FONT_SIZE - 1}, title_font={"size": FONT_SIZE}, separatethousands=True)
    return fig


NOT_ASSESSED_COLOR = "#9E9E9E"   # grey: not risk assessed (never mistaken for a level)
SEQUENTIAL = "Blues"             # amounts: one hue, light → dark, safe for colour-blind viewers


def selectable_heatmap(z, x, y, *, text, customdata, hovertext, colorscale=SEQUENTIAL,
                       zmin=None, zmax=None, showscale: bool = True, colorbar_title: str | None = None,
                       xgap: int = 2, ygap: int = 2, highlight: tuple[int, int] | None = None) -> go.Figure:
    """A heatmap whose cells can be clicked in Streamlit.

    Plotly heatmaps have no point selection, so an invisible marker sits on every
    cell centre; with ``hoverdistance=-1`` the nearest marker (= the cell under the
    pointer) takes hover and click. ``customdata`` (one value per cell, same shape as
    ``z``) comes back in ``st.plotly_chart(..., on_select=...)`` selection points.
    ``highlight`` = (row, column) of the chosen cell, drawn with a black frame."""
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=z, x=x, y=y, text=text, texttemplate="%{text}", textfont={"size": FONT_SIZE},
        colorscale=colorscale, zmin=zmin, zmax=zmax, showscale=showscale, hoverinfo="skip",
        xgap=xgap, ygap=ygap, colorbar={"title": {"text": colorbar_title}} if colorbar_title else None,
    ))
    xs, ys, cd, ht = [], [], [], []
    for i, yv in enumerate(y):
        for j, xv in enumerate(x):
            xs.append(xv)
            ys.append(yv)
            cd.append(customdata[i][j])
            ht.append(hovertext[i][j])
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", customdata=cd, hovertext=ht, hovertemplate="%{hovertext}<extra></extra>",
        marker={"symbol": "square", "size": 40, "color": "#000000", "opacity": 0},
        selected={"marker": {"opacity": 0}}, unselected={"marker": {"opacity": 0}},
        showlegend=False, name="",
        # (the invisible markers would make the box's text grey and right-aligned)
        hoverlabel={"bgcolor": "#FFFFFF", "bordercolor": "#0B5394", "align": "left",
                    "font": {"color": "#1F1F1F", "size": FONT_SIZE}},
    ))
    fig.update_layout(hovermode="closest", hoverdistance=-1, clickmode="event+select", dragmode=False)
    if highlight is not None:
        r, c = highlight
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, xref="x", yref="y",
                      line={"color": "#000000", "width": 5}, fillcolor="rgba(0,0,0,0)", layer="above")
    # exactly the cells: the invisible markers must not pad the axes
    fig.update_xaxes(type="category", showgrid=False, zeroline=False, range=[-0.5, len(x) - 0.5])
    fig.update_yaxes(type="category", showgrid=False, zeroline=False, range=[-0.5, len(y) - 0.5])
    return fig


def discrete_level_scale() -> list:
    """A colourscale mapping 0 / 1 / 2 / 3 to lav / middels / høy / not assessed."""
    cols = [RISK_COLORS["lav"], RISK_COLORS["middels"], RISK_COLORS["høy"], NOT_ASSESSED_COLOR]
    out = []
    for i, c in enumerate(cols):
        out += [[i / len(cols), c], [(i + 1) / len(cols), c]]
    return out
