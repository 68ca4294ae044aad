"""The Norwegian interface never falls back to Streamlit's English defaults where the
page can say it itself: a multiselect (and a selectbox without a preselected value)
shows Streamlit's "Choose options" / "Choose an option" unless given a placeholder."""
from __future__ import annotations

import ast

from conftest import REPO

UI_FILES = sorted([REPO / "app.py", *(REPO / "pages").glob("*.py"), *(REPO / "ui").glob("*.py")])


def _calls(name: str):
    for path in UI_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                yield path, node


def _kw(node: ast.Call, name: str):
    return next((k.value for k in node.keywords if k.arg == name), None)


def test_every_multiselect_has_a_placeholder():
    calls = list(_calls("multiselect"))
    assert calls
    bare = [f"{p.relative_to(REPO)}:{n.lineno}" for p, n in calls if _kw(n, "placeholder") is None]
    assert not bare, bare


def test_every_empty_selectbox_has_a_placeholder():
    bare = []
    for p, n in _calls("selectbox"):
        index = _kw(n, "index")
        if isinstance(index, ast.Constant) and index.value is None and _kw(n, "placeholder") is None:
            bare.append(f"{p.relative_to(REPO)}:{n.lineno}")
    assert not bare, bare
