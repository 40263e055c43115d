"""The documentation site, tested without Quarto.

`nbdev_docs` renders nbs/ with Quarto, which cannot be installed here. What can be checked
without it is checked: the pages the navbar and sidebar name exist (and every notebook is on
the sidebar), links between pages resolve, the notebooks' frontmatter is valid, and
`nbdev_proc_nbs` (the step before Quarto) succeeds, in a temporary copy of the repository so
that it does not touch the working tree.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'


def _hrefs(node) -> list:
    "Every page named in a Quarto navbar/sidebar structure (strings and href/file values)."
    if isinstance(node, str): return [node] if node.endswith(('.ipynb', '.qmd', '.md')) else []
    if isinstance(node, list): return [h for item in node for h in _hrefs(item)]
    if isinstance(node, dict): return [h for k, v in node.items() if k in ('href', 'file', 'contents', 'menu', 'left', 'right')
                                       for h in _hrefs(v)]
    return []


def _site() -> dict:
    return yaml.safe_load((ROOT / '_quarto.yml').read_text())


def _sidebar_pages() -> list:
    return _hrefs(yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents'])


def _notebooks() -> list:
    return sorted(p for p in NBS.glob('*.ipynb'))


def _cells(path: Path) -> list:
    return json.loads(path.read_text())['cells']


def _text(cell) -> str:
    return ''.join(cell['source'])


def test_quarto_config_is_the_symlinked_top_level_file():
    assert (NBS / '_quarto.yml').is_symlink() and (NBS / '_quarto.yml').resolve() == (ROOT / '_quarto.yml').resolve()
    site = _site()
    assert site['project']['type'] == 'website'
    assert site['metadata-files'] == ['nbdev.yml', 'sidebar.yml']
    assert (NBS / 'styles.css').exists() and site['format']['html']['css'] == 'styles.css'


def test_nbdev_yml_is_what_nbdev_generates():
    "nbdev_docs rewrites nbs/nbdev.yml from settings.ini; the committed one must already be that."
    from nbdev.quarto import _nbdev_yml
    cfg = ConfigParser(); cfg.read(ROOT / 'settings.ini'); d = cfg['DEFAULT']
    expected = _nbdev_yml.format(doc_path=d['doc_path'], title=d['title'], doc_host=d['doc_host'],
                                 doc_baseurl=d['doc_baseurl'], description=d['description'], branch=d['branch'],
                                 git_url=d['git_url'])
    assert (NBS / 'nbdev.yml').read_text() == expected


def test_sidebar_is_kept_by_nbdev():
    "A hand-arranged sidebar survives nbdev_docs only with custom_sidebar = True (else nbdev regenerates it)."
    cfg = ConfigParser(); cfg.read(ROOT / 'settings.ini')
    assert cfg['DEFAULT'].getboolean('custom_sidebar'), \
        'settings.ini must say custom_sidebar = True, or nbdev_docs overwrites nbs/sidebar.yml'


def test_every_named_page_exists():
    pages = _sidebar_pages() + _hrefs(_site()['website']['navbar'])
    assert 'index.ipynb' in pages and 'paper.ipynb' in pages
    missing = sorted({p for p in pages if not (NBS / p).exists()})
    assert not missing, f'pages named by nbs/sidebar.yml or _quarto.yml but missing in nbs/: {missing}'


def test_every_notebook_is_on_the_sidebar():
    listed = set(_sidebar_pages())
    assert len(listed) == len(_sidebar_pages()), 'a page is listed twice in nbs/sidebar.yml'
    absent = [p.name for p in _notebooks() if p.name not in listed]
    assert not absent, f'notebooks missing from nbs/sidebar.yml (add them to a section): {absent}'


def test_task_pages_have_figures_code():
    "One page per task, each drawing its figures."
    for page in ('40_behaviour.ipynb', '41_typhoon.ipynb', '42_weather.ipynb', '43_tracking.ipynb'):
        assert 'plt.' in ''.join(_text(c) for c in _cells(NBS / page)), page


_LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')


def _page_links(cells) -> list:
    return [m for c in cells if c['cell_type'] == 'markdown' for m in _LINK.findall(_text(c))]


def test_links_between_pages_resolve():
    broken = []
    for nb in _notebooks() + [ROOT / 'README.md']:
        cells = _cells(nb) if nb.suffix == '.ipynb' else [{'cell_type': 'markdown', 'source': nb.read_text()}]
        for link in _page_links(cells):
            target = link.split('#')[0]
            if re.match(r'^[a-z]+:', link) or not target.endswith(('.ipynb', '.html', '.qmd', '.md')): continue
            base = (nb.parent / target)
            found = [base.with_suffix(s) for s in ('.ipynb', '.qmd', '.md') if base.with_suffix(s).exists()]
            if not (base.exists() or found): broken.append(f'{nb.name}: {link}')
    assert not broken, f'links to missing pages: {broken}'


def test_link_check_finds_broken_links():
    cells = [{'cell_type': 'markdown', 'source': 'see [the tables](paper.ipynb), [x](https://a.b/c.html) and [y](nowhere.html#top)'}]
    assert _page_links(cells) == ['paper.ipynb', 'https://a.b/c.html', 'nowhere.html#top']


def _frontmatter(cells) -> dict | None:
    "The YAML frontmatter of a notebook's first raw cell, if it has one."
    if not cells or cells[0]['cell_type'] != 'raw': return None
    text = _text(cells[0]).strip()
    if not text.startswith('---'): return None
    body = text.split('---')
    assert len(body) >= 3 and body[0] == '', f'frontmatter must be fenced by --- lines: {text!r}'
    return yaml.safe_load(body[1]) or {}


def test_frontmatter_is_valid():
    problems = []
    for nb in _notebooks():
        cells = _cells(nb)
        try: fm = _frontmatter(cells)
        except yaml.YAMLError as e:
            problems.append(f'{nb.name}: frontmatter is not YAML ({e})'); continue
        if fm is not None and not isinstance(fm, dict): problems.append(f'{nb.name}: frontmatter is not a mapping')
        if fm and 'skip_exec' in fm and not isinstance(fm['skip_exec'], bool):
            problems.append(f'{nb.name}: skip_exec must be true or false')
        md = [_text(c) for c in cells if c['cell_type'] == 'markdown']
        if not md or not md[0].startswith('# '): problems.append(f'{nb.name}: the first markdown cell must be "# Title"')
        elif not re.search(r'^> \S', md[0], re.M): problems.append(f'{nb.name}: the title needs a "> subtitle" line')
        experiment = any('parameters' in c.get('metadata', {}).get('tags', []) for c in cells)
        if experiment:
            if not (fm or {}).get('skip_exec'): problems.append(f'{nb.name}: experiment notebooks need skip_exec: true')
            if 'papermill ' not in md[0]: problems.append(f'{nb.name}: the first markdown cell must give the papermill command')
    assert not problems, problems


def test_experiment_notebooks_run_with_papermill_as_written():
    "My experiment notebooks name a kernel, so `papermill nbs/X.ipynb out.ipynb -p ...` needs no -k."
    for name in ('suite', 'paper', 'explore'):
        spec = json.loads((NBS / f'{name}.ipynb').read_text())['metadata'].get('kernelspec', {})
        assert spec.get('name') == 'python3' and spec.get('language') == 'python', name


def test_ci_runs_the_readmes_test_command():
    "CI's last command is the README's test command, word for word (what runs before it only starts services)."
    readme = (ROOT / 'README.md').read_text()
    command = [l.strip() for l in (ROOT / '.ci' / 'run').read_text().splitlines() if l.strip()][-1]
    assert command == 'pip install -e ".[dev]" && bash tests/run.sh' and f'    {command}\n' in readme


def test_papermill_reads_every_parameter_of_the_experiment_notebooks():
    "Papermill's parameter parser skips a line it cannot read (a quote inside a comment did): every name must come through."
    import papermill as pm
    for name in ('train', 'suite', 'paper'):
        cell = next(c for c in json.loads((NBS / f'{name}.ipynb').read_text())['cells']
                    if 'parameters' in c.get('metadata', {}).get('tags', []))
        assigned = re.findall(r'^(\w+) =', ''.join(cell['source']), re.M)
        assert list(pm.inspect_notebook(str(NBS / f'{name}.ipynb'))) == assigned, name


@pytest.fixture(scope='module')
def proc_copy(tmp_path_factory):
    "A copy of the repository's files (not runs/, _proc/, _docs/) with nbdev_proc_nbs run in it."
    copy = tmp_path_factory.mktemp('site') / 'repo'
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split('\n')
    for f in filter(None, files):
        src = ROOT / f
        if not (src.exists() or src.is_symlink()): continue
        (copy / f).parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink(): os.symlink(os.readlink(src), copy / f)
        else: shutil.copy2(src, copy / f)
    fake = copy.parent / 'bin'; fake.mkdir()
    (fake / 'quarto').write_text('#!/bin/sh\nexit 0\n'); (fake / 'quarto').chmod(0o755)  # nbdev only checks it is there
    env = {**os.environ, 'PATH': f"{fake}{os.pathsep}{os.environ['PATH']}", 'PYTHONPATH': str(copy)}
    run = subprocess.run([sys.executable, '-c', 'from nbdev.quarto import nbdev_proc_nbs; nbdev_proc_nbs.__wrapped__()'],
                         cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    return copy, run


def test_nbdev_proc_nbs_succeeds(proc_copy):
    copy, run = proc_copy
    errors = [line for line in (run.stdout + run.stderr).split('\n') if line.startswith('Exception: Error in notebook')]
    assert run.returncode == 0, errors or (run.stdout + run.stderr)[-3000:]
    proc = copy / '_proc'
    missing = [p for p in _sidebar_pages() if not (proc / p).exists()]
    assert not missing, f'not processed: {missing}'
    assert (proc / '_quarto.yml').exists() and (proc / 'sidebar.yml').exists()
    assert yaml.safe_load((proc / 'sidebar.yml').read_text()) == yaml.safe_load((NBS / 'sidebar.yml').read_text())
    paper = json.loads((proc / 'paper.ipynb').read_text())
    assert any('SciVid' in _text(c) for c in paper['cells'])
