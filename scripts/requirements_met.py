#!/usr/bin/env python3
"""Exit 0 when every `name==version` pin of the given requirements files is installed in this
interpreter's environment, else 1 (naming what is missing). Lets `make test-deps` skip pip."""

import sys
from importlib.metadata import PackageNotFoundError, version


def main(paths):
    missing = []
    for path in paths:
        for line in open(path):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, want = line.partition("==")
            try:
                have = version(name.strip())
            except PackageNotFoundError:
                have = None
            if have is None or (want and have != want.strip()):
                missing.append("%s (have %s)" % (line, have or "none"))
    if missing:
        print("missing: " + ", ".join(missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
