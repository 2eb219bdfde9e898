"""The MLflow UI in a real browser (headless Chromium, driven over the DevTools protocol): the bare
experiment link opens on its runs table (after the sidebar's Model training switch, where MLflow 3.17
opens GenAI), the runs of three models on one dataset sort by the one `test.auroc` key with its column
shown, and the comparison view of one child run per model has no empty plot axis and a value in every
column of every shared metric row. Skipped without Chromium (Debian: apt-get install chromium).

The documented check (docs/mlflow.md) runs it on real run outputs and keeps the screenshots:

    IOTAD_MLFLOW_CHECK_RUNS="results/runs/nsl-kdd/mae/seed0 results/runs/nsl-kdd/deep_ae/seed0 \\
        results/runs/nsl-kdd/isolation_forest/seed0" IOTAD_MLFLOW_SCREENSHOTS=docs/img \\
        .venv/bin/pytest -q tests/unit/test_tracking_browser.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from mlflow_server import free_port, mlflow_server

from iotad import tracking

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
EXPERIMENT = "iotad-browser-check"
WIDTH, HEIGHT = 1500, 860


def real_entry(run: Path) -> dict:
    """A tracked-job entry for a run directory results/runs/<dataset>/<model>/seed<k> of a finished run."""
    document = json.loads((run / "metrics.json").read_text())
    dataset, model, seed = run.parts[-3], run.parts[-2], int(run.parts[-1].removeprefix("seed"))
    return {
        "job": f"{dataset}/{model}/seed{seed}",
        "run": str(run),
        "params": {"dataset": dataset, "model": model, "seed": seed, "hyperparameters": document.get("params", {})},
        "tags": {
            "dataset": dataset,
            "model": model,
            "seed": str(seed),
            "base_model": document.get("base_model", model),
            "experiment_kind": "grid",
        },
    }


def synthetic_runs(directory: Path) -> list[Path]:
    """Three models' jobs on nsl-kdd (a latent model's four classifiers among them), as train writes them."""
    runs = []
    for model, detectors, auroc in (
        ("mae", [f"mae:{c}" for c in ("linear_svc", "perceptron", "nearest_centroid", "logistic_regression")], 0.9),
        ("deep_ae", ["deep_ae"], 0.8),
        ("isolation_forest", ["isolation_forest"], 0.85),
    ):
        run = directory / "results/runs/nsl-kdd" / model / "seed0"
        run.mkdir(parents=True)
        entries = {}
        for i, name in enumerate(detectors):
            split = {"auroc": auroc - i / 50, "f1": auroc - 0.2, "auprc": auroc - 0.1, "false_alarm_rate": 0.05}
            entries[name] = {
                "fit_seconds": 3.0,
                "n_params": 100,
                "threshold": 0.5,
                "epochs": 5 if model != "isolation_forest" else None,
                "degenerate": [],
                "splits": {"test": split, "test21": {**split, "auroc": auroc - 0.15}},
            }
        document = {"model": model, "base_model": model, "seed": 0, "params": {}, "detectors": entries}
        (run / "metrics.json").write_text(json.dumps(document))
        curve = {"loss": [1.0, 0.6, 0.4, 0.35, 0.33]} if model != "isolation_forest" else {}
        (run / "history.json").write_text(json.dumps({name: curve for name in detectors}))
        runs.append(run)
    return runs


class Browser:
    """Headless Chromium and one page, over the DevTools protocol (aiohttp's websocket client)."""

    def __init__(self, profile: Path):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as response:
                    pages = [t for t in json.load(response) if t["type"] == "page"]
                if pages:
                    self.ws_url = pages[0]["webSocketDebuggerUrl"]
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not start")
            time.sleep(0.3)
        self.loop = asyncio.new_event_loop()
        self.ids = 0
        self.loop.run_until_complete(self._connect())

    async def _connect(self):
        import aiohttp

        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(self.ws_url, max_msg_size=0)

    async def _send(self, method, params):
        self.ids += 1
        await self.ws.send_json({"id": self.ids, "method": method, "params": params or {}})
        async for message in self.ws:
            data = json.loads(message.data)
            if data.get("id") == self.ids:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
        raise RuntimeError("the browser closed the connection")

    def send(self, method, params=None):
        return self.loop.run_until_complete(self._send(method, params))

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def open(self, url, until, timeout_s=60.0):
        """Load ``url`` and wait until the JavaScript expression ``until`` is true; then let it settle."""
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout_s
        while not self.evaluate(until):
            if time.monotonic() > deadline:
                raise AssertionError(f"{url}: not shown within {timeout_s} s; the page says: {self.text()[:1500]}")
            time.sleep(0.5)
        time.sleep(1.5)

    def click(self, selector_js: str) -> bool:
        """Click the element a JavaScript expression finds; False where there is none."""
        return bool(
            self.evaluate(
                f"(() => {{ const e = {selector_js}; if (e) {{ e.click(); return true; }} return false; }})()"
            )
        )

    def key(self, key: str) -> None:
        """Press and release Enter or Escape, as the keyboard sends them (React sees trusted events)."""
        code = {"Enter": 13, "Escape": 27}[key]
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code})

    def type_into(self, selector_js: str, text: str) -> None:
        """Focus the input a JavaScript expression finds and type ``text`` into it."""
        self.evaluate(f"{selector_js}.focus()")
        self.send("Input.insertText", {"text": text})
        time.sleep(1)

    def show_column(self, key: str) -> None:
        """Columns -> search ``key`` -> tick it: the runs table shows the metric's column."""
        assert self.click("Array.from(document.querySelectorAll('button')).find(b => b.innerText.trim() === 'Columns')")
        time.sleep(1)
        self.type_into("document.querySelector('input[placeholder=\"Search columns\"]')", key)
        assert self.click(
            "Array.from(document.querySelectorAll('[data-testid=column-selector-tree] .du-bois-light-tree-treenode'))"
            f".filter(n => n.innerText.trim() === {json.dumps(key)})"
            ".map(n => n.querySelector('.du-bois-light-tree-checkbox'))[0]"
        ), f"no column {key} to choose"
        time.sleep(1.5)
        self.key("Escape")
        time.sleep(0.5)

    def plot_axes(self, params: list[str], metrics: list[str]) -> None:
        """The compare view's parallel-coordinates plot on these params and metrics (its default: the
        first three params by name, which most detectors lack: axes of 'unknown')."""
        assert self.click(
            "Array.from(document.querySelectorAll('button')).find(b => b.innerText.trim() === 'Clear All')"
        )
        time.sleep(1)
        for index, keys in enumerate((params, metrics)):
            for key in keys:
                self.type_into(
                    f"document.querySelectorAll('input.du-bois-light-select-selection-search-input')[{index}]", key
                )
                self.key("Enter")
                time.sleep(1)
            self.key("Escape")
            time.sleep(0.5)

    def compare_metric_rows(self) -> dict[str, list[str]]:
        """The compare view's Metrics table, {key: the cells of its row, one per run}: two virtualized
        grids (the keys, the values) whose cells align by their top, scrolled through to render all."""
        js = """(() => {
          const grids = Array.from(document.querySelectorAll('.ReactVirtualized__Grid'));
          const keys = grids.find(g => g.querySelector('a[title="Plot chart"]'));
          const values = grids[grids.indexOf(keys) + 1];
          const cells = g => Array.from(g.querySelectorAll('.ReactVirtualized__Grid__innerScrollContainer > div'));
          const rows = {};
          for (const c of cells(keys)) rows[c.style.top] = [c.innerText.trim()];
          for (const c of cells(values)) if (rows[c.style.top]) rows[c.style.top].push(c.innerText.trim());
          const inner = values.querySelector('.ReactVirtualized__Grid__innerScrollContainer');
          return {rows: Object.values(rows), top: values.scrollTop, end: inner.offsetHeight - values.clientHeight};
        })()"""
        rows, step = {}, 0
        while True:
            seen = self.evaluate(js)
            # A row whose value cells are not drawn yet (the two grids render in turn) keeps what it had.
            rows.update({row[0]: row[1:] for row in seen["rows"] if len(row) > 1 or row[0] not in rows})
            if seen["top"] >= seen["end"] or step > 500:
                return rows
            step += 1
            self.evaluate(
                "(() => { const g = Array.from(document.querySelectorAll('.ReactVirtualized__Grid'));"
                " const v = g[g.findIndex(x => x.querySelector('a[title^=Plot]')) + 1];"
                " v.scrollTop += 200; v.dispatchEvent(new Event('scroll')); })()"
            )
            time.sleep(0.5)

    def close_assistant(self) -> None:
        """Fold the MLflow Assistant panel away, where it shows (it covers a third of the page)."""
        self.click(
            "Array.from(document.querySelectorAll('button')).find(b => /close/i.test(b.getAttribute('aria-label') || '')"
            " && b.closest('aside, [class*=ssistant], div') && b.getBoundingClientRect().left > window.innerWidth * 0.6)"
        )
        time.sleep(1)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: Path, height: int = HEIGHT) -> None:
        """A PNG of the page's top ``height`` pixels, quantized to stay small (a docs image under 300 KB)."""
        from PIL import Image

        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(data)
        image = Image.open(path).convert("RGB")
        image.crop((0, 0, image.width, min(height, image.height))).quantize(colors=128).save(path, optimize=True)

    def close(self):
        async def stop():
            await self.ws.close()
            await self.session.close()

        self.loop.run_until_complete(stop())
        self.loop.close()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def browser(tmp_path):
    chromium = Browser(tmp_path / "profile")
    chromium.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    yield chromium
    chromium.close()


