"""Scheduled reports: run declared notebooks with papermill and publish offline HTML.

A pipeline file (YAML, see ``pipelines/weekly_campaign_report.yaml`` and ``docs/reports.md``)
names notebooks and their parameters::

    name: weekly_campaign_report
    description: Last week's campaigns, for the Monday meeting.
    parameters:                 # given to every notebook that declares them
      warehouse: ""
      end_date: "{date}"        # {date}, {date-7d}, {date+1d}: the run date, shifted
    notebooks:
      - path: notebooks/07_campaign_report.ipynb
        parameters: {days: 7}
      - path: notebooks/01_explore.ipynb

:func:`run_pipeline` executes them in order into a temporary folder next to the target, converts
each executed notebook to HTML with the code hidden (charts are inline SVG: the pages need no
network), scans every output for phone numbers, writes an ``index.html`` and only then moves the
folder to ``reports/<pipeline>/<date>/`` (replacing an earlier run of the same date in one
rename). A notebook that fails stops the run with a :class:`PipelineError` naming the notebook and
the cell; nothing under ``reports/<pipeline>/`` changes, and the failed notebook is kept under
``reports/<pipeline>/_failed/<date>/`` for inspection.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

__all__ = [
    "NotebookReport",
    "NotebookStep",
    "PhoneNumberFinding",
    "Pipeline",
    "PipelineError",
    "PipelineRun",
    "find_phone_numbers",
    "load_pipeline",
    "notebook_to_html",
    "run_pipeline",
    "scan_report",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_DATE_TOKEN = re.compile(r"\{date(?:([+-])(\d+)d)?\}")
_PIPELINE_KEYS = frozenset(
    {"name", "description", "parameters", "notebooks", "output", "timeout_seconds"}
)
_STEP_KEYS = frozenset({"path", "name", "parameters"})
_SCALARS = (str, int, float, bool, type(None))
#: Regions whose national number formats the phone scan looks for, besides the settings'.
SCAN_REGIONS: Final[tuple[str, ...]] = ("FR", "BE", "CH", "GB", "DE", "ES", "US", "CA")
#: E.164 numbers anywhere in text (``+`` then 8-15 digits, with optional separators).
E164_IN_TEXT: Final = re.compile(r"(?<![\w+])\+[1-9](?:[ .()-]{0,2}\d){7,14}(?!\d)")
_REPORT_TEMPLATE = "smsanalytics_report.html.j2"
_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{#- A report must open with no network: drop the CDN scripts (require.js, MathJax, mermaid). -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
  .smsanalytics-chart svg { max-width: 100%; height: auto; }
  .smsanalytics-report-nav { font: 13px sans-serif; margin: 8px 0 16px; }
</style>
{%- endblock extra_css -%}
"""


class PipelineError(RuntimeError):
    """A pipeline that cannot be loaded or run; the message names the file, notebook and cell."""


