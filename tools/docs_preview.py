"""Offline preview of the nbdev docs site, for machines without Quarto.

    python tools/docs_preview.py [--out _preview] [--workers 0]

Runs nbdev's own notebook processing (`nbdev.serve.proc_nbs`, the step `nbdev_docs` runs before
Quarto), then does what Quarto does with each processed notebook in `_proc/`: writes it out as one
markdown document, code cells as `::: {.cell}` divs with their outputs in `.cell-output-*` divs (the
classes nbdev's `styles.css` styles; images as files under `<page>_files/`, HTML as raw HTML,
show_doc's markdown as markdown, tracebacks without ANSI codes; Quarto's `echo`/`output`/`include`/
`code-fold` cell options applied), and renders it with **real pandoc** (PyPI's `pypandoc-binary`, else
a `pandoc` on PATH): pandoc's markdown, math (`--mathjax`) and heading ids (`--section-divs`: the id
sits on the heading's `<section>`), so the preview shows what the site will show.

Each page gets a small shell: a sidebar built from `nbs/sidebar.yml`, the frontmatter title and
description, an "On this page" table of contents of the h2/h3 headings (it also lists
show_doc's headings, which sit inside output divs where pandoc's own `--toc` does not look), and
MathJax from Debian's `libjs-mathjax` when it is installed. Page names follow the frontmatter's
`output-file`, so links and file names match the real site. `<out>/manifest.json` lists the pages;
a page's `math_warnings` are the TeX that pandoc read as raw LaTeX and dropped (from pandoc's log),
e.g. the `\\pi` of `\\[ e^{i\\pi} \\]`: `\\( \\)` and `\\[ \\]` are not math for pandoc/Quarto, `$...$`
and `$$...$$` are. tests/test_docs_preview.py opens every page in a headless browser and checks it.
"""
from __future__ import annotations

import argparse
import base64
import configparser
import html
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import nbformat
import yaml
from bs4 import BeautifulSoup

REPO_ROOT = Path(__file__).resolve().parents[1]
MATHJAX_DIR = Path('/usr/share/javascript/mathjax')
MATHJAX_LINK_NAME = 'mathjax'
CSS_FILE_NAME = 'preview.css'


# ---------------------------------------------------------------- settings and notebook discovery

@dataclass
class SiteSettings:
    "The few settings.ini values the preview needs."
    nbs_dir: Path
    site_url: str          # doc_host + doc_baseurl, the prefix of nbdev's absolute doc links
    title: str
    recursive: bool = True


def read_settings(repo: Path) -> SiteSettings:
    # configparser rather than nbdev.config.get_config: the latter looks for settings.ini from the
    # current directory, and the preview must not depend on where it is started from.
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(repo / 'settings.ini', encoding='utf-8')
    cfg = parser['DEFAULT']
    site_url = cfg.get('doc_host', '').rstrip('/') + '/' + cfg.get('doc_baseurl', '').strip('/')
    return SiteSettings(nbs_dir=repo / cfg.get('nbs_path', 'nbs'), site_url=site_url.rstrip('/') + '/',
                        title=cfg.get('title', cfg.get('lib_name', 'docs')),
                        recursive=cfg.get('recursive', 'True').lower() in ('true', '1', 'yes'))


def find_notebooks(nbs_dir: Path, recursive: bool = True) -> list[str]:
    "Notebook paths relative to `nbs_dir` (posix), as nbdev picks them for the docs (no '_' or '.' names)."
    found = []
    for path in sorted(nbs_dir.rglob('*.ipynb') if recursive else nbs_dir.glob('*.ipynb')):
        rel = path.relative_to(nbs_dir)
        if not any(part.startswith(('_', '.')) for part in rel.parts): found.append(rel.as_posix())
    return found


def default_output_file(notebook: str) -> str:
    "nbdev's naming (`_nbpath2html`): drop the numeric prefix, lowercase, `.html`."
    folder, name = posixpath.split(notebook)
    name = re.sub(r'^\d+[a-zA-Z0-9]*_', '', name.lower())
    return posixpath.join(folder, posixpath.splitext(name)[0] + '.html')


# ---------------------------------------------------------------- running nbdev's processing

@contextmanager
def _working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try: yield
    finally: os.chdir(previous)


class NbdevProcessingError(RuntimeError):
    "nbdev's own processing failed: `nbdev_docs` would stop at the same point."


