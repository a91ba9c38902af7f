"""Runs a notebook and checks it: no cell may raise, and every cell's printed output must be the
output stored in the notebook (drawings are checked to be there, not byte for byte).

    python examples/check_notebook.py examples/chain_rule_for_ml.ipynb [--update]

``--update`` stores the outputs of this run instead (after a deliberate change).
"""

import sys

import nbformat
from nbclient import NotebookClient


def texts(cell):
    """The printed text of a cell: its streams and the text of its results."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            data = o.get("data", {})
            if "image/svg+xml" in data:
                out.append("<svg drawing>")
            elif "text/plain" in data:
                out.append(data["text/plain"])
        elif o.get("output_type") == "error":
            out.append(f"error: {o.get('ename')}: {o.get('evalue')}")
    return "".join(out)


def main():
    path = sys.argv[1]
    update = "--update" in sys.argv
    stored = nbformat.read(path, as_version=4)
    run = nbformat.read(path, as_version=4)
    NotebookClient(run, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
    if update:
        nbformat.write(run, path)
        print(f"stored the outputs of {path}")
        return 0
    failures = 0
    for i, (a, b) in enumerate(zip(stored.cells, run.cells)):
        if a.cell_type != "code":
            continue
        want, got = texts(a), texts(b)
        if want != got:
            failures += 1
            print(f"cell {i}: the output differs\n--- stored\n{want}\n--- this run\n{got}")
    cells = sum(1 for c in run.cells if c.cell_type == "code")
    print(f"{cells - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
