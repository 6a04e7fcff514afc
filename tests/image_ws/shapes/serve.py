"""Answers GET / with JSON: how the script bootstrap started this process."""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import blinker  # on sys.path only through the venv's bazel.pth (site init)

FACTS = {
    "in_venv": sys.prefix != sys.base_prefix,
    "venv": os.path.basename(sys.prefix),
    "safe_path": bool(sys.flags.safe_path),
    "utf8_mode": sys.flags.utf8_mode,
    "runfiles_dir": os.environ.get("RUNFILES_DIR"),
    "argv": sys.argv[1:],
    "blinker": os.path.relpath(blinker.__file__, os.environ.get("RUNFILES_DIR", "/")),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps(FACTS, sort_keys=True).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print("facts:", json.dumps(FACTS, sort_keys=True), flush=True)
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "5000"))), Handler).serve_forever()
