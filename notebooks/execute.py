"""Execute notebooks headless; fail on the first cell error.

    python execute.py OUT_DIR NOTEBOOK...

Each notebook runs with its own directory as the working directory (as in Jupyter);
the executed copy, with outputs, is written to OUT_DIR, never over the source.
The notebooks read FAULTLINE_OUTPUT / FAULTLINE_BIN from the environment.
"""

import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNEL = os.environ.get("FAULTLINE_KERNEL", "python3")


def main(out_dir, notebooks):
    os.makedirs(out_dir, exist_ok=True)
    failed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=600,
            kernel_name=KERNEL,
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
        )
        start = time.monotonic()
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as err:
            status = "FAILED"
            failed.append(path)
            # The message holds the cell's source and the traceback.
            print(f"\n{path}: a cell failed\n{err}\n", file=sys.stderr)
        finally:
            executed = os.path.join(out_dir, os.path.basename(path))
            nbformat.write(nb, executed)
        print(f"{status:>6}  {path}  {time.monotonic() - start:5.1f} s  -> {executed}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
