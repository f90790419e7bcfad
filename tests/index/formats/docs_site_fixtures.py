"""Documentation pages as four site generators render them (trimmed to what matters: their real
class names and markup around headings, code, admonitions and tabs). Every page says the same
thing: a title, a section "Install the package" with a command, a note and two tabs, and a
section "Configure logging"; around it each generator's chrome (permalink signs, edit links,
version banners, copy buttons, tab labels), none of which may be indexed."""

from __future__ import annotations

INSTALL = "Install the package"
CONFIGURE = "Configure logging"
TITLE = "Getting started"
PROSE = "Run the installer once per virtual environment."
COMMAND = "pip install citebot-example"
NOTE = "The package needs Python 3.11 or newer."
TAB_TEXTS = ("On Linux the wheel is built for manylinux.", "On Windows use the py launcher.")
CONFIGURE_PROSE = "Call basicConfig before the first message is logged."
CHROME = (  # what no generator's page may leave in the text
    "¶", "Edit this page", "Edit on GitHub", "This is documentation for an old version",
    "Copy to clipboard", "Copy", "Permalink", "Note",
    "Direct link", "\u200b", "View page source",
)


def sphinx_page() -> str:
    """Sphinx (the basic/alabaster theme Python's docs use, with sphinx-copybutton and
    sphinx-design tabs)."""
    return f"""<!DOCTYPE html><html><head><title>{TITLE} — Example 1.0 documentation</title>
</head><body><div class="related" role="navigation"><ul><li><a href="index.html">Example</a>
</li></ul></div><div class="document"><div class="body" role="main">
<div class="version-warning">This is documentation for an old version of Example.</div>
<section id="getting-started"><h1>{TITLE}<a class="headerlink" href="#getting-started"
 title="Permalink to this heading">¶</a></h1>
<section id="install"><h2>{INSTALL}<a class="headerlink" href="#install"
 title="Permalink to this heading">¶</a></h2><p>{PROSE}</p>
<div class="highlight-console notranslate"><div class="highlight"><pre><span></span>{COMMAND}
</pre><button class="copybtn o-tooltip--left" data-tooltip="Copy">Copy</button></div></div>
<div class="admonition note"><p class="admonition-title">Note</p><p>{NOTE}</p></div>
<div class="sd-tab-set docutils"><input checked="checked" id="t1" type="radio">
<label class="sd-tab-label" for="t1">Linux</label><div class="sd-tab-content docutils">
<p>{TAB_TEXTS[0]}</p></div><input id="t2" type="radio"><label class="sd-tab-label" for="t2">
Windows</label><div class="sd-tab-content docutils"><p>{TAB_TEXTS[1]}</p></div></div>
</section><section id="configure"><h2>{CONFIGURE}<a class="headerlink" href="#configure"
 title="Permalink to this heading">¶</a></h2><p>{CONFIGURE_PROSE}</p></section></section>
</div></div><div class="sphinxsidebar" role="navigation"><h3>This Page</h3><ul>
<li><a href="_sources/start.rst.txt" rel="nofollow">Show Source</a></li></ul></div>
<div class="footer">© Copyright 2026. <a href="https://github.com/x/y/edit/main/start.rst">Edit on
GitHub</a></div></body></html>"""


def mkdocs_material_page() -> str:
    """MkDocs with the Material theme (content tabs, admonitions, clipboard buttons)."""
    return f"""<!doctype html><html><head><title>{TITLE} - Example</title></head><body>
<div class="md-banner"><div class="md-banner__inner">This is documentation for an old version
of Example.</div></div><header class="md-header"><nav>Example</nav></header>
<div class="md-container"><main class="md-main"><div class="md-content"><article
class="md-content__inner md-typeset"><a href="https://github.com/x/y/edit/main/docs/start.md"
title="Edit this page" class="md-content__button md-icon">Edit this page</a>
<h1 id="getting-started">{TITLE}<a class="headerlink" href="#getting-started"
title="Permanent link">¶</a></h1>
<h2 id="install">{INSTALL}<a class="headerlink" href="#install" title="Permanent link">¶</a></h2>
<p>{PROSE}</p><div class="language-console highlight"><pre><span></span><button
class="md-clipboard md-icon" title="Copy to clipboard"></button><code>{COMMAND}
</code></pre></div><div class="admonition note"><p class="admonition-title">Note</p>
<p>{NOTE}</p></div><div class="tabbed-set tabbed-alternate" data-tabs="1:2"><input checked
id="__tabbed_1_1" name="__tabbed_1" type="radio"><input id="__tabbed_1_2" name="__tabbed_1"
type="radio"><div class="tabbed-labels"><label for="__tabbed_1_1">Linux</label><label
for="__tabbed_1_2">Windows</label></div><div class="tabbed-content"><div class="tabbed-block">
<p>{TAB_TEXTS[0]}</p></div><div class="tabbed-block"><p>{TAB_TEXTS[1]}</p></div></div></div>
<h2 id="configure">{CONFIGURE}<a class="headerlink" href="#configure"
title="Permanent link">¶</a></h2><p>{CONFIGURE_PROSE}</p></article></div></main></div>
<footer class="md-footer">Made with Material for MkDocs</footer></body></html>"""


