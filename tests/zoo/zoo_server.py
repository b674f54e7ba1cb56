"""A file server on 127.0.0.1 for the model-zoo tests (never the real hosts).

Routes map a URL path to bytes and a behaviour: ``ok``; ``drop_once`` (the first GET
announces the full length, sends half and closes); ``404``. ``hits`` counts GETs per path.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from restora.zoo import ZooModel


class ZooServer:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hits[self.path] += 1
                data, behaviour = server.routes.get(self.path, (b"", "404"))
                if behaviour == "404":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if behaviour == "drop_once" and server.hits[self.path] == 1:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path: str, data: bytes, behaviour: str = "ok") -> str:
        self.routes[path] = (data, behaviour)
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def entry_for(name: str, urls: list[str], data: bytes, **changes: object) -> ZooModel:
    """A zoo entry pinned to ``data`` (sha256 and size), served at ``urls``."""
    base = ZooModel(name=name, task="denoise", scale=1, channels=3, arch="dncnn", description="test",
                    urls=tuple(urls), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                    hash_source="test", licence="MIT")
    return replace(base, **changes)
