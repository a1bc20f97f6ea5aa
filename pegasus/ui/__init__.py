"""What a person sees: the printer of the jobs' lines and the notices
(printer.py; prefixes.py: a line's prefix and wrapping), --gather
(gather.py), the status line (statusline.py), the terminal itself
(terminal.py: width, colors, writes that cannot be lost silently), the
words for everything the engine tells (words.py), the report at the end
(report.py), the joblog and the log directory (joblog.py), --dry-run
(dryrun.py), `status --watch` (watch.py).

May import: engine, policy, transports, events, spec, templates, fsutil, settings, errors.
"""
