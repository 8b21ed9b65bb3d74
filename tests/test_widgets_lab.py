"""The explorers of 21_widgets.ipynb as a reader uses them: JupyterLab in headless Chromium, *Run > Run All Cells*, then
move the DC explorer's *conf view 1* slider (type a value into its readout, as a reader can) and see the explorer's
figure and its line of numbers change. The notebook's own cells (test_notebooks.py) already set every control from
Python; this checks the path through the browser: the widget manager renders the panel, a change in the page reaches
the kernel, the kernel's redraw reaches the page.

Needs Debian's /usr/bin/chromium and Playwright (never `playwright install`): without them the test skips, except under
CI (env CI set), where it fails instead. Works on a copy of the notebook in a temporary folder, as test_jupyterlab.py."""
import os, shutil, subprocess, sys, time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_jupyterlab import CHROMIUM, accept_kernel_dialog, free_port, get_json, need_browser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = '21_widgets.ipynb'


@pytest.fixture
def lab(tmp_path):
    need_browser()
    (tmp_path / 'nbs').mkdir()
    shutil.copy(ROOT / 'nbs' / NOTEBOOK, tmp_path / 'nbs' / NOTEBOOK)
    shutil.copy(ROOT / 'settings.ini', tmp_path / 'settings.ini')
    port = free_port()
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(tmp_path / '.jupyter'), 'JUPYTER_RUNTIME_DIR': str(tmp_path / '.runtime')}
    env.pop('IN_TEST', None)                            # a reader's Run All
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--allow-root', f'--port={port}',
                             '--ServerApp.ip=127.0.0.1', "--IdentityProvider.token=", '--ServerApp.password=',
                             '--ServerApp.disable_check_xsrf=True', f'--ServerApp.root_dir={tmp_path}'],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}'
    for _ in range(120):
        try: get_json(f'{url}/api/status'); break
        except Exception: time.sleep(0.5)
    else:
        proc.kill(); pytest.fail(f'JupyterLab did not start: {proc.communicate()[0][-2000:]}')
    yield url, tmp_path
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()


def kernel_idle(page, url) -> bool:
    sessions = [s for s in get_json(f'{url}/api/sessions') if s['path'].endswith(NOTEBOOK)]
    return bool(sessions and sessions[0]['kernel'] and sessions[0]['kernel']['execution_state'] == 'idle'
                and page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count())


def run_all(page, url, root):
    "Run All from the menu; return the saved notebook's code cells once every one has run (or one shows an error)."
    deadline = time.time() + 180
    while not kernel_idle(page, url):
        accept_kernel_dialog(page)
        if time.time() > deadline: pytest.fail(f'the kernel of {NOTEBOOK} did not become idle')
        time.sleep(1)
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    deadline, cells = time.time() + 600, []
    while time.time() < deadline:
        time.sleep(3)
        accept_kernel_dialog(page)
        if page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() == 0: continue
        page.keyboard.press('Control+s')
        time.sleep(1)
        cells = [c for c in get_json(f'{url}/api/contents/nbs/{NOTEBOOK}')['content']['cells'] if c['cell_type'] == 'code']
        if all(c['execution_count'] for c in cells): break
        if any(o['output_type'] == 'error' for c in cells for o in c['outputs']): break
    page.screenshot(path=str(root / 'jupyterlab.png'))
    errors = [o for c in cells for o in c['outputs'] if o['output_type'] == 'error']
    assert not errors, f"{NOTEBOOK} shows an error after Run All: {errors[0]['ename']}: {errors[0]['evalue']}"
    assert cells and all(c['execution_count'] for c in cells), \
        f"Run All ran {sum(bool(c['execution_count']) for c in cells)} of {len(cells)} cells; screenshot: {root / 'jupyterlab.png'}"


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
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        page.goto(f'{url}/lab/tree/nbs/{NOTEBOOK}')
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
        run_all(page, url, root)
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
