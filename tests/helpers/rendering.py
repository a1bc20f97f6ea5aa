"""Rendering one template as a queue entry's command would be, for the
template tests: WHERE is the line its errors name."""

import pytest

from pegasus.errors import TemplateError
from pegasus.templates.template import Templates, Where

WHERE = Where("queue.yaml", 7)


def render(source, **values):
    return Templates().render(source, values, WHERE)


def render_error(source, **values):
    """The message of the TemplateError that rendering `source` raises."""
    with pytest.raises(TemplateError) as info:
        Templates().render(source, values, WHERE)
    return str(info.value)