def _describe_failure(exc: BaseException) -> str:
    # parallel() re-raises the worker's exception; its cause (sent back as text) names the real error.
    cause = str(exc.__cause__ or '')
    first = re.search(r'^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit): .*$', cause, re.M)
    return f'{exc}\ncaused by: {first.group(0)}' if first else str(exc)


def run_nbdev_processing(repo: Path, workers: int = 0) -> Path:
    """Run `nbdev.serve.proc_nbs` for `repo` and return its `_proc` folder.

    `workers=0` processes the notebooks one after another in this process; more starts that many
    'spawn' worker processes, as nbdev does by default (call this under `if __name__ == '__main__':`
    then). Same processors, same output; on 2 cores serial was ~3x faster (6.6 s vs 18.9 s for 7
    notebooks), because every spawned worker pays for importing torch and IPython again.
    proc_nbs reads settings.ini from the current directory, hence the chdir (workers inherit it)."""
    from nbdev.serve import proc_nbs
    with _working_directory(repo):
        try: return Path(proc_nbs(n_workers=workers)).resolve()
        except Exception as exc:
            raise NbdevProcessingError(
                'nbdev.serve.proc_nbs failed, so nbdev_docs would fail too. A common cause: to render '
                'show_doc, nbdev runs only the exported cells and the cells that import something, so '
                'a cell mixing an import with code that needs other cells\' variables fails there '
                f'(nbdev warns "Found cells containing imports and other code").\n{_describe_failure(exc)}') from exc


# ---------------------------------------------------------------- sidebar.yml

@dataclass
class SidebarNode:
    "A section (with children), a notebook/file entry, or an external link."
    kind: str                      # 'section' | 'file' | 'link'
    text: str = ''
    target: str = ''               # file path relative to nbs/, or a URL for links
    children: list = field(default_factory=list)


def _sidebar_node(entry) -> SidebarNode | None:
    if isinstance(entry, str):
        return None if entry == 'auto' else SidebarNode('file', target=entry)
    if not isinstance(entry, dict): return None
    if 'section' in entry or 'contents' in entry:
        contents = entry.get('contents') or []
        if isinstance(contents, (str, dict)): contents = [contents]
        return SidebarNode('section', text=str(entry.get('section', '')), target=str(entry.get('href', '')),
                           children=[n for n in map(_sidebar_node, contents) if n])
    href = str(entry.get('href') or entry.get('file') or '')
    if not href: return None
    kind = 'link' if re.match(r'^[a-z][a-z0-9+.-]*:', href) else 'file'
    return SidebarNode(kind, text=str(entry.get('text', '')), target=href)


def read_sidebar(sidebar_yml: Path) -> list[SidebarNode]:
    "Parse Quarto's `website: sidebar: contents:` (a single sidebar, or the first of a list)."
    if not sidebar_yml.exists(): return []
    data = yaml.safe_load(sidebar_yml.read_text(encoding='utf-8')) or {}
    sidebar = (data.get('website') or {}).get('sidebar') or {}
    if isinstance(sidebar, list): sidebar = sidebar[0] if sidebar else {}
    contents = sidebar.get('contents') or []
    if isinstance(contents, (str, dict)): contents = [contents]
    return [n for n in map(_sidebar_node, contents) if n]


def iter_sidebar(nodes, section=None):
    "Yield (node, innermost enclosing section title) for every node, depth first."
    for node in nodes:
        yield node, section
        if node.kind == 'section': yield from iter_sidebar(node.children, node.text or section)


def _normalise_sidebar_target(target: str) -> str:
    # Sidebar paths are relative to nbs/ (Quarto's project dir); './x.ipynb' and 'x.ipynb' are one page.
    return posixpath.normpath(target.split('#')[0]).lstrip('/')


# ---------------------------------------------------------------- processed notebook -> Quarto-style markdown

@dataclass
class PageInfo:
    notebook: str                  # relative to nbs/
    file: str                      # output file relative to the preview root
    title: str
    description: str = ''
    section: str | None = None
    has_math: bool = False
    math_warnings: list = field(default_factory=list)
    error_outputs: int = 0

    @property
    def display_title(self) -> str:
        # An untitled notebook keeps an empty `title` in the manifest (a test flags it), but its
        # page and sidebar entry still need a name.
        return self.title or posixpath.splitext(posixpath.basename(self.notebook))[0]


