"""A pass-through HTTP proxy in front of `brushwork serve` for the GIMP end-to-end test: it forwards
every request unchanged (token included) and keeps the JSON body of each job submission, so the test
can see exactly which pixels the plug-in sent."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.submissions: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and self.path == "/v1/jobs" and body:
                    proxy.submissions.append(json.loads(body))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                headers["Host"] = f"127.0.0.1:{proxy.upstream}"
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                self.send_response(response.status)
                if response.getheader("Content-Type"):
                    self.send_header("Content-Type", response.getheader("Content-Type"))
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="recording-proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
