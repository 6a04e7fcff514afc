"""The test app: prints one line per thing it can reach through its runfiles."""

import os
import sys

import six

from lib.greeting import greet
from python_utils.helpers import shout

here = os.path.dirname(os.path.abspath(__file__))
runfiles = os.path.dirname(os.path.dirname(here))


def read(*parts):
    with open(os.path.join(runfiles, *parts)) as f:
        return f.read().strip()


print(greet("layers"))
print(shout("six ") + six.__version__)
print(read("layers_test", "app", "data", "message.txt"))
print(read("layers_test", "extras", "linked_note.txt"))
print(read("root_note.txt"))
print(read("layers_test", "extras", "extras_tree", "sub", "two.txt"))
print("args:", " ".join(sys.argv[1:]))
