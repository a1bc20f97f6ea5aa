"""The run: connects the sub-hosts, takes jobs from the source as the
policy allows, runs them, and reports what happens as events; it never
prints. runner.py wires the parts, handles Ctrl-C and the end;
connections.py opens the sub-hosts' connections and, with losses.py, alone
decides whether a host is lost (allocations.py: which Slurm allocations are
over); sessions.py runs jobs in a master's own session; intake.py takes
from the source, returns.py puts jobs back; runs.py runs each job from its
start to its Outcome; sources.py is the seam to where jobs come from
(QueueSource); loop.py the event loop (processes, pipes, signals; timer.py
its timers, lines.py its line cutting); processes.py the descriptor budget
at the start and the last-resort cleanup at the end.

May import: policy, transports, events, spec, templates, fsutil, settings, errors.
"""
