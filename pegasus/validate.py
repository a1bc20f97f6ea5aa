"""Is a queue valid? The one answer, used by runners (on every change of
queue.yaml), `pegasus l` (after an edit, before an append) and `--dry-run`:
the YAML parses, every entry has a good shape and good values for the keys
with a meaning of their own, and every template compiles -- and, when the
sub-hosts are known, renders on each of them.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

from . import yamlfile
from .errors import SpecError
from .spec import Job, expand_queue
from .template import Templates, Where


def validate_text(text: str, path: str) -> List[Job]:
    """The checks that need no templates: YAML, entry shapes and special
    keys. Returns every job, in order."""
    return expand_queue(yamlfile.entries(yamlfile.compose(text, path), path, "command"))


class QueueValidator:
    """Validates queue texts for one run: templates are checked against
    `subhosts`, or, without them (`pegasus l` knows no hosts), for syntax."""

    def __init__(self, templates: Templates, subhosts: Optional[Sequence] = None):
        self.templates = templates
        self.subhosts = subhosts

    def __call__(self, text: str, path: str) -> List[Job]:
        """Check `text`; raise SpecError with every problem; return the jobs."""
        return self.check_entries(
            yamlfile.entries(yamlfile.compose(text, path), path, "command"))

    def check_entries(self, entries: Sequence[yamlfile.Entry]) -> List[Job]:
        jobs = expand_queue(entries)
        if self.subhosts is not None:
            check_templates(jobs, self.subhosts, self.templates)
        else:
            check_syntax(entries, self.templates)
        return jobs


def check_syntax(entries: Sequence[yamlfile.Entry], templates: Templates) -> None:
    """Every command template of `entries` compiles; raises SpecError with
    every problem found."""
    problems = []
    for entry in entries:
        value = entry.values["command"]
        for source in value.items:
            try:
                templates.compile(source, Where(entry.path, value.line, "command"))
            except SpecError as exc:
                problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)


def check_templates(jobs: Sequence[Job], subhosts: Sequence, templates: Templates) -> None:
    """Render every job on every sub-host it could run on, so that an unknown
    variable or helper is reported before anything runs.

    Whether a render succeeds depends on the template and on which variable
    names exist, not on their values, so each distinct combination of
    (template, job keys, host keys) is rendered once.
    """
    seen = set()
    problems: list = []
    host_kinds: dict = {}
    for host in subhosts:
        host_kinds.setdefault(frozenset(host.params), host)
    for job in jobs:
        if "{{" not in job.command:
            continue
        job_keys = frozenset(job.params)
        for host_keys, host in host_kinds.items():
            key = (job.command, job_keys, host_keys)
            if key in seen:
                continue
            seen.add(key)
            try:
                templates.render(job.command, job.variables(host, slots="0"), job.where,
                                 owner="sub-host %s" % host.label)
            except SpecError as exc:
                problems.extend(exc.problems)
                break
    if problems:
        raise SpecError(problems)