# -- the pipeline file -----------------------------------------------------------------------------
@dataclass(frozen=True)
class NotebookStep:
    """One notebook of a pipeline.

    Attributes
    ----------
    path
        The notebook (absolute).
    name
        Output name (default the notebook's file stem); unique within the pipeline.
    parameters
        Scalars given to the notebook's ``parameters`` cell (pipeline-level ones merged in).
    """

    path: Path
    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline file (see the module docstring)."""

    name: str
    description: str
    source: Path
    steps: tuple[NotebookStep, ...]
    output: Path
    timeout_seconds: int | None = None


def _scalar_parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PipelineError(f"{where}: parameters must be a mapping of name: value")
    out = {}
    for key, v in value.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise PipelineError(f"{where}: parameter name {key!r} is not a Python identifier")
        if not isinstance(v, _SCALARS):
            raise PipelineError(
                f"{where}: parameter {key!r} must be a scalar (text, number, true/false, null), "
                f"got {type(v).__name__}"
            )
        out[key] = v.isoformat() if isinstance(v, dt.date) else v
    return out


def _papermill() -> Any:
    """papermill (and nbconvert), or a PipelineError saying which extra to install."""
    try:
        import nbconvert  # noqa: F401 - needed by notebook_to_html
        import papermill
    except ImportError as exc:
        raise PipelineError(
            f"running notebooks needs the notebooks extra ({exc.name} is missing): "
            "pip install 'smsanalytics[notebooks]'"
        ) from None
    return papermill


def _notebook_parameters(path: Path) -> set[str]:
    papermill = _papermill()
    try:
        return set(papermill.inspect_notebook(str(path)))
    except Exception as exc:  # noqa: BLE001 - papermill raises several kinds for a bad notebook
        raise PipelineError(f"notebook {path} cannot be read: {exc}") from None


def load_pipeline(path: str | Path, *, root: Path | None = None) -> Pipeline:
    """Read and validate a pipeline file.

    Notebook paths and ``output`` are relative to the project root (the folder with
    ``pyproject.toml`` or ``smsanalytics.toml`` above the file). Parameters given to a notebook
    must be declared in its ``parameters`` cell; pipeline-level parameters go to the notebooks
    that declare them.

    Raises
    ------
    PipelineError
        Naming the file and the key at fault: unreadable YAML, unknown keys, a missing notebook,
        a non-scalar parameter or one the notebook does not declare.
    """
    import yaml

    from smsanalytics.settings import project_root

    source = Path(path).resolve()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"pipeline file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise PipelineError(f"{source}: expected a mapping with name, parameters and notebooks")
    unknown = sorted(set(data) - _PIPELINE_KEYS)
    if unknown:
        raise PipelineError(f"{source}: unknown key(s) {unknown}; known: {sorted(_PIPELINE_KEYS)}")
    base = root or project_root(source.parent)
    name = str(data.get("name") or source.stem)
    if not _NAME.match(name):
        raise PipelineError(f"{source}: name {name!r} must be letters, digits, '.', '_' or '-'")
    shared = _scalar_parameters(data.get("parameters"), f"{source} [parameters]")
    items = data.get("notebooks")
    if not isinstance(items, list) or not items:
        raise PipelineError(
            f"{source}: notebooks must be a non-empty list of {{path: …, parameters: …}}"
        )
    steps: list[NotebookStep] = []
    for i, item in enumerate(items, start=1):
        where = f"{source} notebooks[{i}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, Mapping) or "path" not in item:
            raise PipelineError(f"{where}: needs a path")
        bad = sorted(set(item) - _STEP_KEYS)
        if bad:
            raise PipelineError(f"{where}: unknown key(s) {bad}; known: {sorted(_STEP_KEYS)}")
        nb_path = Path(str(item["path"]))
        nb_path = nb_path if nb_path.is_absolute() else base / nb_path
        if not nb_path.is_file():
            raise PipelineError(f"{where}: notebook {str(nb_path)!r} does not exist")
        step_name = str(item.get("name") or nb_path.stem)
        if (
            not _NAME.match(step_name)
            or step_name in {s.name for s in steps}
            or step_name == "index"
        ):
            raise PipelineError(f"{where}: output name {step_name!r} is invalid or used twice")
        own = _scalar_parameters(item.get("parameters"), f"{where} parameters")
        declared = _notebook_parameters(nb_path)
        undeclared = sorted(set(own) - declared)
        if undeclared:
            raise PipelineError(
                f"{where}: {nb_path.name} has no parameter(s) {undeclared} in its parameters cell; "
                f"it declares {sorted(declared)}"
            )
        params = {k: v for k, v in shared.items() if k in declared} | own
        steps.append(NotebookStep(path=nb_path, name=step_name, parameters=params))
    out = Path(str(data.get("output") or "reports"))
    timeout = data.get("timeout_seconds")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1
    ):
        raise PipelineError(f"{source}: timeout_seconds must be a positive whole number of seconds")
    return Pipeline(
        name=name,
        description=str(data.get("description") or ""),
        source=source,
        steps=tuple(steps),
        output=out if out.is_absolute() else base / out,
        timeout_seconds=timeout,
    )


def _substitute(value: Any, run_date: dt.date) -> Any:
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        days = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
        return (run_date + dt.timedelta(days=days)).isoformat()

    return _DATE_TOKEN.sub(repl, value)


# -- results ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotebookReport:
    """One executed notebook of a run: its output name, title, files and run time."""

    name: str
    title: str
    notebook: Path
    html: Path
    seconds: float
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineRun:
    """A published run: ``folder`` is ``reports/<pipeline>/<date>/`` and ``index`` its index."""

    pipeline: str
    date: dt.date
    folder: Path
    index: Path
    notebooks: tuple[NotebookReport, ...]
    seconds: float


# -- phone-number scan -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PhoneNumberFinding:
    """A phone number found in a report: the file, a masked rendering and the context."""

    file: str
    masked: str
    context: str


class _TextExtractor(HTMLParser):
    """The text a reader can see or hover: text nodes (SVG ``<text>`` included, scripts and
    styles excluded) and the ``title``, ``alt`` and ``aria-label`` attributes (chart tooltips)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for key, value in attrs:
            if key in ("title", "alt", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data)


