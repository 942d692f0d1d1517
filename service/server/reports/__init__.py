"""Reports rendered on the server from one comparison: figures (PNG, SVG, PDF) and one
self-contained HTML page of the figure, the fitted laws, the tables and the settings.

    figures.py  the figure (matplotlib, headless)
    html.py     the page, with the tables the CLI prints
"""

from service.server.reports import html
from service.server.reports.figures import MEDIA_TYPES as FIGURE_TYPES

MEDIA_TYPES = {**FIGURE_TYPES, "html": html.MEDIA_TYPE}
