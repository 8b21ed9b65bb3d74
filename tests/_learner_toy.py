"""A tiny, BatchNorm-free method and experiment for the Learner's process-level tests
(test_learner_signals.py, test_learner_ddp.py). Run as a script (also under torchrun):

    python tests/_learner_toy.py RUN_DIR STEPS [--resume] [--save-every K] [--sleep S] [--bs B] [--nan-at K] [--until K]

prints one JSON line with the Learner's summary (rank 0 only)."""
import argparse, json, os, sys, time
import torch
import torch.nn.functional as F
from torch import nn
from semiseg_nb.data.loaders import LabeledSet, PairedLoader
from semiseg_nb.data.synthetic import synthetic_splits
from semiseg_nb.learner import Learner, TrainConfig, init_distributed
from semiseg_nb.methods.base import Method

SIZE = 32


class TinyNet(nn.Module):
    def __init__(self, num_classes=7, width=8):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x): return self.head(self.backbone(x))


class Toy(Method):
    def __init__(self, sleep=0.0, nan_at=None):
        super().__init__()
        self.model, self.num_classes, self.sleep, self.nan_at = TinyNet(), 7, sleep, nan_at

    def training_step(self, batch_l, batch_u, step):
        if self.sleep: time.sleep(self.sleep)  # makes the run long enough to be interrupted
        loss_x = F.cross_entropy(self.model(batch_l['img']), batch_l['mask'], ignore_index=255)
        if self.nan_at is not None and step >= self.nan_at: loss_x = loss_x * float('inf')
        return {'loss': loss_x, 'loss_x': loss_x}


def make(run_dir, steps, bs=4, save_every=0, sleep=0.0, nan_at=None, eval_every=0):
    info = init_distributed()
    torch.manual_seed(0)
    sets = synthetic_splits(n_train=64, fraction=1 / 2, n_val=16, n_test=0, size=SIZE)
    # no rescale and crop = scene size: no padding (255) pixels, so every process averages the loss over
    # the same number of pixels and the mean of the per-process means is the global-batch mean
    labeled = LabeledSet(sets['labeled'], SIZE, scale=None)
    loaders = {'train': PairedLoader(labeled, None, bs // info.world_size, 1, rank=info.rank, world_size=info.world_size),
               'val': LabeledSet(sets['val'], SIZE, augment=False)}
    cfg = TrainConfig(steps=steps, optimizer='sgd', lr_backbone=0.05, lr_head=0.05, eval_every=eval_every,
                      save_every=save_every, run_dir=str(run_dir), progress=False, eval_batch_size=4)
    return Learner(Toy(sleep, nan_at), loaders, cfg, class_names=sets['val'].classes)


if __name__ == '__main__':
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument('run_dir'); p.add_argument('steps', type=int)
    p.add_argument('--resume', action='store_true'); p.add_argument('--save-every', type=int, default=0)
    p.add_argument('--eval-every', type=int, default=0)
    p.add_argument('--sleep', type=float, default=0.0); p.add_argument('--bs', type=int, default=4)
    p.add_argument('--nan-at', type=int, default=None); p.add_argument('--until', type=int, default=None)
    p.add_argument('--hang-in-write', action='store_true', help='block inside the first write of last.pt (to be killed there)')
    a = p.parse_args()
    if a.hang_in_write:  # the checkpoint's bytes are in its temp file, not yet fsynced nor renamed: a kill now leaves the temp
        import semiseg_nb.core as core
        real_fsync = core.os.fsync
        def hang(fd):
            if 'last.pt' in os.readlink(f'/proc/self/fd/{fd}'): time.sleep(600)
            real_fsync(fd)
        core.os.fsync = hang
    learn = make(a.run_dir, a.steps, a.bs, a.save_every, a.sleep, a.nan_at, a.eval_every)
    summary = learn.fit(resume=a.resume, until=a.until)
    if learn.dist.is_main: print('SUMMARY ' + json.dumps(summary), flush=True)
    if learn.dist.enabled:
        torch.distributed.destroy_process_group()
        # skip interpreter finalization under torchrun: gloo's worker threads abort the process there now and then
        # ("terminate called without an active exception", SIGABRT after a finished run), as in 12_memory's DDP script
        sys.stdout.flush(); sys.stderr.flush(); os._exit(0)