def _visible_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "\n".join(parser.parts)


def _mask(number: str) -> str:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep = set(digits[:2] + digits[-2:])
    return "".join("•" if i in digits and i not in keep else ch for i, ch in enumerate(number))


#: Phone-like runs of digits in text: an optional ``+``, 9-20 characters of digits and phone
#: separators, not glued to letters, other digits or a decimal point.
_CANDIDATE: Final = re.compile(r"(?<![\w.,+])(?:\+|\(?)\d[\d \t().-]{6,22}\d(?![\w]|[.,]\d)")
_DATE_LIKE: Final = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}")


def _plausible(candidate: str) -> bool:
    """Reject digit runs that are decimals, dates or times rather than phone numbers."""
    digits = sum(ch.isdigit() for ch in candidate)
    if _DATE_LIKE.search(candidate):
        return False
    if candidate.startswith("+"):
        return 8 <= digits <= 15
    if not 9 <= digits <= 15:
        return False
    groups = [g for g in re.split(r"[ \t().-]+", candidate) if g]
    if "." in candidate and any(not 2 <= len(g) <= 4 for g in groups):
        return False  # 0.0381679389313, 12345.67 …; but 06.12.34.56.78 stays
    return True


def find_phone_numbers(
    text: str, *, regions: Iterable[str] = SCAN_REGIONS
) -> list[tuple[str, str]]:
    """Phone numbers in ``text``.

    A regex picks phone-like runs of digits (decimals, dates and times are set aside); a run is a
    phone number when it is written in E.164 (``+`` and 8-15 digits: flagged even when not a
    valid number) or when :class:`phonenumbers.PhoneNumberMatcher` finds a valid number in it
    for one of ``regions`` (national formats such as ``06 12 34 56 78`` or ``(415) 555-2671``).

    Returns
    -------
    list of (number, context)
        The raw match and ~40 characters around it (for the error message; mask before showing).

    >>> find_phone_numbers("call +33 6 12 34 56 78 now")[0][0]
    '+33 6 12 34 56 78'
    >>> find_phone_numbers("or 06.12.34.56.78")[0][0]
    '06.12.34.56.78'
    >>> find_phone_numbers("CTR 4.71 % [4.33–5.12], 11,967 sent 2026-10-31 20:49:08, p=0.03816793")
    []
    """
    import phonenumbers

    regions = tuple(dict.fromkeys(regions))
    out = []
    for m in _CANDIDATE.finditer(text):
        candidate = m.group(0).strip()
        if not _plausible(candidate):
            continue
        hit = candidate.startswith("+") and bool(E164_IN_TEXT.fullmatch(candidate))
        if not hit:
            hit = any(
                next(
                    iter(
                        phonenumbers.PhoneNumberMatcher(
                            candidate, r, leniency=phonenumbers.Leniency.VALID
                        )
                    ),
                    None,
                )
                is not None
                for r in regions
            )
        if hit:
            context = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
            out.append((candidate, context))
    return out


