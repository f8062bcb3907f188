"""Builds the `etvk` Python package: `make build` (cargo build --release + cmake), then
build/libetvk_executorch.so is copied into the package.

The plugin's C++ side is compiled against an executorch 1.5.1 package, found in order:
$ETVK_EXECUTORCH_ROOT (its site-packages/executorch), the executorch importable by the
building interpreter (pip install --no-build-isolation), the repository's .venv (`make deps`).
"""

import glob
import importlib.util
import os
import re
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

REPO = os.path.dirname(os.path.abspath(__file__))
PLUGIN = "libetvk_executorch.so"


def cargo_version():
    text = open(os.path.join(REPO, "Cargo.toml")).read()
    return re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)


def executorch_root():
    def ok(path):
        return path and os.path.exists(os.path.join(path, "lib", "libexecutorch.so"))

    candidates = [os.environ.get("ETVK_EXECUTORCH_ROOT")]
    spec = importlib.util.find_spec("executorch")
    if spec and spec.submodule_search_locations:
        candidates.append(list(spec.submodule_search_locations)[0])
    candidates += sorted(glob.glob(os.path.join(REPO, ".venv", "lib", "python3*", "site-packages", "executorch")))
    for c in candidates:
        if ok(c):
            return os.path.abspath(c)
    raise SystemExit(
        "etvk: no executorch 1.5.1 package to compile against: set ETVK_EXECUTORCH_ROOT="
        "<site-packages>/executorch, or pip install --no-build-isolation from a venv that has "
        "it, or run `make deps` in the repository first")


class BuildWithPlugin(build_py):
    def run(self):
        subprocess.check_call(["make", "--no-print-directory", "build", f"ET_ROOT={executorch_root()}"], cwd=REPO)
        super().run()
        dest = os.path.join(self.build_lib, "etvk")
        os.makedirs(dest, exist_ok=True)
        shutil.copy2(os.path.join(REPO, "build", PLUGIN), os.path.join(dest, PLUGIN))


class BinaryDistribution(Distribution):
    """The wheel carries a native library: platform-specific."""

    def has_ext_modules(self):
        return True


os.makedirs(os.path.join(REPO, "target"), exist_ok=True)

setup(
    version=cargo_version(),
    packages=["etvk"],
    package_dir={"": "python"},
    cmdclass={"build_py": BuildWithPlugin},
    distclass=BinaryDistribution,
    # Out of build/, which is cmake's.
    options={"build": {"build_base": os.path.join("target", "python-build")}, "egg_info": {"egg_base": "target"}},
)
