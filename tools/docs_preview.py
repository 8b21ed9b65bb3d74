"""Offline preview of the nbdev docs site, for machines without Quarto.

    python tools/docs_preview.py [--out _preview] [--workers 0]

Runs nbdev's own notebook processing (`nbdev.serve.proc_nbs`, the step `nbdev_docs` runs before
Quarto), then renders each processed notebook in `_proc/` to HTML with nbconvert and wraps it in a
small page shell: a sidebar built from `nbs/sidebar.yml`, the frontmatter title and description,
and MathJax from Debian's `libjs-mathjax` when it is installed. Page names follow the frontmatter's
`output-file`, so links and file names match the real Quarto site. `<out>/manifest.json` lists the
pages; tests/test_docs_preview.py opens every page in a headless browser and checks it.

Where Quarto's markdown (pandoc) and nbconvert's markdown (mistune) disagree, the preview follows
pandoc, because the preview is there to show what the real site will show:
- `$...$` only counts as math under pandoc's rules; any other `$` is shown literally.
- `\\(...\\)` and `\\[...\\]` in markdown are *not* math for pandoc (quarto-cli#2924, #5812): the
  backslashes are eaten and the reader sees `(...)`. The preview does the same and records a
  `math_warnings` entry for the page, so a test can point at the fix (use `$...$` / `$$...$$`).
- heading ids follow pandoc's auto_identifiers (nbdev's doc links use them as fragments).
"""
from __future__ import annotations

import argparse
import configparser
import html
import json
import os
import posixpath
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import nbformat
import yaml
from bs4 import BeautifulSoup
from jinja2 import pass_context
from nbconvert import HTMLExporter
from pygments.formatters import HtmlFormatter

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
    return SiteSettings(nbs_dir=repo / cfg.get('nbs_path', 'nbs'),
                        site_url=site_url.rstrip('/') + '/',
                        title=cfg.get('title', cfg.get('lib_name', 'docs')),
                        recursive=cfg.get('recursive', 'True').lower() in ('true', '1', 'yes'))


def _is_skipped_name(name: str) -> bool:
    # Same rule as nbdev's nbglob: files and folders starting with '_' or '.' are not docs pages.
    return name.startswith(('_', '.'))


