"""A small Hub-compatible HTTP server for tests: just the endpoints `huggingface_hub` 2.4 calls for
`HfApi.create_repo` and `HfApi.upload_folder`.

    POST /api/repos/create                               -> {"url": ...}          (409 when the repo exists)
    POST /api/validate-yaml                              -> {"errors": [], "warnings": []}
    POST /api/{type}s/{namespace}/{name}/preupload/{rev} -> every file "regular"
    POST /api/{type}s/{namespace}/{name}/commit/{rev}    -> ndjson body, files inline as base64
    GET  /api/agent-harnesses                            -> an empty registry (the client's telemetry, not recorded)

Answering "regular" to preupload keeps every file inline in the commit body, so the server sees the exact
bytes without implementing the Xet/LFS storage protocols (the real Hub answers "lfs" for weights, which
`huggingface_hub` then uploads through `hf_xet`; that path is not exercised here).

Why not a mock: the client runs for real (its HTTP layer, retries, payload encoding); only the far end is small.
"""

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO_API = re.compile(
    r"^/api/(?P<type>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)/(?P<verb>preupload|commit)/(?P<rev>[^/?]+)"
)


@dataclass
class FakeHub:
    """What the server received. `fail_commits=True` answers every commit with HTTP 500."""

    token: str
    repos: dict = field(default_factory=dict)  # (repo_type, repo_id) -> {"private": bool, "sdk": str | None}
    files: dict = field(default_factory=dict)  # (repo_type, repo_id) -> {path: bytes} committed
    commits: list = field(default_factory=list)  # commit headers ({"summary", "description"}) accepted
    commit_attempts: int = 0
    requests: list = field(default_factory=list)  # (method, path) in arrival order
    unexpected: list = field(default_factory=list)  # requests no route answered
    fail_commits: bool = False
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub  # set on the per-server subclass

    def log_message(self, *args):  # quiet: pytest shows failures, not access logs
        pass

    def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path == "/api/agent-harnesses":
            # huggingface_hub's best-effort user-agent telemetry registry; not part of the upload.
            return self._reply(200, {"standardEnvVars": [], "harnesses": {}})
        self.hub.requests.append(("GET", self.path))
        self.hub.unexpected.append(("GET", self.path))
        self._reply(404, {"error": f"fake hub: no route for GET {self.path}"})

    def do_POST(self):
        hub = self.hub
        body = self._body()
        with hub.lock:
            hub.requests.append(("POST", self.path))
        if self.headers.get("Authorization") != f"Bearer {hub.token}":
            return self._reply(401, {"error": "Invalid credentials in Authorization header"})

        if self.path == "/api/repos/create":
            payload = json.loads(body)
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            with hub.lock:
                if (repo_type, repo_id) in hub.repos:
                    url = self._repo_url(repo_type, repo_id)
                    return self._reply(409, {"error": "You already created this repo", "url": url})
                private = payload.get("visibility") == "private"
                hub.repos[(repo_type, repo_id)] = {"private": private, "sdk": payload.get("sdk")}
                hub.files[(repo_type, repo_id)] = {}
            return self._reply(200, {"url": self._repo_url(repo_type, repo_id), "name": repo_id})

        if self.path == "/api/validate-yaml":
            return self._reply(200, {"errors": [], "warnings": []})

        match = REPO_API.match(self.path)
        if not match:
            hub.unexpected.append(("POST", self.path))
            return self._reply(404, {"error": f"fake hub: no route for POST {self.path}"})
        repo_type, repo_id = match["type"][:-1], match["repo"]
        if (repo_type, repo_id) not in hub.repos:
            return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

        if match["verb"] == "preupload":
            files = json.loads(body)["files"]
            answer = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files]
            return self._reply(200, {"files": answer, "commitOid": "0" * 40})

        # commit: one JSON object per line; a header, then one line per file
        with hub.lock:
            hub.commit_attempts += 1
        if hub.fail_commits:
            # Retry-After: 0 keeps huggingface_hub's 5 retries at ~1 s each instead of its 1+2+4+8+8 s backoff.
            return self._reply(500, {"error": "fake hub: commit failed on purpose"}, {"Retry-After": "0"})
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        received = {}
        for line in lines:
            if line["key"] == "file":
                assert line["value"]["encoding"] == "base64"
                received[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            elif line["key"] != "header":
                return self._reply(400, {"error": f"fake hub: unsupported commit operation {line['key']!r}"})
        with hub.lock:
            hub.files[(repo_type, repo_id)].update(received)
            hub.commits.append(header)
            oid = hashlib.sha1(json.dumps(sorted(received)).encode() + str(len(hub.commits)).encode()).hexdigest()
        return self._reply(200, {"commitUrl": f"{self._repo_url(repo_type, repo_id)}/commit/{oid}", "commitOid": oid})

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return f"{self.hub.url}/{prefix}{repo_id}"


def serve(token: str) -> tuple[FakeHub, ThreadingHTTPServer]:
    """Starts a fake Hub on 127.0.0.1 (a free port) in a daemon thread; call `server.shutdown()` when done."""
    hub = FakeHub(token=token)
    handler = type("Handler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hub, server
