"""ui/charts.py: what a chart shows as text is plain text for Plotly's HTML subset."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui import charts


def test_text_keeps_only_our_line_breaks():
    assert charts.text("3. kv.<br>2025") == "3. kv.<br>2025"
    assert charts.text('<a href="x">A & B</a><br>2') == '&lt;a href="x"&gt;A &amp; B&lt;/a&gt;<br>2'


def test_style_makes_every_text_of_a_figure_plain():
    fig = go.Figure(go.Bar(x=[1, 2], y=pd.Series(["<b>a</b>", "c"]), text=np.array(["<i>x</i>", "y"]),
                           hovertext=["<a>", "b"], name="<s>n</s>"))
    fig.add_trace(go.Heatmap(z=[[1, 2], [3, 4]], text=[["<a>", "b"], ["c", "d"]]))
    charts.style(fig, title="T <x>", subtitle="<u>s</u>", x_title="<b>x</b>", y_title="y")
    d = fig.data[0]
    assert d.y == ("&lt;b&gt;a&lt;/b&gt;", "c") and d.text == ("&lt;i&gt;x&lt;/i&gt;", "y")
    assert d.hovertext == ("&lt;a&gt;", "b") and d.name == "&lt;s&gt;n&lt;/s&gt;"
    assert [list(r) for r in fig.data[1].text] == [["&lt;a&gt;", "b"], ["c", "d"]]     # a grid of cells
    assert d.x == (1, 2)                                   # numbers stay numbers
    assert fig.layout.title.text == "T &lt;x&gt;" and fig.layout.title.subtitle.text == "&lt;u&gt;s&lt;/u&gt;"
    assert fig.layout.xaxis.title.text == "&lt;b&gt;x&lt;/b&gt;"
    assert fig.layout.separators == ", " and fig.layout.yaxis.separatethousands


def test_no_translation_carries_markup_but_line_breaks():
    """Charts show their text attributes as plain text (``style``) and Streamlit's Markdown
    renders no HTML, so a tag in a translation (``<b>Høy</b>``) would show as typed, as it
    did in the risk matrix's cells and hover boxes. Only ``<br>`` is markup."""
    import re

    from akrim_analytics.i18n import strings

    tagged = [(key, text) for key, texts in strings().items() for text in texts.values()
              if re.search(r"<[A-Za-z/][^>]*>", str(text).replace("<br>", ""))]
    assert not tagged, tagged[:5]


def test_heatmap_hover_box_is_dark_text_on_white_left_aligned():
    """The cells' hover boxes come from invisible markers, whose colour would make the box's
    text pale grey and right-aligned: the box is set explicitly."""
    fig = charts.selectable_heatmap([[1, 2]], ["a", "b"], ["r"], text=[["1", "2"]], customdata=[["x", "y"]],
                                    hovertext=[["h1", "h2"]])
    label = fig.data[1].hoverlabel
    assert label.align == "left" and label.bgcolor == "#FFFFFF" and label.font.color == "#1F1F1F"
