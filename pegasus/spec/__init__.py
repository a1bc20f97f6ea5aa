"""What the user's files say: hosts.yaml and queue.yaml entries -> SubHost
and Job values, and whether a queue is valid. Pure, but for reading the
files and asking Slurm which nodes an allocation holds.

yamlfile.py reads YAML literally (yamlstream.py one entry at a time, for a
big file; yamlerrors.py tells its syntax errors), canonical.py writes it
back, jobs.py makes jobs (the cartesian product, the keys' limits),
hosts.py sub-hosts, with nodeset.py (host ranges),
hostnames.py (what a host name may be), allocation.py (a Slurm
allocation's nodes) and hostlist.py (hosts from -w/-x, ^FILE, --slurm or
the file); validate.py is the one validator (runners, `pegasus l`,
--dry-run).

May import: templates, fsutil, settings, errors.
"""
