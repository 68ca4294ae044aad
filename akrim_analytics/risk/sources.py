"""The public sources behind a risk factor, for readers of an explanation.

Each indicator names its source as sections of the project's domain notes
(``"domain.md §1.2 (…), §4.1"``, see ``indicators``): exact for developers and
auditors, who find the cited documents and links in those sections, but nothing a
leader can look up. ``public(ref, lang)`` turns such a reference into the public
documents the sections cite — DFØ's guide, the wage regulation, the Norway model,
Enhetsregisteret … — in the reader's language (``risk.source.*`` in
``locale/risk.toml``). The reference itself stays stored with every run and goes into
the exports unchanged.
"""
from __future__ import annotations

import re

from ..i18n import t

# "§4.1" (no space): a section of domain.md; "forskrift § 7": a paragraph of the wage regulation
_DOMAIN = re.compile(r"§(\d+(?:\.\d+)?)")
_REGULATION = re.compile(r"forskrift § (\d+)")

# the sections with a public source (their labels are risk.source.s<section>); section 8
# is the product's own requirements, not a public source, and is left out
SECTIONS = ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "3.1", "4.1", "4.2", "4.3", "5.2", "5.3", "5.4")
NOT_PUBLIC = ("8",)
REGULATION_PARAGRAPHS = ("7",)


def public(ref, lang: str | None = None) -> str:
    """The public sources a ``domain.md`` reference points to, in order, each once,
    joined with "; " (e.g. "Enhetsregisteret (Brønnøysundregistrene); Skatteattest og
    eBevis (Skatteetaten)"). A section without a known public source is kept as the
    reference (``domain.md §9.9``) rather than dropped. No reference (None, or NaN from a
    table of lines) gives ""."""
    if not isinstance(ref, str) or not ref:
        return ""
    found: list[tuple[int, str]] = []
    for m in _DOMAIN.finditer(ref):
        sec = m.group(1)
        if sec in NOT_PUBLIC:
            continue
        found.append((m.start(), t(f"risk.source.s{sec.replace('.', '_')}", lang) if sec in SECTIONS
                      else f"domain.md §{sec}"))
    for m in _REGULATION.finditer(ref):
        par = m.group(1)
        found.append((m.start(), t(f"risk.source.regulation_{par}", lang) if par in REGULATION_PARAGRAPHS
                      else m.group(0)))
    labels: list[str] = []
    for _, label in sorted(found):
        if label not in labels:
            labels.append(label)
    return "; ".join(labels)