def pop_frontmatter(nb) -> dict:
    "Remove nbdev's leading raw `---` YAML cell (FrontmatterProc puts it first) and return it."
    if nb.cells and nb.cells[0].cell_type == 'raw':
        m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', nb.cells[0].source.strip() + '\n', re.S)
        if m:
            nb.cells.pop(0)
            return yaml.safe_load(m.group(1)) or {}
    return {}


_CELL_OPTION = re.compile(r'^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')


def pop_cell_options(cell) -> dict:
    "Strip the leading `#| key: value` lines Quarto reads (nbdev leaves them in `_proc`)."
    lines = cell.source.splitlines()
    options, body_start = {}, 0
    for i, line in enumerate(lines):
        if not line.startswith('#|'): break
        body_start = i + 1
        m = _CELL_OPTION.match(line)
        if m:
            try: options[m[1]] = yaml.safe_load(m[2]) if m[2] else True
            except yaml.YAMLError: options[m[1]] = m[2]
    cell.source = '\n'.join(lines[body_start:])
    return options


_ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')


def plain_output_text(text: str) -> str:
    "What a terminal shows: ANSI codes stripped, a `\\r`-rewritten line (progress bars) at its last state."
    return '\n'.join(line.split('\r')[-1] for line in _ANSI.sub('', text).split('\n'))


def fenced(text: str, info: str = '') -> str:
    "A fenced code block that no backtick run inside `text` can close."
    fence = '`' * max(3, max((len(run) for run in re.findall(r'`+', text)), default=0) + 1)
    return f'{fence}{info}\n{text.rstrip(chr(10))}\n{fence}'


def div(classes: str, inside: str) -> str:
    return f'::: {{{classes}}}\n{inside}\n:::'


