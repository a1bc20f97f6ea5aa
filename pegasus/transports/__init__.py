"""How a job reaches a sub-host: the Transport interface and its kinds,
local, ssh and srun, chosen once per sub-host (transport.py); ssh's
argument lists, its config and the run's control directory (ssh.py); a job
as a Slurm step (srun.py); the job wrapper every transport runs
(wrapper.py); the one line every login shell reads alike (loginshell.py).
Builds command lines and reads what they say; runs nothing.

May import: events, spec, templates, fsutil, settings, errors.
"""
