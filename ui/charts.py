"""Plotly styling for projector use: large fonts, Norwegian number separators and a
risk palette that colour-blind viewers can tell apart (Okabe–Ito based)."""
from __future__ import annotations

import plotly.graph_objects as go

PRIMARY = "#0B5394"
# lav / middels / høy: bluish green, orange, vermillion (Okabe–Ito), distinct in deuteranopia.
RISK_COLORS = {"lav": "#009E73", "middels": "#E69F00", "høy": "#D55E00"}
FONT_SIZE = 16


def style(fig: go.Figure, *, title: str, x_title: str | None = None, y_title: str | None = None,
          height: int = 480) -> go.Figure:
    """Title, fonts and Norwegian separators (space for thousands, comma for decimals)."""
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 6}},
        font={"size": FONT_SIZE},
        separators=", ",
        height=height,
        margin={"l": 10, "r": 10, "t": 70, "b": 40},
        xaxis_title=x_title, yaxis_title=y_title,
    )
    return fig
