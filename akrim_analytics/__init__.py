"""akrim-analytics core: risk of work-related crime (A-krim) in municipal procurement.

This package never imports Streamlit; pages call into it."""

__version__ = "0.1.0"
