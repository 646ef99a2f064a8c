"""The HTML report in a real browser: headless Chromium at 900 and 1400 px.

A copy of a bundled spec's ``index.html`` gets a script that measures the laid-out page
(every ``<details>`` opened first, so hidden tables are measured too) and writes what it found
into the DOM, which Chromium's ``--dump-dom`` prints:

* no element reaches past the viewport's right edge (or the document scrolls sideways) unless
  it sits inside a scroll container (``overflow-x: auto``), whose own box must fit;
* every image has loaded (``complete`` and ``naturalWidth > 0``);
* every coefficient name is laid out on one line (no break inside a term).

The tests skip, with the reason, only where no Chromium binary exists (``.ci/run`` installs
Debian's ``chromium`` when it is missing).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from glmspec.report import write_report
from glmspec.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((found for name in BROWSERS if (found := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason=f"no Chromium binary on PATH (looked for {', '.join(BROWSERS)})"
)

MEASURE = """
<script>
(function () {
  function measure() {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
    var width = document.documentElement.clientWidth;
    function scroller(el) {
      for (var p = el.parentElement; p; p = p.parentElement) {
        var o = getComputedStyle(p).overflowX;
        if (o === "auto" || o === "scroll" || o === "hidden") return p;
      }
      return null;
    }
    function name(el) {
      return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string" ? "." + el.className : "") +
        " " + (el.textContent || "").trim().slice(0, 40);
    }
    var overflow = [];
    document.body.querySelectorAll("*").forEach(function (el) {
      if (el.id === "measure") return;
      var r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      if (scroller(el)) return;
      if (r.right > width + 0.5 || r.left < -0.5) overflow.push(name(el) + " right=" + r.right);
    });
    var scrollers = document.querySelectorAll(".scroll").length;
    var images = Array.prototype.map.call(document.images, function (img) {
      return {alt: img.alt, ok: img.complete && img.naturalWidth > 0, width: img.naturalWidth};
    });
    var wrapped = [];
    document.querySelectorAll("td.term code").forEach(function (code) {
      if (code.getClientRects().length !== 1) wrapped.push(code.textContent);
    });
    var out = document.createElement("pre");
    out.id = "measure";
    out.textContent = JSON.stringify({
      viewport: width,
      documentWidth: document.documentElement.scrollWidth,
      overflow: overflow,
      scrollers: scrollers,
      images: images,
      wrappedTerms: wrapped,
      terms: document.querySelectorAll("td.term code").length
    });
    document.body.appendChild(out);
  }
  if (document.readyState === "complete") measure();
  else window.addEventListener("load", measure);
})();
</script>
"""


@pytest.fixture(scope="module")
def star98_page(tmp_path_factory):
    """The STAR 1998 report (binomial counts, 13-term model, long names): HTML with plots."""
    spec = load_spec(ROOT / "datasets" / "star98.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = spec.fit()
    folder = write_report(spec, fitted, out_dir=tmp_path_factory.mktemp("browser"))
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "<script" not in page  # the report itself has no scripts; only our copy does
    measured = folder / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    return measured


def _measure(page: Path, width: int, tmp_path: Path) -> dict:
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},2000",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    found = re.search(r'<pre id="measure">(.*?)</pre>', done.stdout, flags=re.S)
    assert found, (
        f"no measurement in Chromium's output (exit {done.returncode}): {done.stderr[-800:]}"
    )
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("width", [900, 1400])
def test_report_fits_the_window_and_shows_every_plot(star98_page, width, tmp_path):
    result = _measure(star98_page, width, tmp_path)
    assert abs(result["viewport"] - width) <= 20  # the window size took effect (minus scrollbar)
    assert result["overflow"] == []
    assert result["documentWidth"] <= result["viewport"]
    assert result["scrollers"] >= 6  # comparison, regression, and per-model tables are wrapped
    assert len(result["images"]) == 8  # 4 plots for each of the 2 models
    assert all(img["ok"] for img in result["images"]), result["images"]
    assert result["terms"] == 5 + 13 and result["wrappedTerms"] == []


def test_measurement_sees_an_overflow(star98_page, tmp_path):
    """The probe is not blind: a table without its scroll container overflows at 900 px."""
    broken = star98_page.with_name("broken.html")
    page = star98_page.read_text(encoding="utf-8")
    broken.write_text(page.replace(".scroll { max-width: 100%; overflow-x: auto;", ".scroll {"))
    result = _measure(broken, 900, tmp_path)
    assert result["overflow"], "removing the scroll containers should make tables overflow"
