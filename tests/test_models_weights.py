"""Pretrained-weight paths of `semiseg_nb.models` that a notebook cannot check on every machine:
the *real* offline detection (no `SEMISEG_OFFLINE` shortcut), a DNS lookup that hangs, and a download
that fails halfway. None of them touches the network for longer than the 2 s connection test."""
import socket, time, urllib.error

import pytest
import torch
import torchvision.models._api as tv_api

from semiseg_nb import models
from semiseg_nb.models import ModelConfig, WeightsError, build_model, can_reach, imagenet_state_dict


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    "An empty torch hub cache, so that nothing is found locally; restored afterwards."
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    monkeypatch.delenv('SEMISEG_OFFLINE', raising=False)
    yield tmp_path
    torch.hub.set_dir(old)


def test_offline_machine_fails_fast_with_hint(empty_hub):
    if can_reach():
        pytest.skip('download.pytorch.org is reachable here: this test is for offline machines')
    t0 = time.perf_counter()
    with pytest.raises(WeightsError) as e:
        build_model(ModelConfig(backbone='resnet18', weights='imagenet'), 3)
    assert time.perf_counter() - t0 < 15  # 2 s connection test + building a ResNet-18, on a shared CPU
    msg = str(e.value)
    assert 'download.pytorch.org cannot be reached (offline?)' in msg
    assert 'Run without them with weights=None' in msg
    assert "pass weights='/path/to/resnet18-f37072fd.pth'" in msg


def test_hanging_dns_does_not_block(monkeypatch):
    def hang(*args, **kwargs):  # a resolver that never answers (socket timeouts do not cover DNS)
        time.sleep(30)
    monkeypatch.setattr(socket, 'create_connection', hang)
    t0 = time.perf_counter()
    assert can_reach('example.invalid', timeout=0.5) is False
    assert time.perf_counter() - t0 < 5  # join(timeout + 0.5) returns after ~1 s, not 30


def test_download_failing_midway(empty_hub, monkeypatch):
    monkeypatch.setattr(models, 'can_reach', lambda *a, **k: True)
    def broken(url, *args, **kwargs): raise urllib.error.URLError('connection reset by peer')
    monkeypatch.setattr(tv_api, 'load_state_dict_from_url', broken)
    with pytest.raises(WeightsError, match='the download failed .*connection reset by peer.*weights=None'):
        imagenet_state_dict('resnet50')


def test_presets_offline_say_how_to_run_without(empty_hub, monkeypatch):
    monkeypatch.setenv('SEMISEG_OFFLINE', '1')
    for name, cfg in models.MODEL_PRESETS.items():
        assert cfg.weights == 'imagenet', name
    with pytest.raises(WeightsError, match='SEMISEG_OFFLINE is set.*weights=None'):
        build_model(models.MODEL_PRESETS['uccl'], 21)
