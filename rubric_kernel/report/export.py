"""nbconvert export of an executed assessment notebook to one self-contained HTML report.

A project template (``template/rk_report``) keeps outputs only: no code, no prompts, no markdown
instructions, no widget state, no require.js or MathJax from a CDN. The exporter is built once per
process because template loading is its main cost.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING

from ..bundled import REPORT_TEMPLATES
from .outputs_html import outputs_page
from .seal import seal_html
from .style import CSS

if TYPE_CHECKING:
    import nbformat

    from ..signing import SigningKey


@cache
def _exporter():
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from traitlets import default

    class ReportExporter(TemplateExporter):
        """An HTML exporter built on nbconvert's documented extension points only.

        ``HTMLExporter`` adds, after rendering, a BeautifulSoup pass (alt text for images, tab stops for
        JupyterLab cells) and resources for the lab template (themes, MathJax, require.js); the report
        template has none of those, and re-parsing a 70 KB report costs more than rendering it. So the
        report extends ``TemplateExporter`` and adds, through ``default_filters``, the one HTML filter
        the classic base template names that the generic exporter does not provide.
        """

        output_mimetype = "text/html"

        @default("file_extension")
        def _html(self) -> str:
            return ".html"

        def default_filters(self):
            yield from super().default_filters()
            yield ("highlight_code", Highlight2HTML)

    from traitlets.config import Config

    return ReportExporter(
        # The base template's one preprocessor writes the CSS of pygments' code highlighting into the
        # resources; the report shows no code, and its header (``rk_report``) does not read that CSS.
        config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}),
        extra_template_basedirs=[str(REPORT_TEMPLATES)],
        template_name="rk_report",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        # The report needs none of the default preprocessors (no tag or regex removal, no clearing), and
        # an executed notebook is validated once rather than after each of the twelve default ones: that
        # was half of every export.
        default_preprocessors=[],
        optimistic_validation=True,
    )


def warm_up() -> None:
    """Load the templates now (the first export's main cost), e.g. once per worker process."""
    _exporter()


def export_html(
    nb: nbformat.NotebookNode | dict,
    title: str,
    seal: SigningKey | None = None,
    *,
    synthetic: bool = False,
    direct: bool = False,
) -> str:
    """The report page; with ``seal``, signed by the issuer over its visible content (``seal.py``).

    ``direct``: written by ``outputs_html`` without nbconvert when the notebook's outputs are the kinds
    it covers (one report in its own process, where importing nbconvert would cost most of the export);
    the page is the same."""
    body = outputs_page(nb["cells"], title, CSS) if direct else None
    if body is None:
        if direct:
            import nbformat

            nb = nbformat.from_dict(nb)
        body, _ = _exporter().from_notebook_node(nb, resources={"rk_title": title, "rk_css": CSS})
    if seal is None:
        return body
    return seal_html(body, seal, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), synthetic=synthetic)
