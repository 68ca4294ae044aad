"""akrim_analytics/risk/sources.py: an explanation names the public documents behind a
factor (DFØ's guide, the wage regulation, Enhetsregisteret …), not the project's notes."""
from __future__ import annotations

import pytest

from akrim_analytics.risk import sources
from akrim_analytics.risk.indicators import INDICATORS


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_every_indicator_has_public_sources(lang):
    for ind in INDICATORS:
        text = sources.public(ind.source, lang)
        assert text and "domain.md" not in text and "risk.source" not in text, (ind.key, text)


def test_sections_in_order_each_once_and_the_regulation():
    ref = "domain.md §5.4 (konkurs), §5.3 (eBevis), §5.4; forskrift § 7 ('bransje')"
    assert sources.public(ref, "nb") == ("Enhetsregisteret (Brønnøysundregistrene); Skatteattest og eBevis "
                                         "(Skatteetaten); Lønnsforskriften § 7 (kontroll tilpasset bransje og område)")
    assert sources.public(ref, "en").startswith("The Central Coordinating Register for Legal Entities")


def test_the_products_own_section_is_left_out_and_unknown_ones_kept():
    assert sources.public("domain.md §2.3 (contract clauses), §8 (spend without contract)", "nb") == \
        "Lønnsforskriften: oppdragsgivers plikter (kontraktsklausuler, kontroll)"
    assert sources.public("domain.md §9.9, forskrift § 12", "nb") == "domain.md §9.9; forskrift § 12"
    assert sources.public(None) == "" and sources.public("") == "" and sources.public(float("nan")) == ""
