"""What the engine tells the rest: the Handler protocol with one documented
no-op method per event, and Fanout (handler.py); the typed notices about
the run as a whole (notices.py); the immutable Launch and Outcome of each
run, its typed Reason and the bounded Tail of its output (outcome.py).
Values only: words for them are ui/words.py's.

May import: spec, templates, fsutil, settings, errors.
"""
