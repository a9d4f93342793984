"""Seeded, vectorised generator of a realistic SMS programme **with ground truth**.

>>> from smsanalytics.synth import generate_programme
>>> prog = generate_programme(500, months=2, seed=3)
>>> prog.contacts.height
500
>>> sorted(prog.truth_tables())
['contacts', 'messages', 'orders', 'recapture', 'variants']

See ``docs/synthetic-data.md`` for the generative model, the truth tables and the export format.
"""

from smsanalytics.synth._config import KINDS
from smsanalytics.synth.chunked import generate_programme_parquet
from smsanalytics.synth.exports import load_programme, write_exports, write_truth
from smsanalytics.synth.generate import (
    DEFAULT_END,
    Programme,
    generate_programme,
    truth_click_probability,
)

__all__ = [
    "DEFAULT_END",
    "KINDS",
    "Programme",
    "generate_programme",
    "generate_programme_parquet",
    "load_programme",
    "truth_click_probability",
    "write_exports",
    "write_truth",
]
