"""Open every page of the offline docs preview (tools/docs_preview.py) in headless Chromium and check it.

The preview is built once per run into a temp folder by the real command line (a subprocess: nbdev's
processing runs notebook code, which should not run inside pytest), served over http.server, and
each page is inspected once; the
per-page tests then assert on what was seen: title, sidebar, no traceback, links and the table of
contents resolve, images load, math renders. Full-page screenshots land in
tests/_artifacts/screenshots/. The `test_selftest_*` tests render a tiny site with known defects
and prove each check fails when it should. The pages are pandoc's HTML (the preview runs real
pandoc, as Quarto does), so outputs are Quarto's `div.cell-output-*` and headings get pandoc's ids.

Needs Debian's /usr/bin/chromium (never `playwright install`): without it these tests skip,
except under CI (env CI set), where the docs must be checked and they fail instead.
"""
from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import json
import os
import posixpath
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urldefrag
from urllib.request import urlopen

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

REPO = Path(__file__).resolve().parents[1]
NBS = REPO / 'nbs'
TOOL = REPO / 'tools' / 'docs_preview.py'
SCREENSHOTS = REPO / 'tests' / '_artifacts' / 'screenshots'
CHROMIUM = Path('/usr/bin/chromium')
# Without the background-networking flags Chromium keeps trying to reach Google and floods the log.
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']
BUILD_TIMEOUT_S = 300
MATHJAX_TIMEOUT_MS = 20_000


def _load_tool():
    "tools/ is not a package: load docs_preview.py as a module (registered first, for dataclasses)."
    spec = importlib.util.spec_from_file_location('docs_preview', TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules['docs_preview'] = module
    spec.loader.exec_module(module)
    return module


docs_preview = _load_tool()


# ---------------------------------------------------------------- what nbs/ and sidebar.yml say

def _skipped(name: str) -> bool:
    return name.startswith(('_', '.'))


def notebooks_in(nbs_dir: Path) -> list[str]:
    "Docs notebooks (nbdev's rule: no file or folder starting with '_' or '.'), relative posix paths."
    return sorted(p.relative_to(nbs_dir).as_posix() for p in nbs_dir.rglob('*.ipynb')
                  if not any(_skipped(part) for part in p.relative_to(nbs_dir).parts))


def sidebar_yml_contents(nbs_dir: Path) -> list:
    data = yaml.safe_load((nbs_dir / 'sidebar.yml').read_text(encoding='utf-8')) or {}
    sidebar = (data.get('website') or {}).get('sidebar') or {}
    if isinstance(sidebar, list): sidebar = sidebar[0] if sidebar else {}
    return sidebar.get('contents') or []


def sidebar_yml_walk(entries):
    "Yield ('section', title) and ('file', path) for every sidebar.yml entry, in order."
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, str): yield 'file', entry
        elif isinstance(entry, dict) and ('section' in entry or 'contents' in entry):
            if entry.get('section'): yield 'section', str(entry['section'])
            yield from sidebar_yml_walk(entry.get('contents') or [])
        elif isinstance(entry, dict) and entry.get('href') and not re.match(r'^[a-z]+:', entry['href']):
            yield 'file', entry['href']


def sidebar_sections_in(nbs_dir: Path) -> list[str]:
    return [value for kind, value in sidebar_yml_walk(sidebar_yml_contents(nbs_dir)) if kind == 'section']


def sidebar_problems(nbs_dir: Path, manifest: dict | None = None) -> list[str]:
    "Notebooks missing from sidebar.yml, entries that are no notebook, entries with no built page."
    if not (nbs_dir / 'sidebar.yml').exists(): return [f'{nbs_dir}/sidebar.yml does not exist']
    notebooks = notebooks_in(nbs_dir)
    entries = [posixpath.normpath(v.split('#')[0]) for k, v in sidebar_yml_walk(sidebar_yml_contents(nbs_dir))
               if k == 'file']
    problems = [f'{nb} is not listed in sidebar.yml' for nb in notebooks if nb not in entries]
    problems += [f'sidebar.yml lists {e}, which is not a docs notebook in {nbs_dir.name}/'
                 for e in entries if e not in notebooks]
    problems += [f'sidebar.yml lists {e} more than once' for e in sorted(set(entries)) if entries.count(e) > 1]
    if manifest is not None:
        built = {page['notebook'] for page in manifest['pages']}
        problems += [f'{e} is in sidebar.yml but no page was built' for e in entries if e in notebooks and e not in built]
    return problems


