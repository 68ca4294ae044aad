"""Small helpers of ui/common.py."""
from __future__ import annotations

from ui.common import _css_string


def test_css_string_cannot_end_the_rule_or_the_style_element():
    assert _css_string("Last opp") == '"Last opp"'
    s = _css_string('a"; } body { display: none } </style><script>x</script>\\')
    assert s.startswith('"') and s.endswith('"')
    inner = s[1:-1]
    assert '"' not in inner and "<" not in inner and ">" not in inner
    assert "\\000022" in inner and "\\00003c" in inner and "\\00005c" in inner
    assert _css_string("Maks 200 MB per fil\n") == '"Maks 200 MB per fil\\00000a"'
