"""The app's pages: file, title key, icon, section and the least role that may open it.

The entry point builds ``st.navigation`` from this list (core data, no Streamlit);
a page whose file does not exist yet is left out. Order here is menu order."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str            # relative to the repository root
    title_key: str       # i18n key of the menu title
    icon: str            # Material icon, ':material/...:'
    section_key: str     # i18n key of the menu section
    min_role: str        # leder | analytiker | admin
    url_path: str        # stable URL path (links sent before a meeting keep working)
    default: bool = False


PAGES: list[PageSpec] = [
    PageSpec("pages/oversikt.py", "nav.oversikt", ":material/dashboard:", "nav.section.leadership", "leder", "oversikt", default=True),
    PageSpec("pages/risikokart.py", "nav.risikokart", ":material/grid_on:", "nav.section.leadership", "leder", "risikokart"),
    PageSpec("pages/kontrakter.py", "nav.kontrakter", ":material/description:", "nav.section.leadership", "leder", "kontrakter"),
    PageSpec("pages/leverandorer.py", "nav.leverandorer", ":material/business:", "nav.section.leadership", "leder", "leverandorer"),
    PageSpec("pages/utvikling.py", "nav.utvikling", ":material/trending_up:", "nav.section.leadership", "leder", "utvikling"),
    PageSpec("pages/rapport.py", "nav.rapport", ":material/summarize:", "nav.section.leadership", "leder", "rapport"),
    PageSpec("pages/oppfolging.py", "nav.oppfolging", ":material/fact_check:", "nav.section.followup", "leder", "oppfolging"),
    PageSpec("pages/kontrollogg.py", "nav.kontrollogg", ":material/checklist:", "nav.section.followup", "leder", "kontrollogg"),
    PageSpec("pages/import.py", "nav.import", ":material/upload_file:", "nav.section.data", "analytiker", "import"),
    PageSpec("pages/innstillinger.py", "nav.innstillinger", ":material/settings:", "nav.section.admin", "admin", "innstillinger"),
    PageSpec("pages/brukere.py", "nav.brukere", ":material/group:", "nav.section.admin", "admin", "brukere"),
    PageSpec("pages/revisjonslogg.py", "nav.revisjonslogg", ":material/history:", "nav.section.admin", "admin", "revisjonslogg"),
]