# ---------------------------------------------------------------- browser plumbing

def require_chromium():
    "Skip without Debian's chromium or Playwright, unless running under CI, where that is a failure."
    reason = None
    if not CHROMIUM.exists(): reason = f'{CHROMIUM} not found (apt-get install chromium)'
    elif importlib.util.find_spec('playwright') is None: reason = 'playwright (python) is not installed'
    if reason is None: return
    if os.environ.get('CI'): pytest.fail(f'CI must check the docs in a browser, but {reason}')
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@contextmanager
def serve(directory: Path):
    "Serve `directory` on a free localhost port; yields the base URL (ending in '/')."
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try: yield f'http://127.0.0.1:{server.server_address[1]}/'
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope='module')
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()
    playwright.stop()


# ---------------------------------------------------------------- inspecting one page

WAIT_FOR_MATHJAX_JS = f"""() => new Promise(resolve => {{
  if (!window.MathJax || !MathJax.Hub) return resolve('absent');
  setTimeout(() => resolve('timeout'), {MATHJAX_TIMEOUT_MS});
  MathJax.Hub.Queue(() => resolve('done'));   // runs after every typeset queued before it
}})"""

COLLECT_JS = r"""() => {
  const visible = el => !!(el && el.getClientRects().length);
  const sidebar = document.querySelector('#sidebar');
  const sections = sidebar ? Array.from(sidebar.querySelectorAll('.sidebar-section-title'))
      .filter(visible).map(el => el.textContent.trim()) : [];
  // Quarto's (and the preview's) output divs: .cell-output-stdout/-stderr/-error/-display.
  const outputs = Array.from(document.querySelectorAll('.cell-output')).map(el => ({
      kind: (Array.from(el.classList).find(c => c.startsWith('cell-output-')) || '').slice(12), text: el.innerText}));
  const toc = document.querySelector('nav#TOC');
  const tocLinks = toc ? Array.from(toc.querySelectorAll('a[href]')).map(a => a.getAttribute('href')) : null;
  // Headings pandoc made (they carry an id, or their section does); not the page title, not raw HTML ones.
  const headings = Array.from(document.querySelectorAll('main h2, main h3')).filter(h => !h.closest('header'))
      .map(h => ({level: h.tagName, text: h.textContent.trim().slice(0, 80),
                  id: h.id || (h.parentElement.tagName === 'SECTION' ? h.parentElement.id : '')}))
      .filter(h => h.id);
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => ({href: a.getAttribute('href'), url: a.href}));
  const images = Array.from(document.images).map(img => ({src: img.getAttribute('src') || '',
      ok: img.complete && img.naturalWidth > 0}));
  const ids = Array.from(document.querySelectorAll('[id], a[name]')).map(el => el.id || el.getAttribute('name'));

  // Raw TeX: visible text outside code and outside MathJax's own output.
  const SKIP_TAGS = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'NOSCRIPT', 'KBD', 'SAMP']);
  const SKIP_CLASS = /(^|\s)(MathJax\S*|MJX\S*|tex2jax_ignore)(\s|$)/;
  const skipped = node => { for (let el = node.parentElement; el; el = el.parentElement) {
      if (SKIP_TAGS.has(el.tagName) || el.tagName.startsWith('MJX-') || SKIP_CLASS.test(el.className || '')) return true; }
    return false; };
  const TEX = [/\$\$/, /\\begin\{/, /\\end\{/, /\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$/, /\\[a-zA-Z]{2,}/, /\\[()[\]]/];
  // Text is matched per block (p, li, td...): MathJax splits escaped '\$' into their own spans.
  const blockOf = el => { while (el.parentElement && getComputedStyle(el).display.startsWith('inline')) el = el.parentElement;
    return el; };
  const blocks = new Map();
  const root = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.nodeValue.trim() || skipped(node) || !visible(node.parentElement)) continue;
    const block = blockOf(node.parentElement);
    blocks.set(block, (blocks.get(block) || '') + node.nodeValue);
  }
  const rawTex = Array.from(blocks.values()).filter(text => TEX.some(re => re.test(text)))
      .map(text => text.trim().slice(0, 160));
  const mathErrors = Array.from(document.querySelectorAll('.MathJax_Error, .merror, .noError, mjx-merror'))
      .map(el => el.textContent.trim().slice(0, 120));
  const math = document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_CHTML, .MathJax_SVG, mjx-container').length;
  return {sections, outputs, links, images, ids, rawTex, mathErrors, math, tocLinks, headings};
}"""

