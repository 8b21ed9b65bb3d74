"""Bad input to the dataset readers ends in a clear `DatasetError`, never a crash deep inside a DataLoader worker.

Runs through the exported module `semiseg_nb.data.datasets` on fixture trees that `write_fixture` (from
`semiseg_nb.data.fixtures`) writes into `tmp_path` in each dataset's exact on-disk layout, then breaks in one way per
test. Whole-dataset problems (root, layout, split) must fail at construction; per-file problems at `ds[i]`, naming
the file — also through a DataLoader with 2 worker processes (fork, and spawn as on macOS/Windows)."""
import os, shutil

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from semiseg_nb.data.datasets import (BDD100K, VOC, CamVid, Cityscapes, DatasetError, ImageFolderSeg, make_split,
                                      read_split_file)
from semiseg_nb.data.fixtures import write_fixture

SIZE = (16, 24)  # H, W of the fixture images: tiny, these tests are about messages
KINDS = ['voc', 'cityscapes', 'bdd100k', 'camvid', 'imagefolder']
READERS = {'voc': VOC, 'cityscapes': Cityscapes, 'bdd100k': BDD100K, 'camvid': CamVid, 'imagefolder': ImageFolderSeg}
SPLITS = {'voc': ('train', 'val', 'trainval', 'train_aug'), 'cityscapes': ('train', 'val', 'test'),
          'bdd100k': ('train', 'val'), 'camvid': ('train', 'val', 'test')}
EXPECTED_SUBFOLDERS = {  # what the layout error must list for split 'train'
    'voc': ['JPEGImages/', 'SegmentationClass/', 'ImageSets/Segmentation/'],
    'cityscapes': ['leftImg8bit/train/', 'gtFine/train/'],
    'bdd100k': ['images/10k/train/', 'labels/sem_seg/masks/train/'],
    'camvid': ['train/', 'trainannot/'],
    'imagefolder': ['images/', 'masks/'],
}
NOT_A_LABEL = {'voc': 21, 'cityscapes': 34, 'bdd100k': 19, 'camvid': 12, 'imagefolder': 3}


def open_ds(kind, root, split='train'):
    return ImageFolderSeg(root) if kind == 'imagefolder' else READERS[kind](root, split)


def fixture(kind, tmp_path, name='data', n=2):
    root = tmp_path / name
    expected = write_fixture(kind, root, n=n, size=SIZE, seed=1)
    return root, expected


def rewrite_mask(path, fn):
    "Apply `fn` to the mask's stored values and save it back in the same mode (palette kept for VOC's P PNGs)."
    im = Image.open(path)
    out = Image.fromarray(fn(np.array(im)).astype(np.uint8))
    if im.mode == 'P': out.putpalette(im.getpalette())
    out.save(path)


def message(excinfo) -> str:
    return str(excinfo.value)


# --- the fixtures themselves read back clean and pixel-exact (so every failure below is the breakage) ---------------

@pytest.mark.parametrize('kind', KINDS)
def test_fixture_reads_back_exactly(kind, tmp_path):
    root, expected = fixture(kind, tmp_path)
    for split, masks in expected.items():
        ds = open_ds(kind, root, split)
        assert sorted(ds.ids) == sorted(masks)
        for i, id_ in enumerate(ds.ids):
            np.testing.assert_array_equal(ds[i][1].numpy(), masks[id_])
        assert ds.verify() == []


# --- whole-dataset problems: at construction ------------------------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
def test_missing_root(kind, tmp_path):
    with pytest.raises(DatasetError) as e: open_ds(kind, tmp_path / 'no_such_dir')
    assert f"root {tmp_path / 'no_such_dir'} does not exist" in message(e)


@pytest.mark.parametrize('kind', KINDS)
def test_root_is_a_file(kind, tmp_path):
    (tmp_path / 'a_file').write_text('x')
    with pytest.raises(DatasetError, match='is not a directory'): open_ds(kind, tmp_path / 'a_file')


