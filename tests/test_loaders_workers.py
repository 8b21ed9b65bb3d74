"""PairedLoader with worker processes started by 'spawn' (macOS and Windows default) and 'forkserver'
(Linux default from Python 3.14). The notebook checks workers with 'fork' only, where nothing has to
pickle; here the datasets, view transforms and collate function travel to fresh interpreters, and the
batches must still equal the main-process ones bit for bit (each item is seeded on its own)."""
import pytest
import torch
from torchvision import tv_tensors

from semiseg_nb.data.loaders import VIEWS, LabeledSet, PairedLoader, UnlabeledSet


class Squares(torch.utils.data.Dataset):
    "A contract-following dataset at module level, so that spawned workers can import it."
    name, classes, palette = 'squares', ['background', 'square'], [(30, 30, 30), (220, 220, 220)]

    def __init__(self, n):
        self.ids = [f'{i:02d}' for i in range(n)]

    @property
    def num_classes(self):
        return len(self.classes)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        img = torch.full((3, 40, 48), 20 + 10 * i, dtype=torch.uint8)
        mask = torch.zeros(40, 48, dtype=torch.int64)
        img[:, 8 + i:24 + i, 8:30] = 200
        mask[8 + i:24 + i, 8:30] = 1
        return tv_tensors.Image(img), tv_tensors.Mask(mask)


def one_epoch(spec, workers, ctx=None):
    pl = PairedLoader(LabeledSet(Squares(4), 32), UnlabeledSet(Squares(8), spec, 32), 2, 2,
                      num_workers=workers, seed=3, multiprocessing_context=ctx)
    try:
        return list(pl)
    finally:
        pl.close()


def tensors(pair):
    out = []
    for batch in pair:
        for key in sorted(batch):
            out += batch[key] if isinstance(batch[key], list) else [batch[key]]
    return out


@pytest.mark.parametrize('ctx, spec', [('spawn', 'unimatch'), ('forkserver', 'cac')])
def test_workers_match_main_process(ctx, spec):
    ref, got = one_epoch(VIEWS[spec], 0), one_epoch(VIEWS[spec], 2, ctx)
    assert len(ref) == len(got) == 4
    for pair_ref, pair_got in zip(ref, got):
        a, b = tensors(pair_ref), tensors(pair_got)
        assert len(a) == len(b)
        assert all(torch.equal(x, y) for x, y in zip(a, b))
