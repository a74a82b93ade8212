"""nbconvert export of an executed assessment notebook to one self-contained HTML report.

A project template (``template/rk_report``) keeps outputs only: no code, no prompts, no markdown
instructions, no widget state, no require.js or MathJax from a CDN. The exporter is built once per
process because template loading is its main cost.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from .style import CSS, HERE

if TYPE_CHECKING:
    import nbformat


@cache
def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        """HTMLExporter without its final BeautifulSoup pass.

        That pass adds alt text to images and tab stops to JupyterLab cells; the report template has
        neither, and re-parsing a 70 KB report costs more than rendering it.
        """

        def from_notebook_node(self, nb, resources=None, **kw):
            resources = self._init_resources(resources)
            self.register_filter("highlight_code", Highlight2HTML(pygments_lexer="ipython3", parent=self))
            self.register_filter(
                "filter_data_type",
                WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
            )
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter(
        extra_template_basedirs=[str(HERE / "template")],
        template_name="rk_report",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def export_html(nb: nbformat.NotebookNode, title: str) -> str:
    body, _ = _exporter().from_notebook_node(nb, resources={"rk_title": title, "rk_css": CSS})
    return body
