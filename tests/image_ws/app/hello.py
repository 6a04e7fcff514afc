"""The Flask "Hello, World!" app of the project's origin, port from $PORT."""

import os
import sys

from flask import Flask

app = Flask(__name__)

GREETING = "Hello, World!"


@app.route("/")
def hello_world():
    return GREETING


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "5000"))
    if "--print-args" in sys.argv:
        print("args:", sys.argv[1:], flush=True)
    app.run(host="127.0.0.1", port=port)
