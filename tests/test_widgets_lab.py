"""The explorers of 21_widgets.ipynb as a reader uses them: JupyterLab in headless Chromium, *Run > Run All Cells*, then
move the DC explorer's *conf view 1* slider (type a value into its readout, as a reader can) and see the explorer's
figure and its line of numbers change. The notebook's own cells (test_notebooks.py) already set every control from
Python; this checks the path through the browser: the widget manager renders the panel, a change in the page reaches
the kernel, the kernel's redraw reaches the page.

Needs Debian's /usr/bin/chromium and Playwright (never `playwright install`): without them the test skips, except under
CI (env CI set), where it fails instead. Works on a copy of the notebook in a temporary folder, as test_jupyterlab.py."""
import sys, time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_jupyterlab import open_and_run_all, open_lab  # noqa: E402

NOTEBOOK = '21_widgets.ipynb'


@pytest.fixture
def lab(tmp_path):
    yield from open_lab(tmp_path, NOTEBOOK)


def wait_until(condition, seconds: float, every: float = 0.5) -> bool:
    "Poll `condition()` until it holds or `seconds` pass; whether it held (the caller's asserts say what failed)."
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition(): return True
        time.sleep(every)
    return condition()


def test_move_a_slider_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    url, root = lab
    with sync_playwright() as p:
        browser, page = open_and_run_all(p, url, root, NOTEBOOK)
        panel = page.locator('.semiseg-dc-explorer').first            # the first DC explorer (its display cell)
        panel.scroll_into_view_if_needed(timeout=60_000)
        image, text = panel.locator('img').first, panel.locator('.widget-html-content').first
        image.wait_for(timeout=60_000)
        # the panel's HTML line is rendered a moment after its image: poll for it rather than read it once
        wait_until(lambda: 'is pulled' in text.inner_text(), seconds=60)
        src, numbers = image.get_attribute('src'), text.inner_text()
        assert 'view 1 is pulled' in numbers, numbers
        slider = panel.locator('.widget-slider:has(label:text-is("conf view 1"))')
        readout = slider.locator('.widget-readout')
        readout.click()
        page.keyboard.press('Control+a')
        page.keyboard.type('0.97')
        page.keyboard.press('Enter')
        wait_until(lambda: image.get_attribute('src') != src and 'view 2 is pulled' in text.inner_text(), seconds=60)
        page.screenshot(path=str(root / 'jupyterlab_slider.png'))
        new_src, new_numbers = image.get_attribute('src'), text.inner_text()
        browser.close()
    assert new_src != src, f'the DC explorer\'s figure did not change after moving the slider; screenshot: {root / "jupyterlab_slider.png"}'
    assert 'view 2 is pulled' in new_numbers, new_numbers           # conf view 1 = 0.97 > conf view 2 = 0.8