def _notebook_text(path: Path) -> str:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    parts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif output.get("output_type") == "error":
                parts.append("\n".join(output.get("traceback", [])))
            for mime, value in output.get("data", {}).items():
                text = "".join(value) if isinstance(value, list) else str(value)
                if mime in ("text/html", "image/svg+xml"):
                    parts.append(_visible_text(text))
                elif mime.startswith("text/") or mime.endswith("json"):
                    parts.append(text if isinstance(value, str | list) else json.dumps(value))
    return "\n".join(parts)


def scan_report(
    paths: Iterable[str | Path], *, regions: Iterable[str] = SCAN_REGIONS
) -> list[PhoneNumberFinding]:
    """Scan HTML reports and executed notebooks for phone numbers (see :func:`find_phone_numbers`).

    HTML is reduced to what a reader sees (text, tooltips); notebooks to their markdown and
    outputs. Returns the findings with the numbers masked.
    """
    findings = []
    for p in map(Path, paths):
        if p.suffix == ".ipynb":
            text = _notebook_text(p)
        else:
            text = _visible_text(p.read_text(encoding="utf-8"))
        for raw, context in find_phone_numbers(text, regions=regions):
            masked = _mask(raw)
            findings.append(PhoneNumberFinding(str(p), masked, context.replace(raw, masked)))
    return findings


# -- HTML ------------------------------------------------------------------------------------------
_SVG_ID = re.compile(r'\bid="([^"]+)"')


def _inline_svg(svg: str, prefix: str) -> str:
    """The SVG with its ids made unique in the page and any script removed."""
    svg = re.sub(r"<script\b.*?</script>", "", svg, flags=re.DOTALL | re.IGNORECASE)
    svg = re.sub(r"<\?xml[^>]*>", "", svg)
    ids = set(_SVG_ID.findall(svg))
    for ident in sorted(ids, key=len, reverse=True):
        new = f"{prefix}-{ident}"
        svg = svg.replace(f'id="{ident}"', f'id="{new}"').replace(f"url(#{ident})", f"url(#{new})")
        svg = svg.replace(f'href="#{ident}"', f'href="#{new}"')
    return svg


def _charts_inline(nb: Any) -> Any:
    """A copy of ``nb`` where every ``image/svg+xml`` output becomes inline HTML (nbconvert would
    embed it as a base64 ``<img>``, hiding the chart's marks from the page)."""
    import copy

    nb = copy.deepcopy(nb)
    n = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data or "image/svg+xml" not in data:
                continue
            svg = data.pop("image/svg+xml")
            svg = "".join(svg) if isinstance(svg, list) else svg
            n += 1
            inline = _inline_svg(svg, f"c{n}")
            data["text/html"] = f'<div class="smsanalytics-chart" data-chart="{n}">{inline}</div>'
            data.pop("text/plain", None)
    return nb


