import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cli():
    """The command line tool (built by `cargo build`/`cargo test`), or skip."""
    for p in (os.environ.get("CHAINRULE_BIN"), ROOT / "target/release/chainrule",
              ROOT / "target/debug/chainrule", shutil.which("chainrule")):
        if p and Path(p).is_file():
            return str(p)
    pytest.skip("the chainrule binary is not built (cargo build -p chainrule-cli)")


def run(cli, *args):
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=600)
