"""Cancels the server's job when the GIMP plug-in that runs it stops before the job is over.

GIMP's Cancel (the progress bar's button, or closing its progress dialog) does not tell a plug-in:
GIMP's core (app/plug-in/gimpplugin-progress.c, gimp_plug_in_progress_cancel_callback) calls
gimp_plug_in_close(plug_in, TRUE), which writes GP_QUIT on the wire (read only if the plug-in happens
to be inside a PDB call), waits 10 ms and kills the process with SIGKILL (its process group if it
made one). No handler, `finally` or atexit runs, so the plug-in cannot cancel anything itself.

This helper runs beside it, as its own process in its own session, with the read end of a pipe as
stdin. The plug-in writes a line {"port", "token", "job"} for every job it submits and "done" once it
no longer needs the guard. When the pipe closes without "done" (the plug-in was killed, crashed or
quit mid-job) the helper asks the server to cancel the job: POST /v1/jobs/<job>/cancel, which stops
a running job at once. Standard library only (it runs under GIMP's python3); not a GIMP plug-in
itself (GIMP registers only brushwork.py in this folder).
"""

from __future__ import annotations

import http.client
import json
import sys
import time


def cancel(job: dict) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", int(job["port"]), timeout=10)
    try:
        conn.request("POST", f"/v1/jobs/{job['job']}/cancel", headers={
            "Authorization": f"Bearer {job['token']}", "Host": f"127.0.0.1:{job['port']}"})
        response = conn.getresponse()
        response.read()
        return f"HTTP {response.status}"
    finally:
        conn.close()


def main() -> int:
    job = None
    for line in sys.stdin:
        line = line.strip()
        if line == "done":
            return 0
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and {"port", "token", "job"} <= doc.keys():
            job = doc
    if job is None:
        return 0
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        answer = cancel(job)
    except (OSError, http.client.HTTPException) as exc:
        answer = f"no answer ({exc})"
    print(f"{stamp} brushwork GIMP plug-in stopped during job {job['job']} (GIMP's Cancel, or it crashed): "
          f"asked the server to cancel it: {answer}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