WAIT_FOR_IMAGES_JS = """() => Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))"""


def inspect_page(browser, url: str, screenshot: Path | None = None) -> dict:
    """Load `url`, let MathJax and images finish, screenshot it and collect what the checks need.

    A page that cannot be loaded or inspected gets `load_error`, so only its own tests fail."""
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    js_errors, failed = [], []
    page.on('pageerror', lambda err: js_errors.append(str(err)))
    page.on('response', lambda r: failed.append(f'{r.status} {r.url}') if r.status >= 400 else None)
    page.on('requestfailed', lambda r: failed.append(f'{r.failure} {r.url}'))
    report = {'sections': [], 'outputs': [], 'links': [], 'images': [], 'ids': [], 'rawTex': [],
              'mathErrors': [], 'math': 0, 'tocLinks': None, 'headings': [], 'status': None,
              'mathjax': 'not run', 'load_error': None}
    try:
        response = page.goto(url, wait_until='load')
        report['status'] = response.status if response else None
        page.wait_for_function('() => !window.MathJax || MathJax.isReady === true', timeout=MATHJAX_TIMEOUT_MS)
        report['mathjax'] = page.evaluate(WAIT_FOR_MATHJAX_JS)
        page.evaluate(WAIT_FOR_IMAGES_JS)
        report.update(page.evaluate(COLLECT_JS))
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    except Exception as e:   # a Playwright timeout or error: reported by the page's own tests
        report['load_error'] = f'{type(e).__name__}: {e}'
    finally:
        page.close()
    report.update(url=url, js_errors=js_errors, failed_requests=failed)
    return report


# ---------------------------------------------------------------- the checks (return problems)

TRACEBACK = re.compile(r'Traceback \(most recent call last\)')
# IPython's error output: 'ZeroDivisionError: division by zero', or 'Cell In[3], line 1' for SyntaxError.
EXCEPTION_LINE = re.compile(r'^\s*(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Interrupt|Exit)\b(?::.*)?$', re.M)
CELL_LOCATION = re.compile(r'^\s*Cell In\s*\[\d*\], line \d+', re.M)


def traceback_problems(report: dict, page: dict | None = None) -> list[str]:
    """An `error` output is a div.cell-output-error holding the traceback; an exception can also be
    printed to stderr (div.cell-output-stderr), which otherwise holds harmless warnings, so there it
    is the traceback text that marks an error."""
    problems = []
    for out in report['outputs']:
        text = out['text']
        is_error = out['kind'] == 'error' or TRACEBACK.search(text) or (
            out['kind'] == 'stderr' and (EXCEPTION_LINE.search(text) or CELL_LOCATION.search(text)))
        if is_error: problems.append(f'error output: {text.strip()[:300]}')
    if page and page.get('error_outputs'):
        problems.append(f"the processed notebook holds {page['error_outputs']} error output(s)")
    problems += [f'JavaScript error: {e}' for e in report['js_errors']]
    return problems


class _IdCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == 'id' or (tag == 'a' and key == 'name'): self.ids.add(value)


@functools.lru_cache(maxsize=None)
def fetch(url: str) -> tuple[int, frozenset]:
    "(HTTP status, ids on the page) for a URL of the local server."
    try:
        with urlopen(url, timeout=10) as r:
            body, status, ctype = r.read(), r.status, r.headers.get('Content-Type', '')
    except HTTPError as e: return e.code, frozenset()
    except URLError: return 0, frozenset()
    if 'html' not in ctype: return status, frozenset()
    parser = _IdCollector()
    parser.feed(body.decode('utf-8', 'replace'))
    return status, frozenset(parser.ids)