@pytest.mark.parametrize('kind', KINDS)
def test_wrong_layout_lists_expected_subfolders(kind, tmp_path):
    other = 'camvid' if kind != 'camvid' else 'voc'
    root, _ = fixture(other, tmp_path)  # another dataset's tree
    with pytest.raises(DatasetError) as e: open_ds(kind, root)
    msg = message(e)
    assert 'does not have the' in msg and 'layout: missing' in msg and 'Expected under root:' in msg
    for sub in EXPECTED_SUBFOLDERS[kind]: assert sub in msg, (sub, msg)
    assert 'Found: [' in msg  # and what was there instead


def test_wrong_layout_of_an_empty_dir_says_nothing_found(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DatasetError, match='Found: nothing'): VOC(tmp_path / 'empty')


def test_root_one_level_too_high_points_at_the_tree(tmp_path):
    write_fixture('voc', tmp_path / 'VOCdevkit' / 'VOC2012', n=1, size=SIZE)
    with pytest.raises(DatasetError) as e: VOC(tmp_path, 'train')
    assert f"seems to be at {tmp_path / 'VOCdevkit' / 'VOC2012'}: pass that as root" in message(e)


@pytest.mark.parametrize('kind', ['voc', 'cityscapes', 'bdd100k', 'camvid'])
def test_unknown_split_lists_valid_ones(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    with pytest.raises(DatasetError) as e: open_ds(kind, root, 'trian')
    assert "unknown" in message(e) and "'trian'" in message(e)
    assert f"valid splits: {', '.join(SPLITS[kind])}" in message(e)


def test_split_with_missing_folder_is_a_layout_error(tmp_path):
    root, _ = fixture('cityscapes', tmp_path)
    shutil.rmtree(root / 'gtFine' / 'val')
    with pytest.raises(DatasetError, match='missing gtFine/val/'): Cityscapes(root, 'val')
    assert len(Cityscapes(root, 'train')) == 2  # other splits unaffected


def empty_split(kind, root):
    "Make split 'train' (or the image folder) of the tree at `root` empty, the way it happens on disk."
    if kind == 'voc': (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('\n  \n')
    folders = {'cityscapes': root / 'leftImg8bit' / 'train', 'bdd100k': root / 'images' / '10k' / 'train',
               'camvid': root / 'train', 'imagefolder': root / 'images'}
    if kind in folders:
        for p in folders[kind].rglob('*'):
            if p.is_file(): p.unlink()


@pytest.mark.parametrize('kind', KINDS)
def test_empty_split(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    empty_split(kind, root)
    with pytest.raises(DatasetError) as e: open_ds(kind, root)
    assert 'empty' in message(e)
    if kind == 'voc': assert 'train.txt lists no ids' in message(e)
    elif kind != 'imagefolder': assert "split 'train'" in message(e)


def test_empty_derived_train_aug(tmp_path):
    root, expected = fixture('voc', tmp_path)
    for p in (root / 'SegmentationClassAug').iterdir():
        if p.stem not in expected['val']: p.unlink()  # only val masks left -> nothing to train on
    with pytest.raises(DatasetError, match="'train_aug' .* is empty"): VOC(root, 'train_aug')


def test_listed_id_without_files_is_named(tmp_path):
    root, _ = fixture('voc', tmp_path)
    (root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('2007_000000\n2012_424242\n')
    with pytest.raises(DatasetError) as e: VOC(root, 'train')
    assert 'split ids that do not exist on disk' in message(e)
    assert "have no image in JPEGImages/: ['2012_424242']" in message(e)
    assert "have no mask in SegmentationClass/: ['2012_424242']" in message(e)


@pytest.mark.parametrize('kind', ['cityscapes', 'bdd100k', 'camvid', 'imagefolder'])
def test_image_without_mask_is_named(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    ds = open_ds(kind, root)
    lonely = ds.ids[1]
    ds.files[lonely][1].unlink()
    with pytest.raises(DatasetError) as e: open_ds(kind, root)
    assert "have no mask in" in message(e) and repr(lonely) in message(e)


@pytest.mark.parametrize('kind', KINDS)
def test_subset_with_unknown_ids_names_them(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    ds = open_ds(kind, root)
    with pytest.raises(DatasetError) as e: ds.subset([ds.ids[0], 'ghost_1', 'ghost_2'])
    assert "2 split id(s) do not exist in" in message(e) and "['ghost_1', 'ghost_2']" in message(e)
    with pytest.raises(DatasetError, match='empty split'): ds.subset([])


def test_split_file_ids_not_in_dataset(tmp_path):
    root, _ = fixture('voc', tmp_path)
    f = tmp_path / 'labeled.txt'
    f.write_text('JPEGImages/2007_000000.jpg SegmentationClassAug/2007_000000.png\n'
                 'JPEGImages/2010_001234.jpg SegmentationClassAug/2010_001234.png\n')
    with pytest.raises(DatasetError) as e: VOC(root, 'train_aug').subset(read_split_file(f))
    assert "['2010_001234']" in message(e)


def test_split_file_missing_empty_duplicated(tmp_path):
    with pytest.raises(DatasetError, match='does not exist'): read_split_file(tmp_path / 'nope.txt')
    (tmp_path / 'empty.txt').write_text('# only a comment\n\n')
    with pytest.raises(DatasetError, match='lists no ids: the split is empty'): read_split_file(tmp_path / 'empty.txt')
    (tmp_path / 'dup.txt').write_text('a\nb\na\n')
    with pytest.raises(DatasetError, match=r"more than once: \['a'\]"): read_split_file(tmp_path / 'dup.txt')


def test_make_split_bad_arguments():
    ids = [f'{k:04d}' for k in range(100)]
    with pytest.raises(DatasetError, match='need 1..100'): make_split(ids, 0, seed=0)
    with pytest.raises(DatasetError, match='but there are 100'): make_split(ids, 101, seed=0)
    with pytest.raises(DatasetError, match=r'\(0, 1\]'): make_split(ids, 1.5, seed=0)
    with pytest.raises(DatasetError, match='empty'): make_split([], 1, seed=0)
    with pytest.raises(DatasetError, match='duplicate'): make_split(ids + ['0000'], 1, seed=0)
    assert make_split(ids, '1/8', seed=3) == make_split(list(reversed(ids)), 13, seed=3)


# --- per-file problems: at ds[i], naming the file --------------------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
def test_size_mismatch_names_both_files(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    ds = open_ds(kind, root)
    img_path, mask_path = ds.files[ds.ids[0]]
    rewrite_mask(mask_path, lambda a: np.pad(a, ((0, 3), (0, 0)), mode='edge'))
    with pytest.raises(DatasetError) as e: ds[0]
    assert 'size mismatch' in message(e) and str(img_path) in message(e) and str(mask_path) in message(e)
    assert f'{SIZE[1]}×{SIZE[0]}' in message(e) and f'{SIZE[1]}×{SIZE[0] + 3}' in message(e)
    ds[1]  # the other items still read


@pytest.mark.parametrize('kind', KINDS)
def test_mask_values_outside_label_set_are_named(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    ds = open_ds(kind, root)
    _, mask_path = ds.files[ds.ids[0]]
    bad = NOT_A_LABEL[kind]

    def poison(a):
        a = a.copy(); a[0, 0], a[-1, -1] = bad, 200; return a
    rewrite_mask(mask_path, poison)
    with pytest.raises(DatasetError) as e: ds[0]
    assert f'mask {mask_path} has values [{bad}, 200] outside the label set' in message(e)
    assert 'and 255 = ignore' in message(e)


def test_255_is_always_allowed(tmp_path):
    root, _ = fixture('camvid', tmp_path)
    ds = CamVid(root, 'train')
    rewrite_mask(ds.files[ds.ids[0]][1], lambda a: np.full_like(a, 255))
    assert ds[0][1].eq(255).all()


@pytest.mark.parametrize('kind', KINDS)
def test_truncated_image_is_named(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    ds = open_ds(kind, root)
    img_path, _ = ds.files[ds.ids[0]]
    data = img_path.read_bytes()
    img_path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DatasetError) as e: ds[0]
    assert f'cannot read image {img_path}' in message(e)


def test_truncated_mask_png_is_named(tmp_path):
    root, _ = fixture('cityscapes', tmp_path)
    ds = Cityscapes(root, 'train')
    _, mask_path = ds.files[ds.ids[0]]
    data = mask_path.read_bytes()
    mask_path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DatasetError) as e: ds[0]
    assert f'cannot read mask {mask_path}' in message(e)


@pytest.mark.parametrize('kind', ['voc', 'camvid'])
def test_file_that_is_not_an_image_is_named(kind, tmp_path):
    root, _ = fixture(kind, tmp_path)
    ds = open_ds(kind, root)
    img_path, _ = ds.files[ds.ids[1]]
    img_path.write_text('<html>404 Not Found</html>')
    with pytest.raises(DatasetError) as e: ds[1]
    assert f'cannot read image {img_path}' in message(e) and 'UnidentifiedImageError' in message(e)


def test_file_deleted_after_construction_is_named(tmp_path):
    root, _ = fixture('bdd100k', tmp_path)
    ds = BDD100K(root, 'val')
    img_path, _ = ds.files[ds.ids[0]]
    img_path.unlink()
    with pytest.raises(DatasetError, match=f'image file {img_path} does not exist'): ds[0]


def test_colour_mask_is_refused(tmp_path):
    root, _ = fixture('voc', tmp_path)
    ds = VOC(root, 'train')
    _, mask_path = ds.files[ds.ids[0]]
    Image.open(mask_path).convert('RGB').save(mask_path)  # what a "helpful" image editor does to a palette PNG
    with pytest.raises(DatasetError) as e: ds[0]
    assert f'mask {mask_path} is a mode-RGB image' in message(e) and 'single-channel index PNG' in message(e)


def test_verify_reports_every_bad_file(tmp_path):
    root, _ = fixture('voc', tmp_path, n=3)
    ds = VOC(root, 'train')
    (img0, _), (_, mask1) = ds.files[ds.ids[0]], ds.files[ds.ids[1]]
    img0.write_bytes(img0.read_bytes()[:50])
    rewrite_mask(mask1, lambda a: np.where(a == 0, 77, a))
    problems = ds.verify()
    assert len(problems) == 2
    assert str(img0) in problems[0] and str(mask1) in problems[1] and '77' in problems[1]
    assert ds.verify(max_items=1) == problems[:1]


SLOW = 'slow' in os.environ.get('SEMISEG_FLAGS', '').replace(',', ' ').split()


# spawn (the default on macOS/Windows) pickles the dataset into fresh interpreters that import torch: ~20 s on 2 cores
@pytest.mark.parametrize('context', ['fork', pytest.param('spawn', marks=pytest.mark.skipif(
    not SLOW, reason='slow: 2 fresh interpreters importing torch; run with SEMISEG_FLAGS=slow'))])
def test_dataloader_workers_reraise_with_the_file_name(context, tmp_path):
    root, _ = fixture('voc', tmp_path, n=4)
    ds = VOC(root, 'train')
    img_path, _ = ds.files[ds.ids[2]]
    img_path.write_bytes(img_path.read_bytes()[:100])
    loader = DataLoader(ds, batch_size=1, num_workers=2, multiprocessing_context=context)
    with pytest.raises(DatasetError) as e:
        for _ in loader: pass
    assert 'in DataLoader worker process' in message(e)
    assert f'cannot read image {img_path}' in message(e)
