"""Each mode of the `pegasus` command, from its parsed command line to its
exit status: `pegasus q` and `pegasus b` (run.py), `pegasus l` and
`pegasus add` (lock.py), --requeue (requeue.py), `pegasus status`
(status.py).

May import: ui, queuefile, engine, policy, transports, events, spec, templates, fsutil, settings,
errors.
"""