IMAGE_TYPES = {'image/svg+xml': 'svg', 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif'}
# Quarto's choice among an output's representations for HTML pages, best first.
MIME_PREFERENCE = ['text/html', 'text/markdown', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif',
                   'text/latex', 'text/plain']


@dataclass
class MediaDir:
    "Where a page's output images go: `<page>_files/figure-html/`, as Quarto names them."
    out_dir: Path
    page_file: str

    def write(self, name: str, data: bytes) -> str:
        "Write one file, return its URL relative to the page."
        rel = posixpath.join(posixpath.splitext(posixpath.basename(self.page_file))[0] + '_files', 'figure-html', name)
        dest = self.out_dir / posixpath.dirname(self.page_file) / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return rel


def output_markdown(out, where: str, media: MediaDir) -> str:
    "One output, as Quarto's markdown for it."
    kind = out.get('output_type')
    if kind == 'stream':
        return div(f'.cell-output .cell-output-{out.get("name", "stdout")}', fenced(plain_output_text(out.get('text', ''))))
    if kind == 'error':
        return div('.cell-output .cell-output-error', fenced(plain_output_text('\n'.join(out.get('traceback', [])))))
    data = out.get('data', {})
    mime = next((m for m in MIME_PREFERENCE if m in data), None)
    if mime is None: return ''
    value = data[mime]
    value = ''.join(value) if isinstance(value, list) else value
    if mime in IMAGE_TYPES:
        raw = value.encode('utf-8') if mime == 'image/svg+xml' else base64.b64decode(value)
        inside = f'![]({media.write(f"{where}.{IMAGE_TYPES[mime]}", raw)})'
    elif mime == 'text/html': inside = fenced(value, '{=html}')
    elif mime in ('text/markdown', 'text/latex'): inside = value     # pandoc reads them as markdown
    else: inside = fenced(plain_output_text(value))
    return div('.cell-output .cell-output-display', inside)


def cell_markdown(cell, index: int, media: MediaDir) -> str:
    "One cell as Quarto writes it before pandoc: markdown as is, code as a `.cell` div (cell options applied)."
    if cell.cell_type == 'markdown':
        source = cell.source
        for name, bundle in (cell.get('attachments') or {}).items():
            mime = next((m for m in IMAGE_TYPES if m in bundle), None)
            if mime:
                data = bundle[mime].encode() if mime == 'image/svg+xml' else base64.b64decode(bundle[mime])
                source = source.replace(f'attachment:{name}', media.write(f'cell-{index}-{name}', data))
        return source
    if cell.cell_type == 'raw': return cell.source
    options = pop_cell_options(cell)
    if options.get('include') is False: return ''
    parts = []
    if cell.source.strip() and options.get('echo') is not False:
        code = fenced(cell.source, '{.python .cell-code}')
        fold = options.get('code-fold')
        if fold in (True, 'show'):
            summary = html.escape(str(options.get('code-summary', 'Code')))
            code = (f'<details class="code-fold"{" open" if fold == "show" else ""}>\n<summary>{summary}</summary>\n\n'
                    f'{code}\n\n</details>')
        parts.append(code)
    if options.get('output') is not False:
        parts += [output_markdown(out, f'cell-{index}-output-{j + 1}', media) for j, out in enumerate(cell.outputs)]
    parts = [p for p in parts if p]
    return div('.cell', '\n\n'.join(parts)) if parts else ''


def notebook_markdown(nb, frontmatter: dict, media: MediaDir) -> str:
    "The whole page as one pandoc markdown document, frontmatter as its YAML metadata block."
    cells = [cell_markdown(cell, i, media) for i, cell in enumerate(nb.cells)]
    meta = yaml.safe_dump(frontmatter, allow_unicode=True, sort_keys=False) if frontmatter else ''
    return (f'---\n{meta}---\n\n' if meta else '') + '\n\n'.join(c.strip('\n') for c in cells if c.strip()) + '\n'


def count_error_outputs(nb) -> int:
    return sum(out.get('output_type') == 'error' for cell in nb.cells for out in cell.get('outputs', []))


# ---------------------------------------------------------------- pandoc

def pandoc_path() -> str:
    try:
        import pypandoc
        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        found = shutil.which('pandoc')
        if found: return found
        raise SystemExit('docs_preview: pandoc not found: pip install pypandoc-binary (in the dev extras)')


PARTS = ('title', 'description', 'pagetitle', 'body')
SPLIT = '\n<!--docs-preview-part-->\n'
TEMPLATE = SPLIT.join(['$title$', '$description$', '$pagetitle$', '$body$']) + '\n'
PANDOC_ARGS = ['-f', 'markdown', '-t', 'html5', '--standalone', '--mathjax', '--section-divs', '--wrap=none']


def run_pandoc(markdown: str, template: str = TEMPLATE, extra: tuple = ()) -> tuple[str, list]:
    "(pandoc's HTML with `template`, its JSON log messages)."
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / 'page.tpl').write_text(template, encoding='utf-8')
        result = subprocess.run([pandoc_path(), *PANDOC_ARGS, *extra, '--template', str(Path(tmp) / 'page.tpl'),
                                 '--log', str(Path(tmp) / 'log.json')],
                                input=markdown, capture_output=True, text=True, encoding='utf-8')
        if result.returncode:
            raise RuntimeError(f'pandoc failed ({result.returncode}): {result.stderr[-2000:]}')
        log = Path(tmp) / 'log.json'
        return result.stdout, (json.loads(log.read_text(encoding='utf-8') or '[]') if log.exists() else [])


def render_markdown(markdown: str) -> tuple[dict, list[str]]:
    "Pandoc renders one page: ({part: html} for PARTS, warnings about TeX it dropped)."
    rendered, log = run_pandoc(markdown)
    parts = dict(zip(PARTS, rendered.split(SPLIT)))
    warnings = [f'{m["contents"]["c"][1][:60]!r}: pandoc read this as raw LaTeX and dropped it (only $...$ / '
                f'$$...$$ is math for pandoc and Quarto; \\( \\) and \\[ \\] come out as plain brackets)'
                for m in log if m.get('type') in ('InlineNotRendered', 'BlockNotRendered')
                and (m.get('contents') or {}).get('c', [''])[0] in ('tex', 'latex')]
    return {k: parts.get(k, '').strip() for k in PARTS}, warnings


def highlighting_css() -> str:
    "pandoc's CSS for its highlighted code (the same for every page)."
    css, _ = run_pandoc('```python\nx = 1\n```\n', '$highlighting-css$\n')
    return css


# ---------------------------------------------------------------- links

def _is_external(url: str) -> bool:
    return bool(re.match(r'^([a-zA-Z][a-zA-Z0-9+.-]*:|//)', url))


@dataclass
class LinkContext:
    "What link rewriting needs to know about the site and the page being written."
    site_url: str
    page_file: str                 # this page's output file, relative to the preview root
    notebook: str                  # this page's notebook, relative to nbs/
    outputs: dict                  # notebook (relative to nbs/) -> output file
    nbs_dir: Path
    out_dir: Path
    copied: set = field(default_factory=set)


