"""Soak test of the bridge: one `brushwork serve`, two clients, mixed traffic, for a fixed time.

    python benchmarks/soak.py [--minutes 30] [--clients 2] [--kill-every 45] [--seed 0] [--device auto]

Starts a server of its own (state file and log in a temporary folder, so an editor's server is left
alone; 127.0.0.1 only, as every brushwork server) through `brushwork.client.Bridge`, then runs
`--clients` client threads, each with its own Bridge, doing at random: small paint jobs (every
brush kind) and stylize jobs (adain, wct) fetched as raw pixels and SVG, jobs cancelled while queued or
running, bursts of submissions past the queue's limit (429s, then cancelled), and jobs abandoned
without fetching their result. A third thread SIGKILLs the server's worker process every
`--kill-every` seconds (on average), as a crash or the out-of-memory killer would.

Everything is bounded: each client has one job in flight (a burst: at most 20 submissions), every
job has a deadline, and the run stops after `--minutes` (plus the time the last jobs take, at most
`--job-timeout`). At the end it prints requests served, jobs completed, failures by kind (expected
ones, from bursts and kills, apart), peak memory of the server and of its worker, and the slowest
status call; the exit status is 1 when there was any unexpected failure.

Stylize jobs need the cd16x weights: $BRUSHWORK_WEIGHTS, else ../shared/weights next to the
repository when it is there, else the user cache (downloads are off during the soak).
Every job asks for `--device` (auto: CUDA, else MPS, else CPU, as the server's worker finds them).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from brushwork.client import Bridge, BridgeError, encode_image
from brushwork.strokes import BRUSHES  # the registry's kinds (torch-free)

from device_clock import add_device_option

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"
KILLED = "the worker process died"  # how a job killed with its worker fails (server/jobs.py)


class Stats:
    """Counters shared by the threads (under one lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = Counter()  # answered | unanswered
        self.jobs = Counter()  # submitted, completed:<kind>, cancelled, abandoned
        self.failures = Counter()  # kind -> count
        self.expected = Counter()  # kind -> count (bursts' 429s, jobs killed with the worker)
        self.status_ms: list[float] = []
        self.kills: list[float] = []  # monotonic times of worker kills
        self.peak = {"server": 0, "worker": 0, "together": 0}

    def add(self, counter: str, key: str, n: int = 1) -> None:
        with self.lock:
            getattr(self, counter)[key] += n


class CountingBridge(Bridge):
    """A Bridge that counts its requests and times its status calls."""

    def __init__(self, stats: Stats, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stats = stats

    def request(self, method: str, path: str, *args, **kwargs):
        start = time.perf_counter()
        try:
            result = super().request(method, path, *args, **kwargs)
        except BridgeError as exc:
            # an HTTP error answer still is a request served; a connection failure is not
            served = "brushwork server: " in str(exc)
            self.stats.add("requests", "answered" if served else "unanswered")
            raise
        self.stats.add("requests", "answered")
        if method == "GET" and path.count("/") == 2:  # /jobs/{id}: a status call
            with self.stats.lock:
                self.stats.status_ms.append(1e3 * (time.perf_counter() - start))
        return result


def picture(rng: np.random.Generator, width: int, height: int) -> dict:
    # Smooth colour fields with a little noise: something a painter can follow, cheap to make.
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    channels = [np.sin(x * rng.uniform(2, 8) + y * rng.uniform(2, 8) + rng.uniform(0, 6)) for _ in range(3)]
    rgb = (np.stack(channels, -1) * 100 + 128 + rng.normal(0, 8, (height, width, 3))).clip(0, 255)
    rgba = np.concatenate([rgb, np.full((height, width, 1), 255.0)], -1).astype(np.uint8)
    return encode_image(rgba.tobytes(), width, height, "RGBA8")


def failure_kind(message: str) -> str:
    if "queue is full" in message or "MB of pictures" in message:
        return "429 queue full"
    if "did not answer within" in message:
        return "request timed out"
    if "has stopped" in message or "not running" in message or "died again" in message:
        return "server gone"
    return message.removeprefix("brushwork server: ")[:70]


class Client(threading.Thread):
    def __init__(self, number: int, stats: Stats, args, stop: threading.Event) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.stats, self.args, self.stop = stats, args, stop
        self.rng = np.random.default_rng(args.seed + number)
        self.random = random.Random(args.seed + number)
        self.bridge = CountingBridge(stats, start=False, timeout=30.0)

    def run(self) -> None:
        actions = [self.paint, self.stylize, self.cancel, self.burst, self.abandon]
        weights = [45, 25, 17, 5, 8] if self.args.stylize else [60, 0, 25, 5, 10]
        while not self.stop.is_set():
            action = self.random.choices(actions, weights)[0]
            try:
                action()
            except BridgeError as exc:
                self.stats.add("failures", failure_kind(str(exc)))
                time.sleep(0.5)  # a server that is gone must not be hammered
            except Exception as exc:  # a soak reports, it does not stop
                self.stats.add("failures", f"client error: {type(exc).__name__}: {exc}"[:70])

    # -- actions ---------------------------------------------------------------------------------

    def paint_params(self, work: int = 4) -> dict:
        return {"brush": self.random.choice(list(BRUSHES)), "strokes": self.random.randint(6, 20), "working_size": 64,
                "iterations": work, "refine_iterations": 0, "seed": self.random.randint(0, 1000),
                "device": self.args.device}

    def submit(self, kind: str, image: dict, params: dict, *, retry: bool = True) -> str:
        """Submit; a full queue (the other client's burst) is waited out as a plug-in user would."""
        deadline = time.monotonic() + self.args.job_timeout
        while True:
            try:
                status = self.bridge.submit(kind, image, params)
                break
            except BridgeError as exc:
                if not retry or failure_kind(str(exc)) != "429 queue full" or time.monotonic() > deadline:
                    raise
                self.stats.add("expected", "429 queue full, submitted again 5 s later")
                time.sleep(5.0)  # the server's Retry-After
        self.stats.add("jobs", "submitted")
        return status.id

    def wait(self, job_id: str) -> tuple[str, str | None]:
        deadline = time.monotonic() + self.args.job_timeout
        while time.monotonic() < deadline:
            status = self.bridge.status(job_id)
            if status.finished:
                return status.state, status.error
            time.sleep(self.random.uniform(0.1, 0.2))  # as the plug-ins poll
        self.bridge.cancel(job_id)
        return "timeout", None

    def finish(self, kind: str, job_id: str, width: int, height: int) -> None:
        state, error = self.wait(job_id)
        if state == "done":
            pixels = self.bridge.result_raw(job_id, self.random.choice(("RGBA8", "BGRA8")))
            if len(pixels) != width * height * 4:
                self.stats.add("failures", f"{kind}: result of {len(pixels)} bytes for {width}x{height}")
                return
            if kind == "paint" and not self.bridge.result_svg(job_id).lstrip().startswith("<"):
                self.stats.add("failures", "paint: result.svg is not SVG")
                return
            self.stats.add("jobs", f"completed:{kind}")
        elif state == "failed" and error and KILLED in error:
            self.stats.add("expected", "job failed: killed with its worker")
        elif state == "timeout":
            self.stats.add("failures", f"{kind}: not finished within {self.args.job_timeout:g} s")
        else:
            self.stats.add("failures", f"{kind} {state}: {error}"[:70])

    def paint(self) -> None:
        width, height = self.random.randint(32, 96), self.random.randint(32, 96)
        self.finish("paint", self.submit("paint", picture(self.rng, width, height), self.paint_params()),
                    width, height)

    def stylize(self) -> None:
        width, height = self.random.randint(32, 96), self.random.randint(32, 96)
        params = {"style": picture(self.rng, 64, 64), "method": self.random.choice(("adain", "wct")),
                  "alpha": round(self.random.uniform(0.3, 1.0), 2), "device": self.args.device}
        self.finish("stylize", self.submit("stylize", picture(self.rng, width, height), params), width, height)

    def cancel(self) -> None:
        job_id = self.submit("paint", picture(self.rng, 64, 64), self.paint_params(work=200))
        time.sleep(self.random.uniform(0.0, 2.0))  # queued, loading, or painting
        state = self.bridge.cancel(job_id).state
        if state not in ("cancelled", "done", "failed"):
            self.stats.add("failures", f"cancel: the job is still {state}")
        else:
            self.stats.add("jobs", "cancelled" if state == "cancelled" else "finished before its cancel")

    def burst(self) -> None:
        """More submissions than the queue takes at once: the surplus must be 429s, nothing else."""
        accepted = []
        for _ in range(20):
            try:
                accepted.append(self.submit("paint", picture(self.rng, 32, 32), self.paint_params(), retry=False))
            except BridgeError as exc:
                kind = failure_kind(str(exc))
                self.stats.add("expected" if kind == "429 queue full" else "failures",
                               f"burst: {kind}" if kind == "429 queue full" else kind)
        for job_id in accepted:
            self.bridge.cancel(job_id)
        self.stats.add("jobs", "cancelled", len(accepted))

    def abandon(self) -> None:
        """A job whose result nobody fetches (an editor closed mid-job): the server keeps it a while."""
        self.submit("paint", picture(self.rng, 48, 48), self.paint_params())
        self.stats.add("jobs", "abandoned")


def rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def worker_pid(server_pid: int) -> int | None:
    """The server's job worker: its child started by multiprocessing's spawn (not its resource tracker)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == server_pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def monitor(server_pid: int, stats: Stats, stop: threading.Event) -> None:
    while not stop.is_set():
        worker = worker_pid(server_pid)
        server, work = rss(server_pid), rss(worker) if worker else 0
        with stats.lock:
            stats.peak["server"] = max(stats.peak["server"], server)
            stats.peak["worker"] = max(stats.peak["worker"], work)
            stats.peak["together"] = max(stats.peak["together"], server + work)
        stop.wait(0.25)


def killer(server_pid: int, stats: Stats, every: float, seed: int, stop: threading.Event) -> None:
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(0.5, 1.5) * every):
        pid = worker_pid(server_pid)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        with stats.lock:
            stats.kills.append(time.monotonic())


def report(stats: Stats, minutes: float, clients: int, alive: bool) -> int:
    mb = lambda n: f"{n / (1 << 20):,.0f} MB"  # noqa: E731
    jobs = stats.jobs
    completed = sum(n for key, n in jobs.items() if key.startswith("completed:"))
    print(f"\nsoak: {clients} clients, {minutes:g} min of traffic, {len(stats.kills)} worker kills")
    print(f"requests served: {stats.requests['answered']:,} (unanswered: {stats.requests['unanswered']})")
    print(f"jobs: {jobs['submitted']:,} submitted, {completed:,} completed ("
          + ", ".join(f"{key.split(':')[1]} {n}" for key, n in sorted(jobs.items()) if key.startswith("completed:"))
          + f"), {jobs['cancelled']} cancelled, {jobs['finished before its cancel']} finished before their "
            f"cancel, {jobs['abandoned']} abandoned")
    print("expected failures by kind:" + ("" if stats.expected else " none"))
    for kind, n in stats.expected.most_common():
        print(f"  {n:6,}  {kind}")
    print("unexpected failures by kind:" + ("" if stats.failures else " none"))
    for kind, n in stats.failures.most_common():
        print(f"  {n:6,}  {kind}")
    print(f"peak memory: server {mb(stats.peak['server'])}, worker {mb(stats.peak['worker'])}, "
          f"together {mb(stats.peak['together'])} (RSS sampled every 0.25 s)")
    times = stats.status_ms
    if times:
        print(f"status calls: {len(times):,}, median {statistics.median(times):.1f} ms, "
              f"99th percentile {np.percentile(times, 99):.1f} ms, slowest {max(times):.1f} ms")
    print(f"server still answering at the end: {'yes' if alive else 'NO'}")
    return 0 if not stats.failures and alive else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the traffic runs (default 30)")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=45.0,
                        help="mean seconds between SIGKILLs of the worker (0: never)")
    parser.add_argument("--job-timeout", type=float, default=180.0, help="seconds a job may take")
    parser.add_argument("--no-stylize", dest="stylize", action="store_false",
                        help="leave out stylize jobs (no cd16x weights here)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_option(parser)
    args = parser.parse_args()
    if not 0 < args.minutes <= 24 * 60 or not 1 <= args.clients <= 16 or args.kill_every < 0:
        parser.error("--minutes must be in (0, 1440], --clients in 1..16, --kill-every at least 0")

    folder = tempfile.TemporaryDirectory(prefix="brushwork-soak-")
    # A server of our own: its state file and log in our folder, not the user's.
    os.environ["BRUSHWORK_STATE_DIR"] = os.environ["BRUSHWORK_LOG_DIR"] = folder.name
    os.environ["BRUSHWORK_OFFLINE"] = "1"
    if "BRUSHWORK_WEIGHTS" not in os.environ and SHARED_WEIGHTS.is_dir():
        os.environ["BRUSHWORK_WEIGHTS"] = str(SHARED_WEIGHTS)
    stats = Stats()
    owner = Bridge(sys.executable, idle_timeout=int(args.minutes * 60 + 600), start_timeout=120)
    owner.connect()
    server_pid = owner.pid
    print(f"server pid {server_pid} on 127.0.0.1:{owner.port}; log {owner.log_path}; jobs on --device {args.device}",
          flush=True)

    stop, done = threading.Event(), threading.Event()
    watchers = [threading.Thread(target=monitor, args=(server_pid, stats, done), daemon=True)]
    if args.kill_every:
        watchers.append(threading.Thread(target=killer, args=(server_pid, stats, args.kill_every, args.seed, stop),
                                         daemon=True))
    clients = [Client(n, stats, args, stop) for n in range(args.clients)]
    for thread in watchers + clients:
        thread.start()
    end = time.monotonic() + args.minutes * 60
    try:
        while time.monotonic() < end:
            time.sleep(min(10.0, max(0.0, end - time.monotonic())))
            with stats.lock:
                print(f"  {(args.minutes * 60 - (end - time.monotonic())) / 60:5.1f} min: "
                      f"{stats.requests['answered']:,} requests, {stats.jobs['submitted']:,} jobs, "
                      f"{sum(stats.failures.values())} unexpected failures", flush=True)
    except KeyboardInterrupt:
        print("interrupted: stopping the clients", flush=True)
    stop.set()
    for client in clients:  # each finishes the job it is on (bounded by --job-timeout)
        client.join(args.job_timeout + 60)
    try:
        owner.request("GET", "/health")
        alive = True
    except BridgeError:
        alive = False
    done.set()
    code = report(stats, args.minutes, args.clients, alive)
    owner.stop()
    if code:  # the log goes with the temporary folder: show its end
        lines = Path(owner.log_path).read_text(errors="replace").splitlines()
        print("server log, last lines:\n  " + "\n  ".join(lines[-25:]))
    folder.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
