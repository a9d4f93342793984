"""The shipped, editable compliance rules file and how to find the one in force.

Kept free of heavy imports: the sending adapters check a plan's rules hash with these functions
before doing anything else (see :mod:`smsanalytics.adapters.base`).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

__all__ = ["SHIPPED_RULES", "rules_path", "rules_sha256"]

#: The rules file shipped with the package (``smsanalytics/rules/compliance.toml``).
SHIPPED_RULES: Path = Path(str(resources.files("smsanalytics") / "rules" / "compliance.toml"))


def rules_path(override: str | Path | None = None) -> Path:
    """The rules file in force: ``override`` (``compliance_rules`` setting) or the shipped one."""
    return Path(override) if override is not None else SHIPPED_RULES


def rules_sha256(path: str | Path | None = None) -> str:
    """Hex SHA-256 of the bytes of the rules file in force (see :func:`rules_path`)."""
    return hashlib.sha256(rules_path(path).read_bytes()).hexdigest()