def find_notebooks(nbs_dir: Path, recursive: bool = True) -> list[str]:
    "Notebook paths relative to `nbs_dir` (posix), as nbdev would pick them up for the docs."
    found = []
    for path in sorted(nbs_dir.rglob('*.ipynb') if recursive else nbs_dir.glob('*.ipynb')):
        rel = path.relative_to(nbs_dir)
        if not any(_is_skipped_name(part) for part in rel.parts):
            found.append(rel.as_posix())
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
        return SidebarNode('section', text=str(entry.get('section', '')),
                           target=str(entry.get('href', '')),
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


def sidebar_section_titles(nodes) -> list[str]:
    return [n.text for n, _ in iter_sidebar(nodes) if n.kind == 'section' and n.text]


def _normalise_sidebar_target(target: str) -> str:
    # Sidebar paths are relative to nbs/ (Quarto's project dir); './x.ipynb' and 'x.ipynb' are one page.
    return posixpath.normpath(target.split('#')[0]).lstrip('/')


# ---------------------------------------------------------------- markdown: pandoc-isms and math

_FENCE_OR_CODE = re.compile(
    r'(?P<fence>^[ ]{0,3}(?P<tick>`{3,}|~{3,})[^\n]*\n.*?(?:^[ ]{0,3}(?P=tick)[`~]*[ \t]*$|\Z))'
    r'|(?P<span>(?P<run>`+)(?!`).+?(?<!`)(?P=run)(?!`))', re.M | re.S)


def split_code(markdown: str) -> list[tuple[bool, str]]:
    "Split markdown into (is_code, text) pieces so rewrites never touch code blocks or code spans."
    pieces, last = [], 0
    for m in _FENCE_OR_CODE.finditer(markdown):
        if m.start() > last: pieces.append((False, markdown[last:m.start()]))
        pieces.append((True, m.group(0)))
        last = m.end()
    if last < len(markdown): pieces.append((False, markdown[last:]))
    return pieces


def scan_dollar_math(text: str) -> list[tuple[str, str]]:
    """Split prose into ('text'|'math'|'dollar', s) following pandoc's `tex_math_dollars`.

    `$$...$$` is display math. `$...$` is inline math only when the opening `$` has a non-space
    right after it and the closing `$` a non-space right before it and no digit right after it.
    Every other `$` (including `\\$`) is a literal dollar ('dollar')."""
    out, buf, i, n = [], [], 0, len(text)
    def flush():
        if buf: out.append(('text', ''.join(buf))); buf.clear()
    while i < n:
        ch = text[i]
        if ch == '\\' and i + 1 < n:
            if text[i + 1] == '$': flush(); out.append(('dollar', '\\$')); i += 2; continue
            buf.append(text[i:i + 2]); i += 2; continue
        if ch != '$': buf.append(ch); i += 1; continue
        if text.startswith('$$', i):
            end = text.find('$$', i + 2)
            if end > i + 2: flush(); out.append(('math', text[i:end + 2])); i = end + 2; continue
            flush(); out.append(('dollar', '$$')); i += 2; continue
        end = _inline_math_end(text, i)
        if end: flush(); out.append(('math', text[i:end + 1])); i = end + 1; continue
        flush(); out.append(('dollar', '$')); i += 1
    flush()
    return out


def _inline_math_end(text: str, start: int) -> int | None:
    "Index of the `$` closing inline math opened at `start`, or None (pandoc's rules)."
    if start + 1 >= len(text) or text[start + 1].isspace(): return None
    j = start + 1
    while True:
        j = text.find('$', j)
        if j < 0: return None
        if '\n\n' in text[start:j]: return None          # inline math does not cross paragraphs
        escaped = text[j - 1] == '\\'
        closes = not text[j - 1].isspace() and not (j + 1 < len(text) and text[j + 1].isdigit())
        if not escaped and closes: return j
        j += 1


_SINGLE_BACKSLASH_MATH = re.compile(r'(?<!\\)\\(\(|\[)')
_TEX_ENVIRONMENT = re.compile(r'\\begin\{[a-zA-Z*]+\}')


def markdown_math_report(markdown: str) -> tuple[bool, list[str]]:
    "(has math the real site renders, warnings about math it will not render)."
    has_math, warnings = False, []
    for is_code, piece in split_code(markdown):
        if is_code: continue
        if any(kind == 'math' for kind, _ in scan_dollar_math(piece)) or _TEX_ENVIRONMENT.search(piece):
            has_math = True
        for m in _SINGLE_BACKSLASH_MATH.finditer(piece):
            snippet = piece[m.start():m.start() + 40].split('\n')[0]
            warnings.append(f'{snippet!r}: Quarto renders only $...$ / $$...$$ math; '
                            f'\\( \\) and \\[ \\] come out as plain brackets (quarto-cli#2924)')
    return has_math, warnings


_ATTR_TOKEN = re.compile(r'\.([\w-]+)|#([\w-]+)|([\w-]+)=("[^"]*"|\'[^\']*\'|[^\s}]+)')


def pandoc_attrs_to_html(attrs: str) -> str:
    "`.cls #id key=val` (pandoc attribute syntax) -> ` class=... id=... key=...`."
    classes, parts = [], []
    for cls, ident, key, value in _ATTR_TOKEN.findall(attrs):
        if cls: classes.append(cls)
        elif ident: parts.append(f'id="{html.escape(ident)}"')
        elif key:
            value = value[1:-1] if value[:1] in '"\'' else value
            parts.append(f'{key}="{html.escape(value)}"')
    if classes: parts.insert(0, f'class="{" ".join(classes)}"')
    return (' ' + ' '.join(parts)) if parts else ''


_IMAGE_WITH_ATTRS = re.compile(r'!\[([^\]\n]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)\{([^}\n]*)\}')
_LINK_WITH_ATTRS = re.compile(r'(?<!!)\[([^\]\n]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)\{([^}\n]*)\}')
_SPAN_WITH_ATTRS = re.compile(r'(?<![!\]])\[([^\]\n]+)\]\{([^}\n]*)\}')
_FENCED_DIV = re.compile(r'^[ ]{0,3}(:{3,})[ \t]*(\{[^}\n]*\}|[\w-]+)?[ \t]*$', re.M)


def convert_pandoc_inline_attrs(text: str) -> str:
    "`[txt](url){attrs}`, `![alt](src){attrs}`, `[txt]{attrs}` -> inline HTML (mistune knows none)."
    text = _IMAGE_WITH_ATTRS.sub(
        lambda m: f'<img src="{html.escape(m[2])}" alt="{html.escape(m[1])}"{pandoc_attrs_to_html(m[3])}>', text)
    text = _LINK_WITH_ATTRS.sub(lambda m: f'<a href="{html.escape(m[2])}"{pandoc_attrs_to_html(m[3])}>{m[1]}</a>', text)
    return _SPAN_WITH_ATTRS.sub(lambda m: f'<span{pandoc_attrs_to_html(m[2])}>{m[1]}</span>', text)


def convert_fenced_divs(text: str) -> str:
    "Quarto's `::: {.callout-note}` ... `:::` blocks -> <div> (blank lines keep the inside markdown)."
    depth = 0
    def replace(m):
        nonlocal depth
        spec = m.group(2)
        if spec:
            depth += 1
            attrs = pandoc_attrs_to_html(spec[1:-1]) if spec.startswith('{') else f' class="{spec}"'
            return f'<div{attrs}>\n'
        if depth:
            depth -= 1
            return '\n</div>'
        return m.group(0)
    return _FENCED_DIV.sub(replace, text)


ESCAPED_DOLLAR_TOKEN = 'PREVIEWLITERALDOLLARTOKEN'


def _literal_dollars(text: str) -> str:
    # A token that no markdown or math parser touches; restore_markdown turns it into `\$`, which
    # MathJax (processEscapes) shows as `$` and never pairs up into math.
    return ESCAPED_DOLLAR_TOKEN * text.count('$')


def prepare_markdown(markdown: str) -> str:
    "Rewrite the pandoc-only syntax nbdev and Quarto notebooks use into what mistune understands."
    out = []
    for is_code, piece in split_code(markdown):
        if is_code: out.append(piece); continue
        for kind, text in scan_dollar_math(convert_fenced_divs(piece)):
            if kind == 'math': out.append(text)        # TeX stays as written, for MathJax
            elif kind == 'dollar': out.append(_literal_dollars(text))
            else: out.append(convert_pandoc_inline_attrs(text))
    return ''.join(out)


def restore_markdown(rendered: str, mathjax: bool) -> str:
    return rendered.replace(ESCAPED_DOLLAR_TOKEN, '\\$' if mathjax else '$')


class PreviewHTMLExporter(HTMLExporter):
    "nbconvert's lab markup, with markdown first passed through `prepare_markdown`."
    def __init__(self, mathjax: bool, **kw):
        super().__init__(template_name='lab', template_file='base.html.j2', exclude_input_prompt=True,
                         exclude_output_prompt=True, **kw)
        self.preview_mathjax = mathjax

    @pass_context  # jinja hands the template context (cell attachments, path) to the filter
    def markdown2html(self, context, source):
        rendered = super().markdown2html(context, prepare_markdown(source))
        return restore_markdown(rendered, self.preview_mathjax)


# ---------------------------------------------------------------- notebook -> page body

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


def apply_quarto_cell_options(nb) -> None:
    "Do what Quarto does with echo/output/include/code-fold, so the page shows what the site shows."
    kept = []
    for i, cell in enumerate(nb.cells):
        if not cell.get('id'): cell['id'] = f'preview-cell-{i}'
        if cell.cell_type == 'markdown' and not cell.source.strip(): continue
        if cell.cell_type != 'code': kept.append(cell); continue
        options = pop_cell_options(cell)
        if options.get('include') is False: continue
        if options.get('output') is False: cell.outputs = []
        if options.get('echo') is False or not cell.source.strip():
            cell.metadata.setdefault('transient', {})['remove_source'] = True
        fold = options.get('code-fold')
        if fold in (True, 'show') and not cell.metadata.get('transient', {}).get('remove_source'):
            cell.metadata['preview_fold'] = {'open': fold == 'show',
                                             'summary': str(options.get('code-summary', 'Code'))}
        if cell.source.strip() or cell.outputs: kept.append(cell)
    nb.cells = kept


def notebook_math(nb) -> tuple[bool, list[str]]:
    has_math, warnings = False, []
    for cell in nb.cells:
        sources = [cell.source] if cell.cell_type == 'markdown' else []
        for out in cell.get('outputs', []):
            data = out.get('data', {})
            if 'text/latex' in data: has_math = True
            if 'text/markdown' in data: sources.append(data['text/markdown'])
        for source in sources:
            cell_has_math, cell_warnings = markdown_math_report(source)
            has_math |= cell_has_math
            warnings += cell_warnings
    return has_math, warnings


def count_error_outputs(nb) -> int:
    return sum(out.get('output_type') == 'error' for cell in nb.cells for out in cell.get('outputs', []))


# ---------------------------------------------------------------- HTML post-processing

def pandoc_identifier(text: str) -> str:
    "pandoc's auto_identifiers: keep alphanumerics and _-. , spaces -> '-', lowercase, start at a letter."
    kept = ''.join(c for c in text.lower() if c.isalnum() or c in '_-. \n\t')
    ident = '-'.join(kept.split())
    ident = re.sub(r'^[^a-z\u00c0-\uffff]+', '', ident)
    return ident or 'section'


def set_heading_ids(soup) -> None:
    "Give headings pandoc's ids (nbconvert's differ), so nbdev's `page.html#name` links resolve."
    used = {tag['id'] for tag in soup.find_all(id=True) if not re.match(r'^h[1-6]$', tag.name)}
    for heading in soup.find_all(re.compile(r'^h[1-6]$')):
        anchor = heading.find('a', class_='anchor-link')
        text = ''.join(s for s in heading.find_all(string=True) if not (anchor and s.parent is anchor))
        ident = base = pandoc_identifier(text)
        n = 0
        while ident in used:
            n += 1
            ident = f'{base}-{n}'
        used.add(ident)
        heading['id'] = ident
        if anchor: anchor['href'] = '#' + ident


def wrap_folded_code(soup, folds: dict) -> None:
    "Quarto's code-fold: the cell's input goes inside <details> (open for `code-fold: show`)."
    for cell_id, fold in folds.items():
        cell = soup.find(id=f'cell-id={cell_id}')
        wrapper = cell.find(class_='jp-Cell-inputWrapper') if cell else None
        if wrapper is None: continue
        details = soup.new_tag('details', attrs={'class': 'code-fold'})
        if fold['open']: details['open'] = ''
        summary = soup.new_tag('summary')
        summary.string = fold['summary']
        wrapper.wrap(details)
        details.insert(0, summary)


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


def _split_fragment(url: str) -> tuple[str, str]:
    path, hash_, fragment = url.partition('#')
    return path, (hash_ + fragment)


def rewrite_url(url: str, ctx: LinkContext) -> str:
    """Site-absolute doc links -> relative; `x.ipynb` -> its page; local files get copied along."""
    for prefix in (ctx.site_url, ctx.site_url.replace('https://', 'http://', 1)):
        if url.startswith(prefix) or url == prefix.rstrip('/'):
            path, fragment = _split_fragment(url[len(prefix):])
            path = path or 'index.html'
            if path.endswith('/'): path += 'index.html'
            return _relative_url(path, ctx.page_file) + fragment
    if not url or url.startswith('#') or _is_external(url): return url
    path, fragment = _split_fragment(url)
    # Relative URLs in a notebook are relative to the notebook's folder, which is also the
    # page's folder in the preview (pages mirror nbs/), so only the file name may change.
    target = posixpath.normpath(posixpath.join(posixpath.dirname(ctx.notebook), unquote(path.split('?')[0])))
    if target in ctx.outputs:
        return _relative_url(ctx.outputs[target], ctx.page_file) + fragment
    copy_local_file(target, ctx)
    return url


def copy_local_file(target: str, ctx: LinkContext) -> None:
    "Copy a file a page refers to (an image, a data file) from nbs/ to the same place in the preview."
    if target.startswith('../') or target in ctx.copied: return
    source = ctx.nbs_dir / target
    if source.is_file() and source.suffix != '.ipynb':
        dest = ctx.out_dir / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        ctx.copied.add(target)


def rewrite_links(soup, ctx: LinkContext) -> None:
    for tag, attr in (('a', 'href'), ('img', 'src'), ('source', 'src'), ('video', 'src'),
                      ('audio', 'src'), ('iframe', 'src'), ('embed', 'src'), ('object', 'data')):
        for el in soup.find_all(tag, attrs={attr: True}):
            el[attr] = rewrite_url(el[attr], ctx)


def postprocess_body(body_html: str, folds: dict, ctx: LinkContext) -> str:
    soup = BeautifulSoup(body_html, 'html.parser')
    set_heading_ids(soup)
    wrap_folded_code(soup, folds)
    rewrite_links(soup, ctx)
    return str(soup)


# ---------------------------------------------------------------- page shell

SHELL_CSS = """
:root { --sidebar-w: 17rem; --accent: #2780e3; --muted: #6c757d; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #212529; background: #fff; display: flex; align-items: stretch; min-height: 100vh; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
/* The sidebar column spans the page (so full-page screenshots show it); its inside stays in view. */
#sidebar { flex: 0 0 var(--sidebar-w); border-right: 1px solid #e5e5e5; background: #fafafa; font-size: .92rem; }
#sidebar .sidebar-inner { position: sticky; top: 0; max-height: 100vh; overflow-y: auto; padding: 1.2rem 1rem; }
#sidebar .site-title { display: block; font-weight: 700; font-size: 1.1rem; margin-bottom: 1rem; color: #212529; }
#sidebar ul { list-style: none; margin: 0 0 .6rem 0; padding-left: .4rem; }
#sidebar li { margin: .15rem 0; }
#sidebar li a { display: block; padding: .1rem .5rem; border-radius: .25rem; color: #343a40; }
#sidebar li a.active { background: #e7f1fc; color: var(--accent); font-weight: 600; }
#sidebar .sidebar-section-title { font-weight: 600; margin: .8rem 0 .3rem; color: #212529; }
#sidebar .sidebar-missing { color: #b02a37; padding: .1rem .5rem; display: block; }
main { flex: 1 1 auto; min-width: 0; padding: 1.5rem 2.5rem 4rem; max-width: 62rem; }
main > header h1.title { margin: 0 0 .3rem; font-size: 2.2rem; }
main > header .description { margin-bottom: 1.5rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.6rem 0 .6rem; }
.anchor-link { visibility: hidden; margin-left: .3rem; color: var(--muted); }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link, h4:hover .anchor-link { visibility: visible; }
pre, code { font-family: SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .87rem; }
:not(pre) > code { background: #f4f4f4; padding: .05rem .25rem; border-radius: .2rem; color: #9a2a6a; }
pre { margin: 0; padding: .6rem .8rem; overflow-x: auto; white-space: pre; }
.jp-InputPrompt, .jp-OutputPrompt, .jp-Collapser { display: none; }
.jp-Cell { margin-bottom: 1rem; }
.jp-CodeCell .jp-InputArea-editor { background: #f7f7f8; border-radius: .3rem; }
.jp-RenderedText pre { padding: .3rem .8rem; margin-left: .8rem; border-left: 2px solid lightsalmon; }
.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] pre { background: #fdeeee; }
.jp-RenderedImage img, .jp-RenderedMarkdown img, .jp-RenderedHTMLCommon img { max-width: 100%; height: auto; }
.jp-RenderedHTMLCommon table { border-collapse: collapse; margin: .5rem 0; }
.jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon td { border: 1px solid #dee2e6; padding: .25rem .6rem; }
.jp-OutputArea-output.jp-RenderedMarkdown .highlight { background: #f7f7f8; border-radius: .3rem; }
details.code-fold > summary { cursor: pointer; color: var(--muted); font-size: .9rem; margin-bottom: .2rem; }
blockquote { margin: .5rem 0; padding-left: 1rem; border-left: 3px solid #dee2e6; color: #495057; }
hr { border: 0; border-top: 1px solid #dee2e6; margin: 1.5rem 0; }
[class*="callout-"] { border-left: 4px solid var(--accent); background: #f4f8fd; padding: .5rem 1rem; margin: 1rem 0; }
.callout-warning, .callout-caution { border-left-color: #f0ad4e; background: #fdf8ee; }
.callout-important { border-left-color: #d9534f; background: #fbeeee; }
.callout-tip { border-left-color: #3fb618; background: #f0f9ee; }
.ansi-red-fg { color: #c0392b; } .ansi-green-fg { color: #1e8449; } .ansi-yellow-fg { color: #b7950b; }
.ansi-blue-fg { color: #2471a3; } .ansi-magenta-fg { color: #8e44ad; } .ansi-cyan-fg { color: #148f77; }
.ansi-red-bg { background: #f5b7b1; } .ansi-green-bg { background: #abebc6; } .ansi-yellow-bg { background: #f9e79f; }
.ansi-bold { font-weight: 700; } .ansi-underline { text-decoration: underline; }
"""

MATHJAX_CONFIG = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
            processEscapes: true, processEnvironments: true},
  "HTML-CSS": {availableFonts: ["TeX"], preferredFont: "TeX", webFont: "TeX", imageFont: null},
  showMathMenu: false, messageStyle: "none"
});
</script>"""


_INLINE_CODE = re.compile(r'`([^`]+)`')
_STRONG = re.compile(r'\*\*(\S(?:.*?\S)?)\*\*')
_EMPHASIS = re.compile(r'(?<![\w*])[*_](\S(?:.*?\S)?)[*_](?![\w*])')


def inline_markdown(text: str) -> str:
    """Titles and descriptions are markdown for Quarto: render `code`, **strong** and *emphasis*.

    Deliberately inline-only: a full markdown pass would turn a title like '1. Intro' into a list."""
    pieces = _INLINE_CODE.split(text)       # odd indexes are code spans
    out = []
    for i, piece in enumerate(pieces):
        if i % 2: out.append(f'<code>{html.escape(piece)}</code>'); continue
        piece = _STRONG.sub(r'<strong>\1</strong>', html.escape(piece))
        out.append(_EMPHASIS.sub(r'<em>\1</em>', piece))
    return ''.join(out)


def plain_text(text: str) -> str:
    return BeautifulSoup(inline_markdown(text), 'html.parser').get_text()


def render_sidebar(nodes, page: PageInfo, pages_by_notebook: dict) -> str:
    "Sidebar HTML: section titles, page titles linking to each output file, the current page marked."
    def entry_html(node):
        if node.kind == 'link':
            return f'<li><a href="{html.escape(node.target)}">{html.escape(node.text or node.target)}</a></li>'
        target = pages_by_notebook.get(_normalise_sidebar_target(node.target))
        if target is None:
            return f'<li><span class="sidebar-missing" title="not found in nbs/">{html.escape(node.text or node.target)}</span></li>'
        active = ' class="active" aria-current="page"' if target is page else ''
        href = html.escape(_relative_url(target.file, page.file))
        return f'<li><a href="{href}"{active}>{inline_markdown(node.text or target.display_title)}</a></li>'

    def nodes_html(children):
        items = []
        for node in children:
            if node.kind == 'section':
                title = f'<div class="sidebar-section-title">{inline_markdown(node.text)}</div>' if node.text else ''
                items.append(f'<li class="sidebar-section">{title}<ul>{nodes_html(node.children)}</ul></li>')
            else: items.append(entry_html(node))
        return ''.join(items)

    return f'<ul class="sidebar-contents">{nodes_html(nodes)}</ul>'


def render_page(page: PageInfo, body: str, sidebar_html: str, site_title: str, mathjax: bool,
                home_file: str = 'index.html') -> str:
    to_root = _relative_url('.', page.file)
    root = '' if to_root == '.' else to_root + '/'
    mathjax_tags = (MATHJAX_CONFIG + f'\n<script src="{root}{MATHJAX_LINK_NAME}/MathJax.js?config=TeX-AMS_HTML"></script>'
                    if mathjax else '')
    description = (f'<div class="description">{inline_markdown(page.description)}</div>' if page.description else '')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(plain_text(page.display_title))} – {html.escape(site_title)}</title>
<link rel="stylesheet" href="{root}{CSS_FILE_NAME}">
{mathjax_tags}
</head>
<body>
<nav id="sidebar" aria-label="Site"><div class="sidebar-inner">
<a class="site-title" href="{html.escape(_relative_url(home_file, page.file))}">{html.escape(site_title)}</a>
{sidebar_html}
</div></nav>
<main id="content">
<header id="title-block-header">
<h1 class="title">{inline_markdown(page.display_title)}</h1>
{description}
</header>
{body}
</main>
</body>
</html>
"""


