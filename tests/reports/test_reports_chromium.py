"""A generated report opened in headless Chromium with the network off: every chart drew marks.

Debian's ``chromium`` (installed by ``.ci/run``) loads a copy of each page with a small script
appended that, once the page has loaded, measures every chart (``.smsanalytics-chart svg``): the
vega mark groups (``g.role-mark``) and how many of their elements have a non-empty bounding box,
and lists every resource the page tried to fetch. ``--dump-dom`` returns the page with the result.
The network is off: all traffic goes to a closed proxy port, and host names resolve to nothing.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # network off: every request goes to a closed port; no name resolves
    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=20000",
)  # fmt: skip
PROBE = """<script>
window.addEventListener('load', function () {
  var divs = Array.prototype.slice.call(document.querySelectorAll('.smsanalytics-chart'));
  var charts = divs.map(function (div) {
    var svg = div.querySelector('svg');
    var marks = svg ? Array.prototype.slice.call(svg.querySelectorAll('g.role-mark > *')) : [];
    var drawn = marks.filter(function (m) {
      var b = m.getBBox();
      return b.width > 0 || b.height > 0;
    });
    var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {chart: div.getAttribute('data-chart'), marks: marks.length, drawn: drawn.length,
            width: box.width, height: box.height};
  });
  var fetched = performance.getEntriesByType('resource').map(function (e) { return e.name; });
  var out = document.createElement('pre');
  out.id = 'smsanalytics-probe';
  out.textContent = JSON.stringify({charts: charts, fetched: fetched});
  document.body.appendChild(out);
});
</script>"""


def probe(chromium: Path, page: Path, workdir: Path) -> dict:
    """Open ``page`` offline in Chromium and return what the probe measured."""
    copy = workdir / page.name
    copy.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    profile = workdir / f"profile-{page.stem}"
    cmd = [str(chromium), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", copy.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    shutil.rmtree(profile, ignore_errors=True)
    found = re.search(r'<pre id="smsanalytics-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, f"chromium did not run the probe (exit {done.returncode}): {done.stderr[-800:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.chromium
def test_report_charts_draw_their_marks_offline(chromium, report_run, tmp_path):
    pages = sorted(report_run.folder.glob("*.html"))
    assert [p.name for p in pages] == ["07_campaign_report.html", "index.html"]
    report = probe(chromium, report_run.folder / "07_campaign_report.html", tmp_path)
    assert len(report["charts"]) >= 7, report
    for chart in report["charts"]:
        assert chart["marks"] > 0 and chart["drawn"] > 0, (
            f"chart {chart['chart']} drew nothing: {chart}"
        )
        assert chart["width"] > 100 and chart["height"] > 50, chart
    assert report["fetched"] == [], f"the report tried to load: {report['fetched']}"
    index = probe(chromium, report_run.folder / "index.html", tmp_path)
    assert index["fetched"] == []