def notebook_to_html(
    notebook: str | Path, html_path: str | Path, *, title: str | None = None
) -> Path:
    """Convert an executed notebook to a self-contained HTML page with the code hidden.

    Charts (SVG outputs) are inlined; the CDN scripts of nbconvert's template are dropped, so
    the page makes no network request.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_REPORT_TEMPLATE,
        extra_loaders=[DictLoader({_REPORT_TEMPLATE: _TEMPLATE_TEXT})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(_charts_inline(nb))
    out = Path(html_path)
    out.write_text(body, encoding="utf-8")
    return out


def _title(notebook: Path, fallback: str) -> str:
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def _purpose(notebook: Path) -> str:
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for para in cell.source.split("\n\n"):
                if para.strip() and not para.lstrip().startswith("#"):
                    text = re.sub(r"\*\*|`", "", " ".join(para.split()))
                    return re.sub(r"^What this answers:\s*", "", text)
    return ""


def _write_index(folder: Path, pipeline: Pipeline, run_date: dt.date, reports: list[NotebookReport],
                 started: dt.datetime, seconds: float, version: str) -> Path:  # fmt: skip
    rows = []
    for r in reports:
        params = ", ".join(f"{k}={v!r}" for k, v in r.parameters.items()) or "defaults"
        rows.append(
            f'<tr><td><a href="{html.escape(r.html.name)}">{html.escape(r.title)}</a>'
            f'<div class="purpose">{html.escape(_purpose(r.notebook))}</div></td>'
            f"<td><code>{html.escape(params)}</code></td><td>{r.seconds:.0f} s</td>"
            f'<td><a href="{html.escape(r.notebook.name)}">notebook</a></td></tr>'
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(pipeline.name)} — {run_date}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; padding: 0 1.5rem;
       max-width: 70rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .5rem; vertical-align: top; text-align: left; }}
.purpose {{ color: #555; font-size: .9em; margin-top: .25rem; }}
code {{ font-size: .8em; }} .meta {{ color: #666; font-size: .9em; }}
</style></head><body>
<h1>{html.escape(pipeline.name)} — {run_date}</h1>
<p>{html.escape(pipeline.description)}</p>
<table><thead><tr><th>Report</th><th>Parameters</th><th>Run time</th><th>Source</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p class="meta">Generated {started:%Y-%m-%d %H:%M} UTC in {seconds:.0f} s by smsanalytics
{html.escape(version)} from <code>{html.escape(pipeline.source.name)}</code>.
Every page opens offline; no phone number is shown.</p>
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


# -- running ---------------------------------------------------------------------------------------
def _failure(exc: Any, step: NotebookStep, executed: Path) -> str:
    """'cell N (…source…)' of the *source* notebook for a papermill execution error."""
    import nbformat

    cell_no: int | None = None
    source = str(getattr(exc, "source", "") or "")
    try:  # papermill inserts notice cells into the saved notebook: find the cell by its error
        out = nbformat.read(str(executed), as_version=4)
        failed = next(
            c for c in out.cells
            if any(o.get("output_type") == "error" for o in c.get("outputs", []))
        )  # fmt: skip
        original = nbformat.read(str(step.path), as_version=4)
        ids = [c.get("id") for c in original.cells]
        if failed.get("id") in ids:
            cell_no = ids.index(failed.get("id")) + 1
        source = failed.source or source
    except Exception:  # noqa: BLE001 - the executed notebook may be incomplete; fall back
        pass
    excerpt = " ".join(source.strip().splitlines()[:2])[:120]
    where = f"cell {cell_no}" if cell_no is not None else f"cell index {exc.cell_index}"
    return f"{where} (`{excerpt}`): {exc.ename}: {str(exc.evalue).strip()[:300]}"


def run_pipeline(
    pipeline: Pipeline | str | Path,
    *,
    date: dt.date | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    kernel_name: str = "python3",
    regions: Iterable[str] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PipelineRun:
    """Execute a pipeline and publish its reports to ``<output>/<pipeline>/<date>/``.

    Parameters
    ----------
    pipeline
        A :class:`Pipeline` or the path of a pipeline file.
    date
        Run date (default today, UTC); ``{date}`` in parameters becomes it.
    overrides
        Parameters given to every notebook that declares them (e.g. ``{"warehouse": path}``),
        over the file's values.
    kernel_name
        Jupyter kernel (default ``python3``: the Python running this function).
    regions
        Regions whose national phone formats the scan looks for (default :data:`SCAN_REGIONS`
        plus the settings' ``default_region``).
    on_step
        Called with a short description before each notebook (progress).

    Returns
    -------
    PipelineRun

    Raises
    ------
    PipelineError
        When a notebook fails (naming it and the cell), or an output holds a phone number; the
        published reports are then left as they were.
    """
    papermill = _papermill()
    from papermill.exceptions import PapermillExecutionError

    from smsanalytics.reporting import package_version
    from smsanalytics.settings import load_settings, project_root

    spec = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline)
    if date is None:
        run_date = dt.datetime.now(dt.UTC).date()
    elif isinstance(date, dt.date):
        run_date = date
    else:
        try:
            run_date = dt.date.fromisoformat(str(date))
        except ValueError:
            raise PipelineError(f"date {date!r} is not a date; use YYYY-MM-DD") from None
    if regions is None:
        regions = (load_settings().default_region, *SCAN_REGIONS)
    step_cb = on_step or (lambda _m: None)
    home = spec.output / spec.name
    home.mkdir(parents=True, exist_ok=True)
    target = home / run_date.isoformat()
    work = Path(tempfile.mkdtemp(prefix=f".{run_date.isoformat()}.", suffix=".tmp", dir=home))
    work.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a report folder is not
    started = dt.datetime.now(dt.UTC)
    t_run = time.perf_counter()
    reports: list[NotebookReport] = []
    cwd = project_root(spec.source.parent)
    try:
        for i, step in enumerate(spec.steps, start=1):
            params = {k: _substitute(v, run_date) for k, v in step.parameters.items()}
            if overrides:
                declared = _notebook_parameters(step.path)
                params |= {k: v for k, v in overrides.items() if k in declared and v is not None}
            executed = work / f"{step.name}.ipynb"
            step_cb(f"[{i}/{len(spec.steps)}] {step.path.name}")
            t0 = time.perf_counter()
            try:
                papermill.execute_notebook(
                    str(step.path), str(executed), parameters=params, kernel_name=kernel_name,
                    cwd=str(cwd), progress_bar=False, log_output=False,
                    request_save_on_cell_execute=False, execution_timeout=spec.timeout_seconds,
                )  # fmt: skip
            except PapermillExecutionError as exc:
                detail = _failure(exc, step, executed)
                kept = home / "_failed" / run_date.isoformat()
                kept.mkdir(parents=True, exist_ok=True)
                if executed.is_file():
                    shutil.copy2(executed, kept / executed.name)
                raise PipelineError(
                    f"pipeline {spec.name!r}: notebook {step.path.name} failed at {detail}. "
                    f"Nothing was published; the executed notebook is in {kept}"
                ) from None
            seconds = time.perf_counter() - t0
            title = _title(step.path, step.name)
            page = notebook_to_html(executed, work / f"{step.name}.html", title=title)
            reports.append(NotebookReport(step.name, title, executed, page, seconds, params))
        files = [p for r in reports for p in (r.notebook, r.html)]
        findings = scan_report(files, regions=regions)
        if findings:
            listed = "; ".join(
                f"{Path(f.file).name}: {f.masked} in …{f.context}…" for f in findings[:5]
            )
            raise PipelineError(
                f"pipeline {spec.name!r}: {len(findings)} phone number(s) in the outputs "
                f"({listed}); nothing was published. Select analytic columns (contact_id) instead "
                "of contact rows in the notebook."
            )
        version = package_version()
        elapsed = time.perf_counter() - t_run
        _write_index(work, spec, run_date, reports, started, elapsed, version)
        manifest = {
            "pipeline": spec.name,
            "source": str(spec.source),
            "date": run_date.isoformat(),
            "started_at": started.isoformat(),
            "seconds": round(elapsed, 1),
            "smsanalytics": version,
            "notebooks": [
                {"name": r.name, "title": r.title, "source": str(spec.steps[i].path),
                 "parameters": dict(r.parameters), "seconds": round(r.seconds, 1)}
                for i, r in enumerate(reports)
            ],
        }  # fmt: skip
        (work / "run.json").write_text(
            json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8"
        )
        _publish(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    published = [
        dataclasses.replace(r, notebook=target / r.notebook.name, html=target / r.html.name)
        for r in reports
    ]
    return PipelineRun(
        pipeline=spec.name, date=run_date, folder=target, index=target / "index.html",
        notebooks=tuple(published), seconds=time.perf_counter() - t_run,
    )  # fmt: skip


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(work: Path, target: Path) -> None:
    """Move ``work`` to ``target`` by renames in one folder: an earlier ``target`` is moved
    aside first and restored if the second rename fails."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
    try:
        work.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