def docusaurus_page() -> str:
    """Docusaurus 3 (hash links, version banner, copy button, tabs with hidden panels,
    admonitions, "Edit this page")."""
    return f"""<!doctype html><html><head><title>{TITLE} | Example</title></head><body>
<div class="theme-layout-navbar navbar"><a class="navbar__brand" href="/">Example</a></div>
<div class="main-wrapper"><div class="docItemContainer"><article>
<div class="theme-doc-version-banner alert alert--warning margin-bottom--md" role="alert">
<div>This is documentation for an old version of Example.</div></div>
<div class="theme-doc-markdown markdown"><header><h1>{TITLE}</h1></header>
<h2 class="anchor anchorWithStickyNavbar_LWe7" id="install">{INSTALL}<a href="#install"
class="hash-link" aria-label="Direct link to {INSTALL}" title="Direct link to {INSTALL}">\u200b</a>
</h2><p>{PROSE}</p><div class="language-bash codeBlockContainer_Ckt0"><div
class="codeBlockContent_biex"><pre class="prism-code"><code class="codeBlockLines_e6Vv"><span
class="token-line">{COMMAND}</span></code></pre><div class="buttonGroup__atx"><button
type="button" aria-label="Copy code to clipboard" title="Copy" class="clean-btn
copyButton_Ld0C"><span class="copyButtonIcons_eSgA"></span></button></div></div></div>
<div class="theme-admonition theme-admonition-note admonition_xJq3 alert alert--secondary">
<div class="admonitionHeading_Gvgb"><span class="admonitionIcon_Rf37"></span>note</div>
<div class="admonitionContent_BuS1"><p>{NOTE}</p></div></div>
<div class="tabs-container tabList__CuJ"><ul role="tablist" aria-orientation="horizontal"
class="tabs"><li role="tab" tabindex="0" aria-selected="true" class="tabs__item
tabItem_LNqP tabs__item--active">Linux</li><li role="tab" tabindex="-1" aria-selected="false"
class="tabs__item tabItem_LNqP">Windows</li></ul><div class="margin-top--md"><div
role="tabpanel" class="tabItem_Ymn6"><p>{TAB_TEXTS[0]}</p></div><div role="tabpanel"
class="tabItem_Ymn6" hidden=""><p>{TAB_TEXTS[1]}</p></div></div></div>
<h2 class="anchor anchorWithStickyNavbar_LWe7" id="configure">{CONFIGURE}<a href="#configure"
class="hash-link" aria-label="Direct link to {CONFIGURE}" title="Direct link to {CONFIGURE}">
\u200b</a></h2><p>{CONFIGURE_PROSE}</p></div>
<footer class="theme-doc-footer docusaurus-mt-lg"><div class="col"><a
href="https://github.com/x/y/edit/main/docs/start.md" target="_blank"
class="theme-edit-this-page">Edit this page</a></div></footer></article></div></div>
<footer class="footer">Copyright © 2026 Example.</footer></body></html>"""


def github_markdown_page() -> str:
    """A README as GitHub renders Markdown (heading anchors with octicons, clipboard-copy)."""
    return f"""<!DOCTYPE html><html><head><title>{TITLE}</title></head><body><main>
<article class="markdown-body entry-content container-lg" itemprop="text">
<div class="markdown-heading"><h1 class="heading-element">{TITLE}</h1><a
id="user-content-getting-started" class="anchor" aria-label="Permalink: {TITLE}"
href="#getting-started"><svg class="octicon octicon-link" viewBox="0 0 16 16"
aria-hidden="true"><path d="m7.775 3.275"></path></svg></a></div>
<div class="markdown-heading"><h2 class="heading-element">{INSTALL}</h2><a
id="user-content-install" class="anchor" aria-label="Permalink: {INSTALL}" href="#install"><svg
class="octicon octicon-link" aria-hidden="true"></svg></a></div><p>{PROSE}</p>
<div class="highlight highlight-source-shell notranslate position-relative overflow-auto"
dir="auto"><pre>{COMMAND}</pre><div class="zeroclipboard-container"><clipboard-copy
aria-label="Copy" class="ClipboardButton btn" value="{COMMAND}" tabindex="0"
role="button">Copy</clipboard-copy></div></div>
<div class="markdown-alert markdown-alert-note" dir="auto"><p class="markdown-alert-title"
dir="auto"><svg class="octicon octicon-info" aria-hidden="true"></svg>Note</p><p
dir="auto">{NOTE}</p></div><p>{TAB_TEXTS[0]}</p><p>{TAB_TEXTS[1]}</p>
<div class="markdown-heading"><h2 class="heading-element">{CONFIGURE}</h2><a
id="user-content-configure" class="anchor" aria-label="Permalink: {CONFIGURE}"
href="#configure"><svg class="octicon octicon-link" aria-hidden="true"></svg></a></div>
<p>{CONFIGURE_PROSE}</p></article></main></body></html>"""


PAGES = {
    "sphinx": sphinx_page,
    "mkdocs-material": mkdocs_material_page,
    "docusaurus": docusaurus_page,
    "github-markdown": github_markdown_page,
}
