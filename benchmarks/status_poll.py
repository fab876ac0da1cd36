"""Bridge status-call cost while jobs hold large pictures: what an editor plug-in pays per poll.

    python benchmarks/status_poll.py [--calls 200] [--width 4000] [--height 3000] [--device auto]

Runs the bridge API in-process (FastAPI app + JobManager with its real worker process, through
Starlette's TestClient) and queues three jobs, each holding a width x height picture: one running
(a long paint job), one queued behind it, one cancelled. Then it times `--calls` status calls for
each of them and `--calls / 10` job-list calls, and prints the median and maximum in ms. The
plug-ins poll every 0.1-0.2 s, so a status call must cost well under that (target: < 10 ms).
The paint jobs ask for `--device` (named in the header).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time

import numpy as np
from fastapi.testclient import TestClient

from brushwork.server.app import create_app
from brushwork.server.jobs import JobManager

from device_clock import add_device_option, describe, device_from

TOKEN = "benchmark-token"
# Minutes of work on a tiny working size: the job stays "running" while the calls are timed.
LONG = {"brush": "tape", "strokes": 400, "working_size": 64, "iterations": 2000}


def picture(width: int, height: int) -> dict:
    rgba = np.random.default_rng(0).integers(0, 256, (height, width, 4), np.uint8)
    rgba[..., 3] = 255
    return {"encoding": "raw", "channels": "RGBA8", "width": width, "height": height,
            "data": base64.b64encode(rgba.tobytes()).decode()}


def timed(call, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        times.append(1e3 * (time.perf_counter() - start))
        assert response.status_code == 200, response.text
    return times


def report(name: str, times: list[float]) -> None:
    print(f"  {name:<28} {len(times):>4} calls  median {statistics.median(times):8.2f} ms  "
          f"max {max(times):8.2f} ms  ({sum(t > 10 for t in times)} over 10 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="status calls per job (list calls: a tenth)")
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    add_device_option(parser)
    args = parser.parse_args()
    print(f"paint jobs on {describe(device_from(args))}")

    manager = JobManager(preview_interval=60.0)
    manager.start()
    asgi, _ = create_app(manager, TOKEN, max_bytes=1 << 30)
    image = picture(args.width, args.height)
    body = {"kind": "paint", "image": image, "params": {**LONG, "device": args.device}}
    try:
        with TestClient(asgi, base_url="http://127.0.0.1:8123",
                        headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            def submit() -> str:
                response = client.post("/v1/jobs", json=body)
                assert response.status_code == 202, response.text
                return response.json()["id"]

            running = submit()
            deadline = time.monotonic() + 300
            while client.get(f"/v1/jobs/{running}").json()["state"] != "running":
                assert time.monotonic() < deadline, "the worker did not start the job within 5 minutes"
                time.sleep(0.1)
            queued = submit()
            cancelled = submit()
            client.post(f"/v1/jobs/{cancelled}/cancel")
            print(f"status calls with three jobs each holding a {args.width}x{args.height} picture "
                  f"({args.width * args.height / 1e6:.1f} MP):")
            for name, job_id in (("running job", running), ("queued job (position 1)", queued),
                                 ("cancelled job", cancelled)):
                report(name, timed(lambda job_id=job_id: client.get(f"/v1/jobs/{job_id}"), args.calls))
            report("job list (3 jobs)", timed(lambda: client.get("/v1/jobs"), max(1, args.calls // 10)))
            for job_id in (queued, running):
                client.post(f"/v1/jobs/{job_id}/cancel")
    finally:
        manager.close()


if __name__ == "__main__":
    main()