def _is_relative(href: str) -> bool:
    return not re.match(r'^([a-zA-Z][a-zA-Z0-9+.-]*:|//)', href)


def link_problems(report: dict, base_url: str) -> list[str]:
    "Every relative link answers 200 on the preview server, and its #fragment exists on the target."
    # MathJax 2's HTML-CSS output probes some glyph fonts with a request to about:blank, which Chromium
    # reports as failed; it is not a resource of the page, so it is not a broken link.
    problems = [f'failed request: {f}' for f in report['failed_requests'] if not f.endswith(' about:blank')]
    page_url = urldefrag(report['url']).url
    for link in report['links']:
        href, url = link['href'], link['url']
        if not _is_relative(href) or not href: continue
        target, fragment = urldefrag(url)
        fragment = unquote(fragment)  # the browser percent-encodes non-ASCII ids (e.g. 'α') in resolved URLs
        if not target.startswith(base_url):
            problems.append(f'{href!r} leaves the preview ({url})'); continue
        if target == page_url:
            status, ids = 200, frozenset(report['ids'])
        else:
            status, ids = fetch(target)
        if status != 200: problems.append(f'broken link {href!r}: HTTP {status}')
        elif fragment and fragment not in ids: problems.append(f'broken link {href!r}: no id {fragment!r} on {target}')
    return problems


def image_problems(report: dict) -> list[str]:
    return [f'broken image {img["src"][:100]!r}' for img in report['images'] if not img['ok']]


def toc_problems(report: dict) -> list[str]:
    "A page with h2/h3 headings has a table of contents; its links all land on the page; it lists every one."
    headings, links = report['headings'], report['tocLinks']
    if not headings: return []
    if not links: return [f'{len(headings)} headings but no table of contents (nav#TOC with links)']
    ids = set(report['ids'])
    problems = [f'TOC link {href!r} is not a #fragment of this page' for href in links if not href.startswith('#')]
    problems += [f'TOC link {href!r}: no id {unquote(href[1:])!r} on the page' for href in links
                 if href.startswith('#') and unquote(href[1:]) not in ids]
    listed = {unquote(href[1:]) for href in links}
    problems += [f"{h['level']} {h['text']!r} (#{h['id']}) is not in the TOC" for h in headings if h['id'] not in listed]
    return problems


def math_problems(report: dict, page: dict | None, mathjax_expected: bool) -> list[str]:
    "No raw TeX left visible; pages with math got MathJax output; no math pandoc would not render."
    problems = [f'raw TeX visible: {t!r}' for t in report['rawTex']]
    problems += [f'MathJax error: {t!r}' for t in report['mathErrors']]
    if page:
        problems += [f'math the real site will not render: {w}' for w in page.get('math_warnings', [])]
        if page.get('has_math') and mathjax_expected:
            if report['mathjax'] != 'done': problems.append(f"MathJax did not run ({report['mathjax']})")
            elif not report['math']: problems.append('page has math but MathJax rendered nothing')
    return problems


def _fail_if(problems: list[str], what: str):
    if problems: pytest.fail(f'{what}:\n  ' + '\n  '.join(problems), pytrace=False)


# ---------------------------------------------------------------- the real site

@pytest.fixture(scope='module')
def preview(tmp_path_factory):
    "Build the preview of nbs/ with the real command line; returns (folder, manifest)."
    out = tmp_path_factory.mktemp('preview') / 'site'
    result = subprocess.run([sys.executable, str(TOOL), '--out', str(out)], cwd=REPO, capture_output=True,
                            text=True, timeout=BUILD_TIMEOUT_S)
    if result.returncode:
        pytest.fail(f'docs_preview.py failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}',
                    pytrace=False)
    return out, json.loads((out / 'manifest.json').read_text(encoding='utf-8'))


