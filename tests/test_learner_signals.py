"""The Learner across process boundaries: SIGTERM / SIGINT write a checkpoint and the run resumes
from it; a hard kill (SIGKILL) loses at most `save_every` steps; in both cases the resumed run ends
with **exactly** the weights of an uninterrupted run (CPU, deterministic ops, tolerance 0)."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch
from semiseg_nb.learner import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'tests' / '_learner_toy.py'
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
STEPS = 40


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOY), *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=300, **kw)


def summary(out: str) -> dict:
    line = [l for l in out.splitlines() if l.startswith('SUMMARY ')]
    assert line, out
    return json.loads(line[-1][len('SUMMARY '):])


def weights(run_dir) -> dict:
    return load_checkpoint(Path(run_dir) / 'last.pt')['method']


def train_lines(run_dir) -> list[dict]:
    p = Path(run_dir) / 'log.jsonl'
    return [json.loads(l) for l in p.read_text().splitlines()] if p.exists() else []


def start_and_wait(run_dir, min_step: int, *extra) -> subprocess.Popen:
    "Start a slow run; return once its log shows `min_step` finished steps."
    proc = subprocess.Popen([sys.executable, str(TOY), str(run_dir), str(STEPS), '--sleep', '0.1', *map(str, extra)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if len([r for r in train_lines(run_dir) if r['kind'] == 'train']) >= min_step: return proc
        if proc.poll() is not None: raise AssertionError(proc.communicate())
        time.sleep(0.05)
    proc.kill(); raise AssertionError('the run did not start in time')


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    d = tmp_path_factory.mktemp('straight')
    r = run(d, STEPS)
    assert r.returncode == 0, r.stderr
    assert summary(r.stdout)['status'] == 'done'
    return weights(d)


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diff, f'weights differ from the uninterrupted run: {diff}'


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_signal_checkpoints_and_resumes(tmp_path, straight, sig):
    proc = start_and_wait(tmp_path, 2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    s = summary(out)
    assert s['status'] == 'interrupted' and 2 <= s['step'] < STEPS, s
    ck = load_checkpoint(tmp_path / 'last.pt')
    assert ck['step'] == s['step']
    assert train_lines(tmp_path)[-1] == {'kind': 'interrupted', 'step': s['step'], 'signal': sig.name}
    r = run(tmp_path, STEPS, '--resume')
    assert r.returncode == 0, r.stderr
    s2 = summary(r.stdout)
    assert (s2['status'], s2['step']) == ('done', STEPS)
    assert_same(weights(tmp_path), straight)
    steps = [r['step'] for r in train_lines(tmp_path) if r['kind'] == 'train']
    assert steps == list(range(1, STEPS + 1))  # the log has every step once


def test_sigkill_resumes_from_last_checkpoint(tmp_path, straight):
    proc = start_and_wait(tmp_path, 7, '--save-every', '5')
    proc.kill()  # no handler runs: only what save_every wrote survives
    proc.communicate()
    ck = load_checkpoint(tmp_path / 'last.pt')
    assert ck['step'] % 5 == 0 and ck['step'] >= 5
    assert not list(tmp_path.glob('*.tmp'))
    r = run(tmp_path, STEPS, '--resume')
    assert r.returncode == 0, r.stderr
    assert summary(r.stdout)['step'] == STEPS
    assert_same(weights(tmp_path), straight)


def test_kill_during_first_checkpoint_write(tmp_path, straight):
    "Killed while last.pt is first written: a temp file and no checkpoint. Resume removes the temp file and starts over."
    proc = start_and_wait(tmp_path, 5, '--save-every', '5', '--hang-in-write')
    deadline = time.time() + 60
    while not list(tmp_path.glob('last.pt*.tmp')) and time.time() < deadline: time.sleep(0.05)
    proc.kill(); proc.communicate()
    assert list(tmp_path.glob('last.pt*.tmp')) and not (tmp_path / 'last.pt').exists()
    r = run(tmp_path, STEPS, '--resume')
    assert r.returncode == 0, r.stderr
    assert 'starting from step 0' in r.stdout and 'removed 1 unfinished temporary file' in r.stdout, r.stdout
    assert summary(r.stdout)['step'] == STEPS
    assert not list(tmp_path.glob('*.tmp'))
    assert_same(weights(tmp_path), straight)


def test_torn_log_line_is_dropped_on_resume(tmp_path, straight):
    proc = start_and_wait(tmp_path, 7, '--save-every', '5')
    proc.kill(); proc.communicate()
    with open(tmp_path / 'log.jsonl', 'a') as f: f.write('{"kind": "train", "st')   # the line being written when killed
    r = run(tmp_path, STEPS, '--resume')
    assert r.returncode == 0, r.stderr
    assert 'dropped a torn last line' in r.stderr, r.stderr[-2000:]
    assert [x['step'] for x in train_lines(tmp_path) if x['kind'] == 'train'] == list(range(1, STEPS + 1))
    assert_same(weights(tmp_path), straight)


def test_nonfinite_stops_with_message(tmp_path):
    r = run(tmp_path, STEPS, '--nan-at', '3')
    assert r.returncode != 0
    assert "NonFiniteLossError: loss term 'loss_x' is inf at step 4" in r.stderr, r.stderr[-2000:]
    assert str(tmp_path / 'last.pt') in r.stderr
    assert load_checkpoint(tmp_path / 'last.pt')['step'] == 3


def test_resume_errors_name_the_file(tmp_path):
    r = run(tmp_path, STEPS, '--resume')
    assert r.returncode != 0 and f"checkpoint {tmp_path / 'last.pt'} does not exist" in r.stderr
    (tmp_path / 'last.pt').write_bytes(b'not a checkpoint')
    r = run(tmp_path, STEPS, '--resume')
    assert f"checkpoint {tmp_path / 'last.pt'} is unreadable" in r.stderr
    assert (tmp_path / 'last.pt').read_bytes() == b'not a checkpoint'
