"""Run every notebook in nbs/ as a test, through nbdev's own machinery (`nbdev.test.test_nb`).

One pytest test per notebook. Cells flagged with any of settings.ini's `tst_flags` (notest slow gpu
data) are skipped, like `nbdev_test` does; `SEMISEG_FLAGS="slow gpu"` forces those flags to run.
Under test `IN_TEST=1` is set, so notebooks choose their tiny settings."""
import configparser, os
from pathlib import Path

import pytest
import nbdev.test as nbdev_test  # the module, not `test_nb` itself, or pytest would collect it

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'


def notebooks() -> list[Path]:
    "Notebooks nbdev_test would run: skip names starting with '_' or '.'."
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def skip_and_force_flags() -> tuple[list[str], list[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'settings.ini')
    skip = cfg['DEFAULT'].get('tst_flags', '').split()
    force = os.environ.get('SEMISEG_FLAGS', '').replace(',', ' ').split()
    return skip, force


def test_there_are_notebooks():
    assert len(notebooks()) >= 3, f'no notebooks found in {NBS}'


@pytest.mark.parametrize('nb', notebooks(), ids=lambda p: p.stem)
def test_notebook(nb: Path):
    skip, force = skip_and_force_flags()
    ok, seconds = nbdev_test.test_nb(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f'{nb.name} failed after {seconds:.1f}s; its traceback is in the captured stderr above'