@pytest.fixture(scope='module')
def site(preview, browser):
    "Serve the preview and inspect every page once: {'base': url, 'manifest': ..., 'reports': {file: report}}."
    out, manifest = preview
    for old in SCREENSHOTS.glob('*.png'): old.unlink()
    with serve(out) as base:
        reports = {page['file']: inspect_page(browser, base + page['file'],
                                              SCREENSHOTS / (page['file'].replace('/', '__') + '.png'))
                   for page in manifest['pages']}
        yield {'base': base, 'manifest': manifest, 'reports': reports}


def page_for(site, notebook: str) -> tuple[dict, dict]:
    pages = {p['notebook']: p for p in site['manifest']['pages']}
    if notebook not in pages: pytest.fail(f'no page was built for {notebook}', pytrace=False)
    page = pages[notebook]
    report = site['reports'][page['file']]
    if report['load_error']: pytest.fail(f"{page['file']} could not be inspected: {report['load_error']}", pytrace=False)
    return page, report


NOTEBOOKS = notebooks_in(NBS) if NBS.exists() else []


def test_sidebar_and_notebooks_agree(preview):
    _, manifest = preview
    _fail_if(sidebar_problems(NBS, manifest), 'nbs/ and nbs/sidebar.yml disagree')


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_loads_with_title(site, notebook):
    page, report = page_for(site, notebook)
    assert report['status'] == 200, f"{page['file']} answered HTTP {report['status']}"
    assert page['title'], f'{notebook} has no title (frontmatter or a leading "# Title" cell)'


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_sidebar_shows_every_section(site, notebook):
    page, report = page_for(site, notebook)
    missing = [s for s in sidebar_sections_in(NBS) if s not in report['sections']]
    _fail_if([f'section {s!r} not visible' for s in missing], f"sidebar of {page['file']}")


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_has_no_traceback(site, notebook):
    page, report = page_for(site, notebook)
    _fail_if(traceback_problems(report, page), f"{page['file']} ({notebook}) shows errors")


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_links_resolve(site, notebook):
    page, report = page_for(site, notebook)
    _fail_if(link_problems(report, site['base']), f"{page['file']} ({notebook}) has broken links")


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_toc_links_resolve(site, notebook):
    page, report = page_for(site, notebook)
    _fail_if(toc_problems(report), f"table of contents of {page['file']} ({notebook})")


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_images_load(site, notebook):
    page, report = page_for(site, notebook)
    _fail_if(image_problems(report), f"{page['file']} ({notebook}) has broken images")


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_math_renders(site, notebook):
    if not site['manifest']['mathjax']: pytest.skip('MathJax not installed (apt-get install libjs-mathjax)')
    page, report = page_for(site, notebook)
    _fail_if(math_problems(report, page, mathjax_expected=True), f"{page['file']} ({notebook}) math")


@pytest.mark.parametrize('notebook', NOTEBOOKS)
def test_page_screenshot_saved(site, notebook):
    page, _ = page_for(site, notebook)
    shot = SCREENSHOTS / (page['file'].replace('/', '__') + '.png')
    assert shot.exists() and shot.stat().st_size > 1000, f'no screenshot at {shot}'


# ---------------------------------------------------------------- self-tests: the checks can fail

# A 1x1 PNG, so the clean page has a real local image to copy and load.
PNG_1PX = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==')

# What IPython puts in an `error` output (ANSI colours included), as in a real executed notebook.
IPYTHON_TRACEBACK = ['\x1b[0;31m---------------------------------------------------------------------------\x1b[0m',
                     '\x1b[0;31mZeroDivisionError\x1b[0m                         Traceback (most recent call last)',
                     'Cell \x1b[0;32mIn[3], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m \x1b[38;5;241;43m1\x1b[39;49m/0\n',
                     '\x1b[0;31mZeroDivisionError\x1b[0m: division by zero']


def _processed_notebook(title: str, cells: list) -> nbformat.NotebookNode:
    "A notebook as nbdev's proc_nbs leaves it: frontmatter first, as a raw cell."
    fm = f'---\ntitle: {title}\ndescription: self-test page\noutput-file: {title}.html\n---\n'
    return new_notebook(cells=[new_raw_cell(fm)] + cells, metadata={'kernelspec': {'name': 'python3', 'language': 'python', 'display_name': 'Python 3'}})


