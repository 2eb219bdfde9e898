"""The MLflow UI in a real browser (headless Chromium, driven over the DevTools protocol): the experiment
opens on its runs table, the runs of three models on one dataset sort by the one `test.auroc` key,
and the comparison view of one child run per model has no empty metric column. Skipped without
Chromium (Debian: apt-get install chromium).

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

    def click_sort_column(self, metric: str) -> None:
        """Sort by ``metric`` from the Sort menu (which also adds its column to the table)."""
        assert self.click("Array.from(document.querySelectorAll('button')).find(b => b.innerText.startsWith('Sort'))")
        time.sleep(1)
        self.click(f"document.querySelector('[data-testid=\"sort-select-{metric}\"]')")
        time.sleep(2)
        self.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
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

    def screenshot(self, path: Path) -> None:
        """A PNG of the page, quantized to stay small (a docs image under 300 KB)."""
        from PIL import Image

        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(data)
        Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)

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
        # The experiment opens on its runs table, not the GenAI overview: MLflow 3.17 picks the view from
        # the UI's workflow type (the sidebar switch, kept in the browser; GenAI by default), which the
        # link sets; the experiment's tag mlflow.experimentKind is what earlier 3.x releases read.
        parent = client.get_run(logged[0]["run_id"]).info.run_name
        browser.open(f"{server}/#/experiments/{experiment}?workflowType=machine_learning", contains(parent))
        assert "/traces" not in browser.evaluate("location.hash"), browser.evaluate("location.hash")

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
        browser.click_sort_column("test.auroc")  # as a user would: the sorted column also shows in the table
        browser.close_assistant()
        if shots:
            browser.screenshot(Path(shots) / "mlflow_runs_sorted.png")
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
        browser.open(f"{server}/#/compare-runs?{compare}", contains("test.auroc", "test21.auroc"), timeout_s=180)
        browser.close_assistant()
        if shots:
            browser.screenshot(Path(shots) / "mlflow_compare.png")
        text = browser.text()
        lines = [line.strip() for line in text.splitlines()]
        keys = [set(run.data.metrics) for run in best.values()]
        shared, partial = set.intersection(*keys), set.union(*keys) - set.intersection(*keys)
        rows = {}  # metric key -> the cells after it on the page
        for i, line in enumerate(lines):
            if line in shared | partial:
                rows.setdefault(line, lines[i + 1 : i + 1 + len(best)])
        assert "test.auroc" in rows and "test21.auroc" in rows
        for key, cells in rows.items():
            if key in shared:  # a key every compared run has: a number in every column
                assert all(cell != "NaN" and cell != "-" for cell in cells), (key, cells)
        # NaN appears only where a detector has no such metric (epochs: only networks train in epochs).
        nan_rows = {key for key, cells in rows.items() if "NaN" in cells}
        assert nan_rows <= partial, nan_rows
        for run in best.values():
            assert run.info.run_name in text
