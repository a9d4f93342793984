"""Altair chart builders (``chart_*``), each returning an ``alt.Chart``."""