def selftest_notebooks() -> dict:
    good = _processed_notebook('good', [
        new_markdown_cell('## Fine\n\nInline $\\alpha^2$, display\n\n$$\\sum_{i=1}^n i$$\n\n'
                          'costs \\$5 and \\$6. Links: [bad page](bad.ipynb), [section](#fine), '
                          '[site link](https://example.org/proj/good.html#fine).\n\n![ok](img/ok.png)'),
        new_code_cell('import warnings; warnings.warn("careful")', outputs=[
            new_output('stream', name='stderr', text='/tmp/x.py:1: UserWarning: careful\n  warnings.warn("careful")\n')]),
        new_code_cell('#| echo: false\n1+1', outputs=[new_output('execute_result', data={'text/plain': '2'}, execution_count=1)]),
        # show_doc's output: markdown whose heading sits inside an output div, yet belongs in the TOC
        new_code_cell('#| echo: false\nshow_doc(helper)', outputs=[new_output('execute_result', execution_count=2, data={
            'text/markdown': '---\n\n### helper\n\n```python\ndef helper(x): ...\n```\n\n*Does a thing.*',
            'text/plain': '<IPython.core.display.Markdown object>'})]),
    ])
    bad = _processed_notebook('bad', [
        new_markdown_cell('## Broken\n\n[missing page](nowhere.ipynb), [missing anchor](good.ipynb#no-such-heading), '
                          '[missing file](data/nothing.csv)\n\n![missing](img/missing.png)\n\n'
                          'Not math for pandoc: \\[ e^{i\\pi} = -1 \\] and an unclosed $$x^2'),
        new_code_cell('1/0', outputs=[new_output('error', ename='ZeroDivisionError', evalue='division by zero',
                                                 traceback=IPYTHON_TRACEBACK)]),
    ])
    return {'good.ipynb': good, 'bad.ipynb': bad}


@pytest.fixture(scope='module')
def selftest_site(tmp_path_factory, browser):
    "Render two processed notebooks (one clean, one with every defect) and inspect both pages."
    root = tmp_path_factory.mktemp('selftest')
    nbs = root / 'nbs'
    (nbs / 'img').mkdir(parents=True)
    (nbs / 'img' / 'ok.png').write_bytes(PNG_1PX)
    (nbs / 'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n      - section: Pages\n'
                                     '        contents: [good.ipynb, bad.ipynb]\n', encoding='utf-8')
    for name, nb in selftest_notebooks().items(): nbformat.write(nb, nbs / name)
    settings = docs_preview.SiteSettings(nbs_dir=nbs, site_url='https://example.org/proj/', title='selftest')
    manifest = docs_preview.build_site(nbs, root / 'site', settings)
    with serve(root / 'site') as base:
        reports = {p['notebook']: inspect_page(browser, base + p['file']) for p in manifest['pages']}
        assert not [r['load_error'] for r in reports.values() if r['load_error']]
        yield {'base': base, 'manifest': manifest, 'reports': reports,
               'pages': {p['notebook']: p for p in manifest['pages']}}


def test_selftest_clean_page_passes_every_check(selftest_site):
    s = selftest_site
    page, report = s['pages']['good.ipynb'], s['reports']['good.ipynb']
    problems = (traceback_problems(report, page) + link_problems(report, s['base']) + image_problems(report)
                + toc_problems(report))
    if s['manifest']['mathjax']: problems += math_problems(report, page, True)   # without it all TeX stays raw
    assert problems == []
    assert report['sections'] == ['Pages']
    assert report['tocLinks'] == ['#fine', '#helper']
    assert [(h['level'], h['id']) for h in report['headings']] == [('H2', 'fine'), ('H3', 'helper')]
    if s['manifest']['mathjax']: assert report['math'] >= 2


def test_selftest_detects_traceback(selftest_site):
    problems = traceback_problems(selftest_site['reports']['bad.ipynb'], selftest_site['pages']['bad.ipynb'])
    assert any('ZeroDivisionError' in p for p in problems), problems
    assert any('1 error output' in p for p in problems), problems