def site_css(nbs_dir: Path) -> str:
    user_css = nbs_dir / 'styles.css'
    user = user_css.read_text(encoding='utf-8') if user_css.exists() else ''
    pygments = HtmlFormatter(style='default').get_style_defs('.highlight')
    return f'{SHELL_CSS}\n/* pygments */\n{pygments}\n/* nbs/styles.css (the real site also loads it) */\n{user}\n'


def link_mathjax(out: Path, mathjax_dir: Path = MATHJAX_DIR) -> bool:
    "Make MathJax reachable as <out>/mathjax (a symlink; a copy where symlinks are not possible)."
    if not (mathjax_dir / 'MathJax.js').exists(): return False
    dest = out / MATHJAX_LINK_NAME
    if dest.is_symlink() or dest.exists(): return True
    try: dest.symlink_to(mathjax_dir, target_is_directory=True)
    except OSError: shutil.copytree(mathjax_dir, dest)
    return True


# ---------------------------------------------------------------- building the whole site

def _read_processed(proc_dir: Path, notebook: str):
    # execnb writes outputs in its own (valid, list-of-lines) form; nbformat normalises it on read.
    return nbformat.reads((proc_dir / notebook).read_text(encoding='utf-8'), as_version=4)


def notebook_body_html(nb, exporter: PreviewHTMLExporter, ctx: LinkContext) -> str:
    "The page body: Quarto's cell options applied, nbconvert's HTML, then ids, folds and links fixed."
    apply_quarto_cell_options(nb)
    folds = {c['id']: c.metadata.pop('preview_fold') for c in nb.cells if 'preview_fold' in c.metadata}
    resources = {'metadata': {'path': str(ctx.nbs_dir / posixpath.dirname(ctx.notebook)),
                              'name': posixpath.splitext(posixpath.basename(ctx.notebook))[0]}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return postprocess_body(body, folds, ctx)


def plan_pages(notebooks: list[str], proc_dir: Path, sidebar: list[SidebarNode]) -> dict:
    "Read every processed notebook once: notebook -> (PageInfo, notebook node)."
    sections = {}
    for node, section in iter_sidebar(sidebar):
        if node.kind == 'file': sections.setdefault(_normalise_sidebar_target(node.target), section)
    plans = {}
    for notebook in notebooks:
        nb = _read_processed(proc_dir, notebook)
        fm = pop_frontmatter(nb)
        output_name = fm.get('output-file') or posixpath.basename(default_output_file(notebook))
        page = PageInfo(notebook=notebook, file=posixpath.join(posixpath.dirname(notebook), output_name),
                        title=str(fm.get('title') or ''),
                        description=str(fm.get('description') or ''), section=sections.get(notebook))
        plans[notebook] = (page, nb)
    return plans


def sidebar_consistency(notebooks: list[str], sidebar: list[SidebarNode]) -> tuple[list, list]:
    "(notebooks not in the sidebar, sidebar entries that are not one of the docs notebooks)."
    targets = [_normalise_sidebar_target(n.target) for n, _ in iter_sidebar(sidebar) if n.kind == 'file']
    return [nb for nb in notebooks if nb not in targets], [t for t in targets if t not in notebooks]


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
    (out / CSS_FILE_NAME).write_text(site_css(nbs_dir), encoding='utf-8')

    plans = plan_pages(notebooks, proc_dir, sidebar)
    pages_by_notebook = {nb: page for nb, (page, _) in plans.items()}
    outputs = {nb: page.file for nb, page in pages_by_notebook.items()}
    exporter = PreviewHTMLExporter(mathjax=mathjax)
    # The site title links home: index.html where there is an index notebook, else the first page.
    home_file = next((p.file for p in pages_by_notebook.values() if p.file == 'index.html'),
                     next(iter(outputs.values()), 'index.html'))
    copied = set()
    for notebook, (page, nb) in plans.items():
        # Counted before rendering: these describe the processed notebook, as Quarto would get it.
        page.error_outputs = count_error_outputs(nb)
        page.has_math, page.math_warnings = notebook_math(nb)
        ctx = LinkContext(site_url=settings.site_url, page_file=page.file, notebook=notebook,
                          outputs=outputs, nbs_dir=nbs_dir, out_dir=out, copied=copied)
        body = notebook_body_html(nb, exporter, ctx)
        sidebar_html = render_sidebar(sidebar, page, pages_by_notebook)
        dest = out / page.file
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render_page(page, body, sidebar_html, settings.title, mathjax, home_file), encoding='utf-8')

    not_in_sidebar, missing = sidebar_consistency(notebooks, sidebar)
    manifest = {
        'pages': [vars(page) for page in pages_by_notebook.values()],
        'sidebar_sections': sidebar_section_titles(sidebar),
        'mathjax': mathjax,
        'notebooks_not_in_sidebar': not_in_sidebar,
        'sidebar_entries_missing': missing,
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
    started = time.perf_counter()
    proc_dir = run_nbdev_processing(repo, workers)
    proc_seconds = round(time.perf_counter() - started, 2)
    # proc_nbs keeps processed copies of deleted notebooks in its cache: only render current ones.
    notebooks = find_notebooks(settings.nbs_dir, settings.recursive)
    manifest = build_site(proc_dir, out, settings, notebooks)
    manifest['proc_seconds'] = proc_seconds
    (out / 'manifest.json').write_text(json.dumps(manifest, indent=2), encoding='utf-8')
    return manifest


def report(manifest: dict, out: Path) -> str:
    lines = [f"{len(manifest['pages'])} pages in {out} (nbdev processing {manifest.get('proc_seconds', '?')}s, "
             f"rendering {manifest['render_seconds']}s, mathjax: {manifest['mathjax']})"]
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
