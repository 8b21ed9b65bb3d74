"""Every notebook in nbs/, top to bottom in a fresh kernel, as JupyterLab's *Run > Run All Cells* does it.

One pytest test per notebook. Unlike `nbdev_test`, which skips the cells flagged with settings.ini's
`tst_flags` (notest slow gpu data), this runs **every** cell, the flagged ones included, because a
reader's Run All does too: `#| slow` results cells must read back their runs or show the numbers
saved next to the notebook (`runs.saved_reports`) with their switches (`RETRAIN`, `REMEASURE`) at the
committed defaults, `#| gpu` cells must print one line on a machine without CUDA
(`core.guard_gpu_cells`), `#| data` cells must pass without the datasets. `IN_TEST=1` is set, so
notebooks choose their tiny settings. A failing cell fails the test with its traceback."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'


def notebooks() -> list[Path]:
    "Notebooks nbdev_test would run: skip names starting with '_' or '.'."
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def test_there_are_notebooks():
    assert len(notebooks()) >= 3, f'no notebooks found in {NBS}'


@pytest.mark.parametrize('nb', notebooks(), ids=lambda p: p.stem)
def test_notebook_run_all(nb: Path, monkeypatch):
    monkeypatch.setenv('IN_TEST', '1')                 # the kernel inherits it: tiny settings
    notebook = nbformat.read(nb, as_version=4)         # executed in memory; the file is not rewritten
    client = NotebookClient(notebook, timeout=1800, kernel_name='python3', resources={'metadata': {'path': str(NBS)}})
    try: client.execute()
    except CellExecutionError as e:
        pytest.fail(f'{nb.name}: Run All stopped at a cell:\n{str(e)[-4000:]}', pytrace=False)
    errors = [c for c in notebook.cells if c.cell_type == 'code' and any(o.get('output_type') == 'error' for o in c.outputs)]
    assert not errors, f'{nb.name}: {len(errors)} cell(s) ended in an error'