def _relative_url(target: str, from_file: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(from_file) or '.')


def rewrite_url(url: str, ctx: LinkContext) -> str:
    """Site-absolute doc links -> relative; `x.ipynb` -> its page; local files get copied along."""
    for prefix in (ctx.site_url, ctx.site_url.replace('https://', 'http://', 1)):
        if url.startswith(prefix) or url == prefix.rstrip('/'):
            path, hash_, fragment = url[len(prefix):].partition('#')
            path = path or 'index.html'
            if path.endswith('/'): path += 'index.html'
            return _relative_url(path, ctx.page_file) + hash_ + fragment
    if not url or url.startswith('#') or _is_external(url): return url
    path, hash_, fragment = url.partition('#')
    # Relative URLs in a notebook are relative to the notebook's folder, which is also the
    # page's folder in the preview (pages mirror nbs/), so only the file name may change.
    target = posixpath.normpath(posixpath.join(posixpath.dirname(ctx.notebook), unquote(path.split('?')[0])))
    if target in ctx.outputs: return _relative_url(ctx.outputs[target], ctx.page_file) + hash_ + fragment
    if not target.startswith('../') and target not in ctx.copied and (ctx.nbs_dir / target).is_file() \
            and not target.endswith('.ipynb'):   # an image or data file next to the notebook
        (ctx.out_dir / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ctx.nbs_dir / target, ctx.out_dir / target)
        ctx.copied.add(target)
    return url


def rewrite_links(soup, ctx: LinkContext):
    for tag, attr in (('a', 'href'), ('img', 'src'), ('source', 'src'), ('video', 'src'),
                      ('audio', 'src'), ('iframe', 'src'), ('embed', 'src'), ('object', 'data')):
        for el in soup.find_all(tag, attrs={attr: True}):
            el[attr] = rewrite_url(el[attr], ctx)
    return soup


def table_of_contents(soup) -> str:
    "Nested list of the h2/h3 headings pandoc made (id on the heading or on its <section>), in order."
    items = []   # [h2 link, [h3 links]]
    for h in soup.find_all(['h2', 'h3']):
        ident = h.get('id') or (h.parent.get('id') if h.parent and h.parent.name == 'section' else None)
        if not ident: continue     # a heading inside raw HTML output: not pandoc's, not in Quarto's TOC
        link = f'<li><a href="#{html.escape(ident)}">{html.escape(h.get_text(" ", strip=True))}</a>'
        if h.name == 'h2' or not items: items.append([link, []])
        else: items[-1][1].append(link + '</li>')
    sub = lambda links: f'<ul>{"".join(links)}</ul>' if links else ''
    return f'<ul>{"".join(link + sub(links) + "</li>" for link, links in items)}</ul>' if items else ''


# ---------------------------------------------------------------- page shell