def contains(*texts):
    return " && ".join(f"document.body.innerText.includes({json.dumps(t)})" for t in texts)


def test_runs_of_three_models_sort_by_test_auroc_and_compare_side_by_side(tmp_path, browser, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    given = os.environ.get("IOTAD_MLFLOW_CHECK_RUNS")
    runs = [Path(p) for p in given.split()] if given else synthetic_runs(tmp_path)
    workdir = tmp_path / "checkout"
    uri = tracking.tracking_uri(None, workdir)
    experiment = tracking.ensure_experiment(uri, EXPERIMENT, tracking.artifact_root(uri, EXPERIMENT))
    logged = [tracking.log_training_job(uri, experiment, real_entry(run), checkout="c", config="c") for run in runs]
    dataset = real_entry(runs[0])["tags"]["dataset"]
    client = tracking.client_for(uri)
    children = [client.get_run(r) for job in logged for r in job["children"].values()]
    best = {}  # per model, its child with the highest test AUROC
    for run in children:
        model = run.data.tags["model"]
        if model not in best or run.data.metrics["test.auroc"] > best[model].data.metrics["test.auroc"]:
            best[model] = run
    shots = os.environ.get("IOTAD_MLFLOW_SCREENSHOTS")

    with mlflow_server(workdir / "results" / "mlflow") as server:
        # The experiment opens on its runs table, not the GenAI overview. MLflow 3.17 picks the view from
        # the UI's workflow type alone: the link's workflowType, else the sidebar switch (GenAI / Model
        # training) as this browser last left it (localStorage mlflow.workflowType_v1), else GenAI; the
        # experiment's tag mlflow.experimentKind (set, and checked in test_tracking_compare) is what the
        # UI reads where that switch is off. So: a fresh browser, no workflowType in the link, the switch
        # set once, and the bare experiment link opens on the runs table from then on.
        parent = client.get_run(logged[0]["run_id"]).info.run_name
        bare = f"{server}/#/experiments/{experiment}"
        browser.open(bare, "location.hash.includes('workflowType=')")
        if "/runs" not in browser.evaluate("location.hash"):  # MLflow 3.17: the GenAI view, whatever the tag
            assert browser.click(
                "Array.from(document.querySelectorAll('button, [role=radio], label, span'))"
                ".find(e => e.innerText && e.innerText.trim() === 'Model training')"
            ), "no GenAI / Model training switch in the sidebar"
            time.sleep(2)
        browser.open(bare, contains(parent))
        hash_ = browser.evaluate("location.hash")
        assert "/runs" in hash_ and "/traces" not in hash_ and "/overview" not in hash_, hash_

        # Child runs of one dataset, sorted by test.auroc: the order of their names on the page.
        query = urllib.parse.urlencode(
            {
                "searchFilter": f"tags.dataset = '{dataset}' and tags.detector != ''",
                "orderByKey": "metrics.`test.auroc`",
                "orderByAsc": "false",
                "workflowType": "machine_learning",
            }
        )
        ranked = sorted(children, key=lambda r: -r.data.metrics["test.auroc"])
        browser.open(f"{server}/#/experiments/{experiment}/runs?{query}", contains(*[r.info.run_name for r in ranked]))
        browser.close_assistant()
        browser.show_column("test.auroc")  # as a user would: Columns -> Metrics -> test.auroc
        assert browser.evaluate(
            "Array.from(document.querySelectorAll('[role=columnheader]')).some(h => h.innerText.trim() === 'test.auroc')"
        ), "no test.auroc column in the runs table"
        if shots:
            browser.screenshot(Path(shots) / "mlflow_runs_sorted.png", height=480)
        shown = browser.evaluate(
            f"""(() => {{
            const names = {json.dumps([r.info.run_name for r in ranked])};
            const rows = Array.from(document.querySelectorAll('a')).filter(a => names.includes(a.innerText.trim()));
            return rows.map(a => [a.innerText.trim(), a.getBoundingClientRect().top]);
            }})()"""
        )
        on_screen = [name for name, _ in sorted(shown, key=lambda row: row[1])]  # top to bottom
        assert on_screen == [r.info.run_name for r in ranked]
        assert len({r.data.tags["model"] for r in ranked}) == 3

        # Compare one child run per model: every metric row has a value in every column.
        ids = [run.info.run_id for run in best.values()]
        compare = urllib.parse.urlencode(
            {"runs": json.dumps(ids), "experiments": json.dumps([experiment]), "workflowType": "machine_learning"}
        )
        browser.open(
            f"{server}/#/compare-runs?{compare}", contains("test.auroc", *[r.info.run_name for r in best.values()])
        )
        browser.close_assistant()
        # The plot's axes: keys every compared run has (the default, the first params by name, are
        # hyperparameters most detectors lack).
        axes = ["test.auroc", "test21.auroc", "test.auprc", "test.f1", "fit_seconds"]
        assert all(key in run.data.metrics for run in best.values() for key in axes)
        assert all("model" in run.data.params for run in best.values())
        browser.plot_axes(["model"], axes)
        browser.click("document.querySelector('h1, h2')")  # the selects' focus away
        time.sleep(2)
        plotted = browser.evaluate("Array.from(document.querySelectorAll('svg text')).map(t => t.textContent.trim())")
        assert set(axes) | {"model"} <= set(plotted), plotted
        assert "unknown" not in plotted, plotted  # an axis whose key a run lacks
        if shots:
            browser.screenshot(Path(shots) / "mlflow_compare.png")
        keys = [set(run.data.metrics) for run in best.values()]
        shared, partial = set.intersection(*keys), set.union(*keys) - set.intersection(*keys)
        rows = browser.compare_metric_rows()  # metric key -> its cells, one per run
        assert shared <= set(rows), sorted(shared - set(rows))
        for key in shared:  # a key every compared run has: a number in every column
            assert len(rows[key]) == len(best) and all(c not in ("NaN", "-", "") for c in rows[key]), (key, rows[key])
        # NaN appears only where a detector has no such metric (epochs: only networks train in epochs).
        nan_rows = {key for key, cells in rows.items() if "NaN" in cells or "" in cells}
        assert nan_rows <= partial, nan_rows
        text = browser.text()
        for run in best.values():
            assert run.info.run_name in text
