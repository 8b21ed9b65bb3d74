"""nbdev concatenates a notebook's exported cells into one module, so a helper defined twice (in two sections of one
notebook) silently replaces the first: cells that ran before the second definition pass in the notebook, while the
library calls the second. That happened once (`_contrast_sum` of PC2Seg's chunked loss and of CTT's HC/LC), and made
the chunked PC2Seg loss raise a TypeError from the library only."""
import ast
from pathlib import Path

import torch

PACKAGE = Path(__file__).resolve().parents[1] / 'semiseg_nb'


def test_no_top_level_name_is_defined_twice():
    twice = []
    for path in sorted(PACKAGE.rglob('*.py')):
        seen = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name in seen: twice.append(f'{path.relative_to(PACKAGE.parent)}: {node.name} (lines {seen[node.name]} and {node.lineno})')
                seen[node.name] = node.lineno
    assert not twice, 'defined twice, the later one wins: ' + '; '.join(twice)


def test_chunked_pixel_contrast_from_the_library():
    from semiseg_nb.losses import sampled_pixel_contrastive_loss
    g = torch.Generator().manual_seed(0)
    anchor = torch.nn.functional.normalize(torch.randn(10, 8, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    positive = torch.nn.functional.normalize(torch.randn(10, 8, generator=g, dtype=torch.float64), dim=1)
    candidates = torch.nn.functional.normalize(torch.randn(30, 8, generator=g, dtype=torch.float64), dim=1)
    neg_idx = torch.randint(0, 30, (10, 6), generator=g)
    whole = sampled_pixel_contrastive_loss(anchor, positive, candidates, neg_idx)
    g_whole, = torch.autograd.grad(whole, anchor)
    chunked = sampled_pixel_contrastive_loss(anchor, positive, candidates, neg_idx, chunk_size=3)
    g_chunked, = torch.autograd.grad(chunked, anchor)
    assert torch.allclose(whole, chunked) and torch.allclose(g_whole, g_chunked)
