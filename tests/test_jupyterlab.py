"""One notebook opened in JupyterLab itself, in headless Chromium: *Run > Run All Cells* from the menu, then every
code cell must have run and none may show an error. This is what a reader does; the notebook tests
(test_notebooks.py) run the same cells without the browser.

Needs Debian's /usr/bin/chromium and Playwright (never `playwright install`): without them the test skips,
except under CI (env CI set), where it fails instead. The notebook is copied to a temporary folder (with
settings.ini, which show_doc reads), so JupyterLab's saves never touch nbs/."""
import json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path('/usr/bin/chromium')
NOTEBOOK = '00_core.ipynb'


def need_browser():
    reason = None
    if not CHROMIUM.exists(): reason = f'{CHROMIUM} not found (apt-get install chromium)'
    else:
        try: import playwright.sync_api  # noqa: F401
        except ImportError: reason = 'playwright is not installed (pip install playwright)'
    if reason is None: return
    if os.environ.get('CI'): pytest.fail(f'CI must open a notebook in JupyterLab, but {reason}')
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r: return json.loads(r.read())


def open_lab(tmp_path, notebook: str):
    """JupyterLab serving a copy of nbs/`notebook` (and settings.ini) from `tmp_path`; yields (url, tmp_path) and
    stops the server afterwards. Shared with the other browser tests (test_widgets_lab.py)."""
    need_browser()
    (tmp_path / 'nbs').mkdir()
    shutil.copy(ROOT / 'nbs' / notebook, tmp_path / 'nbs' / notebook)
    shutil.copy(ROOT / 'settings.ini', tmp_path / 'settings.ini')
    port = free_port()
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(tmp_path / '.jupyter'), 'JUPYTER_RUNTIME_DIR': str(tmp_path / '.runtime')}
    env.pop('IN_TEST', None)                            # a reader's Run All: the notebook's full settings
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


@pytest.fixture
def lab(tmp_path):
    yield from open_lab(tmp_path, NOTEBOOK)


def accept_kernel_dialog(page) -> bool:
    "Click *Select* in JupyterLab's *Select Kernel* dialog, as a reader would; True when there was one."
    dialog = page.locator('.jp-Dialog:has-text("Select Kernel") .jp-mod-accept')
    if dialog.count() == 0: return False
    dialog.first.click(); return True


def wait_for_kernel(page, url, root, notebook: str = NOTEBOOK, timeout=180):
    """Wait until the notebook's kernel runs and is idle. On a loaded machine JupyterLab may open the notebook
    before it has picked a kernel and ask with a *Select Kernel* dialog; *Run All* clicked behind that dialog
    runs nothing (CI failed this way once). So: accept the dialog, and ask the server, not the page, for the
    kernel's state."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        accept_kernel_dialog(page)
        sessions = [s for s in get_json(f'{url}/api/sessions') if s['path'].endswith(notebook)]
        if sessions and sessions[0]['kernel'] and sessions[0]['kernel']['execution_state'] == 'idle' \
           and page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count():
            return
        time.sleep(1)
    page.screenshot(path=str(root / 'jupyterlab.png'))
    pytest.fail(f'the kernel of {notebook} was not idle after {timeout} s; screenshot: {root / "jupyterlab.png"}')


def run_all_cells(page, url, root, notebook: str = NOTEBOOK, timeout=600) -> list:
    """*Run > Run All Cells* from the menu once the kernel is idle; then save and read the notebook through the
    server's API until every code cell has run (or one shows an error, where Run All stops). Asserts that none shows
    an error and that all ran; returns the saved code cells."""
    wait_for_kernel(page, url, root, notebook)
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    deadline, cells = time.time() + timeout, []
    while time.time() < deadline:
        time.sleep(3)
        accept_kernel_dialog(page)
        if page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() == 0: continue
        page.keyboard.press('Control+s')
        time.sleep(1)
        cells = [c for c in get_json(f'{url}/api/contents/nbs/{notebook}')['content']['cells'] if c['cell_type'] == 'code']
        if all(c['execution_count'] for c in cells): break
        if any(o['output_type'] == 'error' for c in cells for o in c['outputs']): break
    page.screenshot(path=str(root / 'jupyterlab.png'))
    errors = [o for c in cells for o in c['outputs'] if o['output_type'] == 'error']
    assert not errors, f"{notebook} shows an error after Run All: {errors[0]['ename']}: {errors[0]['evalue']}"
    assert cells and all(c['execution_count'] for c in cells), \
        f"Run All ran {sum(bool(c['execution_count']) for c in cells)} of {len(cells)} cells within {timeout} s; screenshot: {root / 'jupyterlab.png'}"
    return cells


def open_and_run_all(p, url, root, notebook: str = NOTEBOOK):
    "Headless Chromium (Playwright `p`) on the notebook in JupyterLab, after Run All: (browser, page)."
    browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=['--no-sandbox', '--disable-gpu'])
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.goto(f'{url}/lab/tree/nbs/{notebook}')
    page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
    run_all_cells(page, url, root, notebook)
    return browser, page


def test_run_all_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    url, root = lab
    with sync_playwright() as p:
        browser, page = open_and_run_all(p, url, root)
        # show_doc's output as JupyterLab renders it (the last cells): a plain "source" link, no raw Quarto attributes
        page.evaluate("document.querySelectorAll('.jp-WindowedPanel-outer').forEach(e => e.scrollTop = e.scrollHeight)")
        page.wait_for_selector('.jp-RenderedMarkdown a[target="_blank"]:text-is("source")', timeout=60_000)
        shown = page.inner_text('.jp-Notebook')
        browser.close()
    assert '{target=' not in shown, 'show_doc output shows raw Quarto link attributes in JupyterLab'
