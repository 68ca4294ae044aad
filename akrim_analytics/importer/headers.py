"""Recognising column headers: normalisation, synonym matching, header-row scoring and
the suggested mapping from file columns to a kind's canonical fields.

Headers are compared in a normalised form: lower case, Norwegian letters folded
(æ→ae, ø→o, å→a), "(T)" read as "tekst", and everything but letters and digits removed,
so ``Org.nr.``, ``Orgnr`` and ``org_nr`` are the same header. Exact synonym hits score
highest; close misspellings (``Catergory``, ``Organisatonal``) still match by
similarity.
"""
from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from dataclasses import dataclass

_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o", "ü": "u", "é": "e", "è": "e"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
FUZZY_CUTOFF = 0.86


def normalise(text) -> str:
    if text is None:
        return ""
    s = unicodedata.normalize("NFC", str(text)).strip().lower().translate(_FOLD)
    s = re.sub(r"\(\s*t\s*\)", " tekst", s)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return _NON_ALNUM.sub("", s)


def signature(kind: str, headers: list[str]) -> str:
    """The shape of a file for a kind: the set of its normalised, non-empty headers."""
    norm = sorted({normalise(h) for h in headers if normalise(h)})
    return hashlib.sha256((kind + "|" + "|".join(norm)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Hit:
    field: str
    score: float


class Matcher:
    """Matches one header against the synonyms of a kind's fields.

    ``fields`` is a list of (field name, synonyms in order of preference)."""

    def __init__(self, fields: list[tuple[str, tuple[str, ...]]]):
        self.exact: dict[str, list[Hit]] = {}
        self.vocab: list[tuple[str, str, int]] = []
        for name, synonyms in fields:
            for rank, syn in enumerate(synonyms):
                n = normalise(syn)
                if not n:
                    continue
                self.exact.setdefault(n, []).append(Hit(name, 1.0 - 0.001 * rank))
                self.vocab.append((n, name, rank))
        self._cache: dict[str, list[Hit]] = {}

    def hits(self, header) -> list[Hit]:
        """Every field the header could be, best first (empty when none)."""
        n = normalise(header)
        if not n or n.isdigit():
            return []
        if n in self._cache:
            return self._cache[n]
        found: dict[str, float] = {}
        for h in self.exact.get(n, []):
            found[h.field] = max(found.get(h.field, 0), h.score)
        if not found and len(n) >= 4:
            for syn, name, rank in self.vocab:
                if len(syn) < 4 or abs(len(syn) - len(n)) > 3:
                    continue
                sm = difflib.SequenceMatcher(None, n, syn)
                # cheap upper bounds first (ratio <= quick_ratio <= real_quick_ratio): same result
                if sm.real_quick_ratio() < FUZZY_CUTOFF or sm.quick_ratio() < FUZZY_CUTOFF:
                    continue
                r = sm.ratio()
                if r >= FUZZY_CUTOFF:
                    found[name] = max(found.get(name, 0), 0.6 * r - 0.001 * rank)
        out = sorted((Hit(f, s) for f, s in found.items()), key=lambda h: -h.score)
        self._cache[n] = out
        return out

    def score_row(self, cells: list) -> tuple[float, int]:
        """How much a row looks like this kind's header row: (score, fields matched).

        Only text cells count; a row with many numbers is data, not a header."""
        texts = [c for c in cells if isinstance(c, str) and c.strip()]
        numbers = [c for c in cells if isinstance(c, (int, float)) and not isinstance(c, bool)]
        best: dict[str, float] = {}
        for c in texts:
            for h in self.hits(c)[:1]:
                best[h.field] = max(best.get(h.field, 0), h.score)
        score = sum(best.values()) - 0.5 * len(numbers)
        return score, len(best)


def suggest(matcher: Matcher, columns: list[str], priority: dict[str, int] | None = None,
            texts: list[str] | None = None) -> dict[str, str]:
    """field → column: each column used once, best-scoring pairs first.

    ``priority`` breaks ties between fields that claim the same column (lower wins).
    ``texts``: the header text matched for each column (default: the column names; the
    import passes the file's headers, whose unique display names differ for duplicates
    and blanks)."""
    priority = priority or {}
    pairs = []
    for idx, col in enumerate(columns):
        for h in matcher.hits(col if texts is None else texts[idx]):
            pairs.append((-h.score, priority.get(h.field, 100), idx, h.field, col))
    pairs.sort()
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for _, _, _, field, col in pairs:
        if field in mapping or col in used:
            continue
        mapping[field] = col
        used.add(col)
    return mapping
