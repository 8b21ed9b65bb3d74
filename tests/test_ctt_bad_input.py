"""Bad input to CTT's pieces (`memory.ClassQueues`, `memory.select_for_queues`, `memory.queue_push_count`,
`losses.hc_loss`, `losses.lc_loss`) ends in a ValueError that names the offending value, before any computation.

Runs through the exported modules; tiny tensors, these tests are about messages."""
import pytest
import torch
import torch.nn.functional as F

from semiseg_nb.losses import hc_loss, lc_loss
from semiseg_nb.memory import ClassQueues, queue_push_count, select_for_queues

N, C, K, D = 6, 3, 4, 5


@pytest.fixture
def toy():
    g = torch.Generator().manual_seed(0)
    fa, fb = (F.normalize(torch.randn(N, D, generator=g), dim=1) for _ in range(2))
    classes = torch.tensor([0, 1, 2, 255, 0, 1])
    conf_a, conf_b = torch.rand(N, generator=g), torch.rand(N, generator=g)
    qa, qb = (F.normalize(torch.randn(C, K, D, generator=g), dim=2) for _ in range(2))
    return fa, fb, classes, conf_a, conf_b, qa, qb


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_classes=0, dim=4), 'num_classes must be an int >= 1, got 0'),
    (dict(num_classes=3, dim=0), 'dim must be an int >= 1, got 0'),
    (dict(num_classes=3, dim=4, size=0), 'size must be an int >= 1, got 0'),
    (dict(num_classes=3, dim=4, size=2.5), 'size must be an int >= 1, got 2.5'),
])
def test_class_queues_construction(kwargs, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')): ClassQueues(**kwargs)


@pytest.mark.parametrize('feats, classes, message', [
    (torch.randn(2, 5), torch.tensor([0, 1]), 'feats must be K×4, got shape (2, 5)'),
    (torch.randn(4), torch.tensor([0]), 'feats must be K×4, got shape (4,)'),
    (torch.randn(2, 4), torch.tensor([0]), 'classes must have shape (2,), got (1,)'),
    (torch.randn(2, 4), torch.tensor([0.0, 1.0]), 'classes must be an integer tensor, got torch.float32'),
    (torch.randn(2, 4), torch.tensor([0, 3]), 'classes must lie in [0, 3), got 3'),
    (torch.randn(2, 4), torch.tensor([-2, 0]), 'classes must lie in [0, 3), got -2'),
])
def test_class_queues_push(feats, classes, message):
    q = ClassQueues(3, 4, size=2)
    with pytest.raises(ValueError) as e: q.push(feats, classes)
    assert message in str(e.value)
    assert int(q.counts.sum()) == 0                       # nothing was written


def test_select_and_push_count():
    feats, conf, pred, labels = torch.randn(4, 2), torch.rand(4), torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 255, 2])
    for kwargs, message in [(dict(k=0), 'k must be an int >= 1, got 0'), (dict(pick='top'), "pick must be 'confident' or 'random', got 'top'"),
                            (dict(num_classes=2), 'labels must lie in [0, 2) or be 255, got 2')]:
        args = dict(feats=feats, conf=conf, pred=pred, labels=labels, k=1, num_classes=3) | kwargs
        with pytest.raises(ValueError) as e: select_for_queues(**args)
        assert message in str(e.value)
    with pytest.raises(ValueError, match=r'conf must have shape \(4,\), got \(3,\)'): select_for_queues(feats, conf[:3], pred, labels, 1, 3)
    with pytest.raises(ValueError, match='size=0'): queue_push_count(100, 0)
    with pytest.raises(ValueError, match='num_labeled=-1'): queue_push_count(-1, 8)
    assert queue_push_count(5, 8) == 1 and queue_push_count(372, 128) == 2


@pytest.mark.parametrize('change, message', [
    (dict(feats=torch.randn(N, D, 1)), 'feats must be N×D and queues C×K×D'),
    (dict(queues=torch.randn(C, 0, D)), 'queues must be C×K×5 with K >= 1, got shape (3, 0, 5)'),
    (dict(feats=torch.randn(N, D).long()), 'feats must be floating point, got torch.int64'),
    (dict(classes=torch.zeros(N)), 'classes must be an integer tensor, got torch.float32'),
    (dict(classes=torch.tensor([0, 1, 2, 3, 0, 1])), 'classes must lie in [0, 3) or be 255, got 3'),
    (dict(conf=torch.rand(N + 1)), 'conf must have shape (6,), got (7,)'),
    (dict(tau=0.0), 'tau must be > 0, got 0.0'),
    (dict(tau=-1), 'tau must be > 0, got -1'),
    (dict(phi=-0.1), 'phi must lie in [0, 1], got -0.1'),
    (dict(block=0), 'block must be None or a positive int, got 0'),
])
def test_hc_loss(toy, change, message):
    fa, _, classes, conf_a, _, qa, _ = toy
    args = dict(feats=fa, classes=classes, conf=conf_a, queues=qa) | change
    with pytest.raises(ValueError) as e: hc_loss(**args)
    assert message in str(e.value)


@pytest.mark.parametrize('change, message', [
    (dict(feats_b=torch.randn(N - 1, D)), 'feats_a and feats_b must both be N×D, got (6, 5) and (5, 5)'),
    (dict(queues=[]), 'queues must hold at least one C×K×D bank'),
    (dict(queues='second bank wrong'), 'queues[1] must be 3×K×5 with K >= 1, got shape (2, 4, 5)'),
    (dict(conf_a=torch.rand(N).double().long()), 'conf_a must be floating point'),
    (dict(conf_b=torch.rand(2)), 'conf_b must have shape (6,), got (2,)'),
    (dict(classes=torch.tensor([0, 1, 2, 255, 0])), 'classes must have shape (6,), got (5,)'),
    (dict(phi=2), 'phi must lie in [0, 1], got 2'),
])
def test_lc_loss(toy, change, message):
    fa, fb, classes, conf_a, conf_b, qa, qb = toy
    if change.get('queues') == 'second bank wrong': change = dict(queues=[qa, qb[:2]])
    args = dict(feats_a=fa, feats_b=fb, classes=classes, conf_a=conf_a, conf_b=conf_b, queues=[qa, qb]) | change
    with pytest.raises(ValueError) as e: lc_loss(**args)
    assert message in str(e.value)