SHELL_CSS = """
:root { --sidebar-w: 17rem; --toc-w: 15rem; --accent: #2780e3; --muted: #6c757d; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #212529; background: #fff; display: flex; align-items: stretch; min-height: 100vh; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
/* Side columns span the page (so full-page screenshots show them); their insides stay in view. */
#sidebar { flex: 0 0 var(--sidebar-w); border-right: 1px solid #e5e5e5; background: #fafafa; font-size: .92rem; }
#sidebar .sidebar-inner, #TOC .toc-inner { position: sticky; top: 0; max-height: 100vh; overflow-y: auto; padding: 1.2rem 1rem; }
#sidebar .site-title { display: block; font-weight: 700; font-size: 1.1rem; margin-bottom: 1rem; color: #212529; }
#sidebar ul { list-style: none; margin: 0 0 .6rem 0; padding-left: .4rem; }
#sidebar li { margin: .15rem 0; }
#sidebar li a { display: block; padding: .1rem .5rem; border-radius: .25rem; color: #343a40; }
#sidebar li a.active { background: #e7f1fc; color: var(--accent); font-weight: 600; }
#sidebar .sidebar-section-title { font-weight: 600; margin: .8rem 0 .3rem; color: #212529; }
#sidebar .sidebar-missing { color: #b02a37; padding: .1rem .5rem; display: block; }
#TOC { flex: 0 0 var(--toc-w); font-size: .85rem; order: 3; }
#TOC .toc-title { font-weight: 600; margin-bottom: .4rem; }
#TOC ul { list-style: none; margin: 0; padding-left: .8rem; border-left: 1px solid #dee2e6; }
#TOC ul ul { border-left: 0; }
#TOC li a { display: block; padding: .1rem 0; color: #495057; overflow-wrap: anywhere; }
main { flex: 1 1 auto; min-width: 0; padding: 1.5rem 2.5rem 4rem; max-width: 62rem; }
main > header h1.title { margin: 0 0 .3rem; font-size: 2.2rem; }
main > header .description { margin-bottom: 1.5rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.6rem 0 .6rem; }
pre, code { font-family: SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .87rem; }
:not(pre) > code { background: #f4f4f4; padding: .05rem .25rem; border-radius: .2rem; color: #9a2a6a; }
pre { margin: 0; padding: .6rem .8rem; overflow-x: auto; white-space: pre; }
.cell > .sourceCode, .cell > details > .sourceCode { background: #f7f7f8; border-radius: .3rem; }
.cell-output { margin-top: .3rem; }
.cell-output-stderr pre, .cell-output-error pre { background: #fdeeee; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #dee2e6; padding: .25rem .6rem; }
details.code-fold > summary { cursor: pointer; color: var(--muted); font-size: .9rem; margin-bottom: .2rem; }
blockquote { margin: .5rem 0; padding-left: 1rem; border-left: 3px solid #dee2e6; color: #495057; }
hr { border: 0; border-top: 1px solid #dee2e6; margin: 1.5rem 0; }
[class*="callout-"] { border-left: 4px solid var(--accent); background: #f4f8fd; padding: .5rem 1rem; margin: 1rem 0; }
.callout-warning, .callout-caution { border-left-color: #f0ad4e; background: #fdf8ee; }
.callout-important { border-left-color: #d9534f; background: #fbeeee; }
.callout-tip { border-left-color: #3fb618; background: #f0f9ee; }
"""

# pandoc --mathjax writes math as \(...\) and \[...\] inside span.math; a `$` left in the text is a
# literal dollar, so MathJax must not look for `$` delimiters (Quarto's MathJax does not either).
MATHJAX_CONFIG = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [['\\(', '\\)']], displayMath: [['\\[', '\\]']], processEscapes: false,
            processEnvironments: false},
  "HTML-CSS": {availableFonts: ["TeX"], preferredFont: "TeX", webFont: "TeX", imageFont: null},
  showMathMenu: false, messageStyle: "none"
});
</script>"""


def render_sidebar(nodes, page: PageInfo, pages_by_notebook: dict, titles: dict) -> str:
    "Sidebar HTML: section titles, page titles linking to each output file, the current page marked."
    def entry_html(node):
        if node.kind == 'link':
            return f'<li><a href="{html.escape(node.target)}">{html.escape(node.text or node.target)}</a></li>'
        target = pages_by_notebook.get(_normalise_sidebar_target(node.target))
        if target is None:
            return f'<li><span class="sidebar-missing" title="not found in nbs/">{html.escape(node.text or node.target)}</span></li>'
        active = ' class="active" aria-current="page"' if target is page else ''
        text = html.escape(node.text) if node.text else titles[target.notebook]
        return f'<li><a href="{html.escape(_relative_url(target.file, page.file))}"{active}>{text}</a></li>'

    def nodes_html(children):
        items = []
        for node in children:
            if node.kind == 'section':
                title = f'<div class="sidebar-section-title">{html.escape(node.text)}</div>' if node.text else ''
                items.append(f'<li class="sidebar-section">{title}<ul>{nodes_html(node.children)}</ul></li>')
            else: items.append(entry_html(node))
        return ''.join(items)

    return f'<ul class="sidebar-contents">{nodes_html(nodes)}</ul>'


def render_page(page: PageInfo, parts: dict, sidebar_html: str, site_title: str, mathjax: bool,
                home_file: str = 'index.html') -> str:
    to_root = _relative_url('.', page.file)
    root = '' if to_root == '.' else to_root + '/'
    mathjax_tags = (MATHJAX_CONFIG + f'\n<script src="{root}{MATHJAX_LINK_NAME}/MathJax.js?config=TeX-AMS_HTML"></script>'
                    if mathjax else '')
    description = f'<div class="description">{parts["description"]}</div>' if parts['description'] else ''
    toc = (f'<nav id="TOC" role="doc-toc" aria-label="On this page"><div class="toc-inner">'
           f'<div class="toc-title">On this page</div>\n{parts["toc"]}\n</div></nav>' if parts['toc'] else '')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{parts['pagetitle'] if parts['title'] else html.escape(page.display_title)} – {html.escape(site_title)}</title>
<link rel="stylesheet" href="{root}{CSS_FILE_NAME}">
{mathjax_tags}
</head>
<body>
<nav id="sidebar" aria-label="Site"><div class="sidebar-inner">
<a class="site-title" href="{html.escape(_relative_url(home_file, page.file))}">{html.escape(site_title)}</a>
{sidebar_html}
</div></nav>
{toc}
<main id="content">
<header id="title-block-header">
<h1 class="title">{parts['title'] or html.escape(page.display_title)}</h1>
{description}
</header>
{parts['body']}
</main>
</body>
</html>
"""