def test_selftest_detects_broken_links(selftest_site):
    problems = link_problems(selftest_site['reports']['bad.ipynb'], selftest_site['base'])
    assert any("'nowhere.ipynb': HTTP 404" in p for p in problems), problems
    assert any("no id 'no-such-heading'" in p for p in problems), problems
    assert any("'data/nothing.csv': HTTP 404" in p for p in problems), problems


def test_selftest_detects_broken_image(selftest_site):
    problems = image_problems(selftest_site['reports']['bad.ipynb'])
    assert problems == ["broken image 'img/missing.png'"]


def test_selftest_detects_unrendered_math(selftest_site):
    s = selftest_site
    if not s['manifest']['mathjax']: pytest.skip('MathJax not installed')
    problems = math_problems(s['reports']['bad.ipynb'], s['pages']['bad.ipynb'], s['manifest']['mathjax'])
    # pandoc reads `\pi` in `\[ e^{i\pi} = -1 \]` as raw LaTeX and drops it (the page shows
    # `[ e^{i} = -1 ]`, as the real site does): its log, not the page, is where that shows.
    assert any(p.startswith('math the real site will not render') and '\\pi' in p for p in problems), problems
    assert any(p.startswith('raw TeX visible') and '$$' in p for p in problems), problems


def test_selftest_math_check_needs_mathjax_output(selftest_site):
    "A page with math where MathJax rendered nothing fails (e.g. MathJax.js did not load)."
    if not selftest_site['manifest']['mathjax']: pytest.skip('MathJax not installed')
    report = dict(selftest_site['reports']['good.ipynb'], math=0)
    assert math_problems(report, selftest_site['pages']['good.ipynb'], True) == ['page has math but MathJax rendered nothing']


def test_selftest_detects_bad_toc(selftest_site):
    "Headings without a TOC, a TOC link to no id, a heading left out of the TOC: each is a problem."
    good = selftest_site['reports']['good.ipynb']
    assert toc_problems(dict(good, tocLinks=None)) == ['2 headings but no table of contents (nav#TOC with links)']
    assert toc_problems(dict(good, tocLinks=['#fine', '#helper', '#gone'])) == ["TOC link '#gone': no id 'gone' on the page"]
    extra = dict(good, headings=good['headings'] + [{'level': 'H3', 'text': 'Extra', 'id': 'extra'}])
    assert toc_problems(extra) == ["H3 'Extra' (#extra) is not in the TOC"]
    assert toc_problems(dict(good, headings=[], tocLinks=None)) == []


def test_selftest_detects_sidebar_mismatch(tmp_path):
    for name in ('00_a.ipynb', '01_b.ipynb', '_draft.ipynb'): nbformat.write(new_notebook(), tmp_path / name)
    (tmp_path / 'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n      - section: S\n'
                                          '        contents: [00_a.ipynb, 02_gone.ipynb]\n', encoding='utf-8')
    assert sidebar_problems(tmp_path) == ['01_b.ipynb is not listed in sidebar.yml',
                                          'sidebar.yml lists 02_gone.ipynb, which is not a docs notebook in '
                                          f'{tmp_path.name}/']


def test_selftest_builds_without_mathjax(tmp_path):
    "No libjs-mathjax: pages still build, the manifest says so, and literal dollars are plain '$'."
    nbs = tmp_path / 'nbs'
    nbs.mkdir()
    for name, nb in selftest_notebooks().items(): nbformat.write(nb, nbs / name)
    settings = docs_preview.SiteSettings(nbs_dir=nbs, site_url='https://example.org/proj/', title='selftest')
    manifest = docs_preview.build_site(nbs, tmp_path / 'site', settings, mathjax_dir=tmp_path / 'no-mathjax')
    assert manifest['mathjax'] is False
    good = (tmp_path / 'site' / 'good.html').read_text(encoding='utf-8')
    assert 'MathJax.js' not in good and 'costs $5 and $6' in good
    assert not (tmp_path / 'site' / 'mathjax').exists()
