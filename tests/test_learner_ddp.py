"""DDP on CPU with gloo: two processes launched by `torchrun --standalone --nproc_per_node 2` train the toy
method with a global batch of 4 (2 per process). Documented semantics: batch sizes in `TrainConfig` are
global; each process keeps every 2nd item of the same seeded permutation, so together the processes see
exactly the single-process batch; DDP averages the gradients, which equals the global-batch gradient when
every process averages its loss over the same number of pixels (no 255 pixels in this setup). So the
result must match one process with batch 4 up to float summation order: weights to 1e-5, mIoU to 1e-3."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch
from semiseg_nb.learner import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'tests' / '_learner_toy.py'
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): ENV.pop(k, None)
STEPS = 8


def summary(out: str) -> dict:
    lines = [l for l in out.splitlines() if l.startswith('SUMMARY ')]
    assert len(lines) == 1, out  # rank 0 only
    return json.loads(lines[0][len('SUMMARY '):])


@pytest.mark.skipif(shutil.which('torchrun') is None, reason='torchrun not installed')
def test_ddp_two_processes_match_single_process(tmp_path):
    single = subprocess.run([sys.executable, str(TOY), str(tmp_path / 'single'), str(STEPS), '--eval-every', '4'],
                            env=ENV, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(['torchrun', '--standalone', '--nproc_per_node', '2', str(TOY), str(tmp_path / 'ddp'),
                          str(STEPS), '--eval-every', '4'], env=ENV, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[:6000]
    s1, s2 = summary(single.stdout), summary(ddp.stdout)
    assert (s2['status'], s2['step']) == ('done', STEPS)
    assert abs(s1['miou'] - s2['miou']) < 1e-3, (s1['miou'], s2['miou'])
    w1 = load_checkpoint(tmp_path / 'single' / 'last.pt')
    w2 = load_checkpoint(tmp_path / 'ddp' / 'last.pt')
    assert w2['world_size'] == 2 and len(w2['rng']) == 2  # every rank's RNG is in the checkpoint
    for k in w1['method']:
        torch.testing.assert_close(w2['method'][k], w1['method'][k], atol=1e-5, rtol=1e-5)
    # rank 0 alone writes the log: one line per step and per evaluation
    log = [json.loads(l) for l in (tmp_path / 'ddp' / 'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log if r['kind'] == 'train'] == list(range(1, STEPS + 1))
    assert [r['step'] for r in log if r['kind'] == 'eval'] == [4, 8]
    # the logged loss is the mean over processes = the single-process loss
    l1 = [json.loads(l)['loss'] for l in (tmp_path / 'single' / 'log.jsonl').read_text().splitlines() if '"train"' in l]
    l2 = [r['loss'] for r in log if r['kind'] == 'train']
    assert max(abs(a - b) for a, b in zip(l1, l2)) < 1e-5


def torchrun(run_dir, steps, *extra, check=True):
    r = subprocess.run(['torchrun', '--standalone', '--nproc_per_node', '2', str(TOY), str(run_dir), str(steps),
                        *map(str, extra)], env=ENV, capture_output=True, text=True, timeout=300)
    if check: assert r.returncode == 0, r.stderr[:6000]
    return r


@pytest.mark.skipif(shutil.which('torchrun') is None, reason='torchrun not installed')
def test_ddp_resume_is_exact(tmp_path):
    "A DDP run paused half-way and resumed under DDP ends bit-for-bit where an uninterrupted DDP run ends."
    torchrun(tmp_path / 'straight', STEPS)
    s = summary(torchrun(tmp_path / 'resumed', STEPS, '--until', STEPS // 2).stdout)
    assert (s['status'], s['step']) == ('paused', STEPS // 2)
    s = summary(torchrun(tmp_path / 'resumed', STEPS, '--resume').stdout)
    assert (s['status'], s['step']) == ('done', STEPS)
    a = load_checkpoint(tmp_path / 'straight' / 'last.pt')['method']
    b = load_checkpoint(tmp_path / 'resumed' / 'last.pt')['method']
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.skipif(shutil.which('torchrun') is None, reason='torchrun not installed')
def test_ddp_sigterm_checkpoints_and_resumes(tmp_path):
    "SIGTERM to torchrun reaches both workers; they agree on the step, write last.pt once, and the run resumes."
    import signal, time
    steps = 40
    proc = subprocess.Popen(['torchrun', '--standalone', '--nproc_per_node', '2', str(TOY), str(tmp_path), str(steps),
                             '--sleep', '0.1'], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log, deadline = tmp_path / 'log.jsonl', time.time() + 120
    while not (log.exists() and len(log.read_text().splitlines()) >= 2):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    ck = load_checkpoint(tmp_path / 'last.pt')
    assert 2 <= ck['step'] < steps, (ck['step'], err[-3000:])
    assert json.loads(log.read_text().splitlines()[-1])['kind'] == 'interrupted', err[-3000:]
    s = summary(torchrun(tmp_path, steps, '--resume').stdout)
    assert (s['status'], s['step']) == ('done', steps)


@pytest.mark.skipif(shutil.which('torchrun') is None or shutil.which('semiseg') is None, reason='torchrun/semiseg not installed')
def test_semiseg_train_under_torchrun(tmp_path):
    "The README's multi-process command: `torchrun ... $(which semiseg) train` trains the CPU demo's pipeline with 2 ranks."
    r = subprocess.run(['torchrun', '--standalone', '--nproc_per_node', '2', shutil.which('semiseg'), 'train',
                        '--steps', '2', '--device', 'cpu', '--run-dir', str(tmp_path / 'run'), 'train.eval_every=2',
                        'train.batch_size_l=4', 'train.batch_size_u=4', 'data.n_train=32', 'data.n_val=8',
                        'train.progress=false', 'model.weights=none'],   # random init: the test is about DDP, not the pretraining
                       env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[:6000]
    assert 'val mIoU' in r.stdout, r.stdout
    report = json.loads((tmp_path / 'run' / 'report.json').read_text())
    assert report['status'] == 'done' and report['step'] == 2 and 0 <= report['miou'] <= 1
    assert load_checkpoint(tmp_path / 'run' / 'last.pt')['world_size'] == 2