def link_mathjax(out: Path, mathjax_dir: Path = MATHJAX_DIR) -> bool:
    "Make MathJax reachable as <out>/mathjax (a symlink; a copy where symlinks are not possible)."
    if not (mathjax_dir / 'MathJax.js').exists(): return False
    dest = out / MATHJAX_LINK_NAME
    if dest.is_symlink() or dest.exists(): return True
    try: dest.symlink_to(mathjax_dir, target_is_directory=True)
    except OSError: shutil.copytree(mathjax_dir, dest)
    return True


# ---------------------------------------------------------------- building the whole site

def plan_pages(notebooks: list[str], proc_dir: Path, sidebar: list[SidebarNode]) -> dict:
    "Read every processed notebook once: notebook -> (PageInfo, notebook node, frontmatter)."
    sections = {}
    for node, section in iter_sidebar(sidebar):
        if node.kind == 'file': sections.setdefault(_normalise_sidebar_target(node.target), section)
    plans = {}
    for notebook in notebooks:
        # execnb writes outputs in its own (valid, list-of-lines) form; nbformat normalises it on read.
        nb = nbformat.reads((proc_dir / notebook).read_text(encoding='utf-8'), as_version=4)
        fm = pop_frontmatter(nb)
        output_name = fm.get('output-file') or posixpath.basename(default_output_file(notebook))
        page = PageInfo(notebook=notebook, file=posixpath.join(posixpath.dirname(notebook), output_name),
                        title=str(fm.get('title') or ''), description=str(fm.get('description') or ''),
                        section=sections.get(notebook), error_outputs=count_error_outputs(nb))
        plans[notebook] = (page, nb, fm)
    return plans


