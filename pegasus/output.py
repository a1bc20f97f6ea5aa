"""What a person sees: job listings, and (later) prefixed output lines."""


def _params_text(params):
    return " ".join("%s=%s" % kv for kv in params.items())


def dry_run_lines(mode, jobs, subhosts, templates):
    """The lines `--dry-run` prints: each job, its parameters, and the
    command each sub-host would run."""
    for number, job in enumerate(jobs, 1):
        head = "job %d (%s:%d)" % (number, job.path, job.line)
        if job.params:
            head += "  " + _params_text(job.params)
        yield head
        for host in subhosts:
            slots = ",".join(str(i) for i in range(job.slots))
            command = templates.render(job.command, job.variables(host, slots=slots),
                                       job.where, owner="sub-host %s" % host.label)
            lines = command.split("\n")
            yield "  [%s] %s" % (host.label, lines[0])
            for more in lines[1:]:
                yield "  %s %s" % (" " * (len(host.label) + 2), more)
    hosts = len(subhosts)
    if mode == "broadcast":
        yield "%d job%s, each on all %d sub-host%s: %d runs in lockstep (nothing consumed)" % (
            len(jobs), "" if len(jobs) == 1 else "s", hosts, "" if hosts == 1 else "s",
            len(jobs) * hosts)
    else:
        yield "%d job%s over %d sub-host%s, each job run once (nothing consumed)" % (
            len(jobs), "" if len(jobs) == 1 else "s", hosts, "" if hosts == 1 else "s")
