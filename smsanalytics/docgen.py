"""Generate ``docs/data-model.md`` from :mod:`smsanalytics.schemas` (``make docs``).

A test compares the committed document with :func:`data_model_markdown`, so the document
cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path

from smsanalytics import schemas

__all__ = ["data_model_markdown", "main"]

_HEADER = """# Data model

Generated from `smsanalytics/schemas.py` by `make docs`; do not edit by hand.

Conventions: every timestamp is `TIMESTAMPTZ` in UTC and its name ends in `_at`; booleans start
with `is_`; `contact_id` is an integer surrogate assigned by the warehouse (the user's own id is
`contacts.external_id`); phone numbers live only in `contacts.phone_e164` (and in what is handed to
a gateway). Keys are enforced by the loader (`Warehouse.load`), which skips rows whose key is
already present, so re-loading a file never duplicates rows; a load is one transaction, so a
failure leaves the warehouse as it was.

Polars types: `BIGINT` → `Int64`, `INTEGER` → `Int32`, `DOUBLE` → `Float64`, `VARCHAR` → `String`,
`BOOLEAN` → `Boolean`, `DATE` → `Date`, `TIMESTAMPTZ` → `Datetime("us", "UTC")`.

```
contacts 1─* messages 1─* receipts
    │            └──────1─* clicks
    ├──1─* inbound      campaigns 1─* messages
    ├──1─* orders       campaigns 1─* assignments *─1 contacts
quarantine, loads: written by the loader
```
"""


def data_model_markdown() -> str:
    """The Markdown of ``docs/data-model.md``."""
    parts = [_HEADER]
    for t in schemas.DOCUMENTED_TABLES:
        parts.append(f"\n## `{t.name}`\n\n{t.description}\n\nKey: ({', '.join(f'`{k}`' for k in t.key)})")
        if t.kind == "system":
            parts.append(" · written by the warehouse itself")
        if t.cluster_by:
            parts.append(
                f" · each load stored in order of ({', '.join(f'`{k}`' for k in t.cluster_by)})"
            )
        parts.append("\n\n| column | type | required | meaning |\n|---|---|---|---|\n")
        for c in t.columns:
            req = "yes" if c.required else ""
            parts.append(f"| `{c.name}` | `{c.sql_type}` | {req} | {c.description} |\n")
        for note in t.notes:
            parts.append(f"\n{note}\n")
    return "".join(parts)


def main() -> None:
    """Write ``docs/data-model.md`` at the project root."""
    from smsanalytics.settings import project_root

    path = project_root() / "docs" / "data-model.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data_model_markdown(), encoding="utf-8")
    print(path)  # noqa: T201 - a build script's output


if __name__ == "__main__":
    main()