def build_site(proc_dir: Path, out: Path, settings: SiteSettings, notebooks: list[str] | None = None,
               mathjax_dir: Path = MATHJAX_DIR) -> dict:
    """Render already-processed notebooks (`proc_dir`, laid out like nbs/) into `out`.

    Separate from `build_preview` so tests can build small sites without running nbdev."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    nbs_dir = settings.nbs_dir
    if notebooks is None: notebooks = find_notebooks(nbs_dir, settings.recursive)
    sidebar = read_sidebar(nbs_dir / 'sidebar.yml')
    mathjax = link_mathjax(out, mathjax_dir)
    user_css = nbs_dir / 'styles.css'
    (out / CSS_FILE_NAME).write_text(
        f'{SHELL_CSS}\n/* pandoc highlighting */\n{highlighting_css()}\n/* nbs/styles.css (the real site loads it too) */\n'
        f'{user_css.read_text(encoding="utf-8") if user_css.exists() else ""}\n', encoding='utf-8')

    plans = plan_pages(notebooks, proc_dir, sidebar)
    pages = {nb: page for nb, (page, _, _) in plans.items()}
    outputs = {nb: page.file for nb, page in pages.items()}
    # The site title links home: index.html where there is an index notebook, else the first page.
    home_file = next((f for f in outputs.values() if f == 'index.html'), next(iter(outputs.values()), 'index.html'))
    copied, rendered = set(), {}
    for notebook, (page, nb, fm) in plans.items():
        parts, page.math_warnings = render_markdown(notebook_markdown(nb, fm, MediaDir(out, page.file)))
        ctx = LinkContext(site_url=settings.site_url, page_file=page.file, notebook=notebook,
                          outputs=outputs, nbs_dir=nbs_dir, out_dir=out, copied=copied)
        body = rewrite_links(BeautifulSoup(parts['body'], 'html.parser'), ctx)
        parts.update(body=str(body), toc=table_of_contents(body),
                     description=str(rewrite_links(BeautifulSoup(parts['description'], 'html.parser'), ctx)))
        page.has_math = 'class="math' in parts['title'] + parts['description'] + parts['body']
        rendered[notebook] = parts
    titles = {nb: parts['title'] or html.escape(pages[nb].display_title) for nb, parts in rendered.items()}
    for notebook, parts in rendered.items():
        page = pages[notebook]
        dest = out / page.file
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render_page(page, parts, render_sidebar(sidebar, page, pages, titles), settings.title,
                                    mathjax, home_file), encoding='utf-8')

    targets = [_normalise_sidebar_target(n.target) for n, _ in iter_sidebar(sidebar) if n.kind == 'file']
    manifest = {
        'pages': [vars(page) for page in pages.values()],
        'sidebar_sections': [n.text for n, _ in iter_sidebar(sidebar) if n.kind == 'section' and n.text],
        'mathjax': mathjax,
        'notebooks_not_in_sidebar': [nb for nb in notebooks if nb not in targets],
        'sidebar_entries_missing': [t for t in targets if t not in notebooks],
        'copied_files': sorted(copied),
        'render_seconds': round(time.perf_counter() - started, 2),
    }
    (out / 'manifest.json').write_text(json.dumps(manifest, indent=2), encoding='utf-8')
    return manifest


def clear_previous_preview(out: Path, repo: Path) -> None:
    "Empty `out` for a fresh build, but only if it is a former preview (never the repo or nbs/)."
    if not out.exists(): return
    if out == repo or out in repo.parents or not out.is_dir() or (
            any(out.iterdir()) and not (out / 'manifest.json').exists()):
        raise SystemExit(f'docs_preview: refusing to overwrite {out}: not empty and not a previous preview')
    shutil.rmtree(out)


def build_preview(out: Path, repo: Path = REPO_ROOT, workers: int = 0) -> dict:
    """nbdev processing + rendering: the whole preview. With `workers` > 0 nbdev's proc_nbs starts
    'spawn' worker processes, so call it under `if __name__ == '__main__':`."""
    repo, out = Path(repo).resolve(), Path(out).resolve()
    clear_previous_preview(out, repo)
    settings = read_settings(repo)
    pandoc_path()   # fail before the slow part if pandoc is missing
    started = time.perf_counter()
    proc_dir = run_nbdev_processing(repo, workers)
    proc_seconds = round(time.perf_counter() - started, 2)
    # proc_nbs keeps processed copies of deleted notebooks in its cache: only render current ones.
    manifest = build_site(proc_dir, out, settings, find_notebooks(settings.nbs_dir, settings.recursive))
    manifest['proc_seconds'] = proc_seconds
    (out / 'manifest.json').write_text(json.dumps(manifest, indent=2), encoding='utf-8')
    return manifest


def report(manifest: dict, out: Path) -> str:
    lines = [f"{len(manifest['pages'])} pages in {out} (nbdev processing {manifest.get('proc_seconds', '?')}s, "
             f"pandoc rendering {manifest['render_seconds']}s, mathjax: {manifest['mathjax']})"]
    for page in manifest['pages']:
        lines.append(f"  {page['notebook']:<32} -> {page['file']:<24} {page['title']}")
        lines += [f"    warning: {w}" for w in page['math_warnings']]
        if page['error_outputs']: lines.append(f"    warning: {page['error_outputs']} error output(s)")
    for key in ('notebooks_not_in_sidebar', 'sidebar_entries_missing'):
        if manifest[key]: lines.append(f"  {key}: {', '.join(manifest[key])}")
    lines.append(f"open {out / 'index.html'} (or: python -m http.server -d {out})")
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='_preview', help='output folder (default: _preview)')
    parser.add_argument('--repo', default=str(REPO_ROOT), help='project root holding settings.ini')
    parser.add_argument('--workers', type=int, default=0,
                        help="nbdev processing worker processes (default 0: in this process, fastest on 2 cores)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    try: manifest = build_preview(out, Path(args.repo), args.workers)
    except NbdevProcessingError as e:
        print(f'docs_preview: {e}', file=sys.stderr)
        return 1
    print(report(manifest, out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
