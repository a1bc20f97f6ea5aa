"""Where a run stands, without processes: the counts, jobs per minute and
ETA a status line shows, what it says, and how often it is drawn."""

import pytest

from pegasus.events import notices
from pegasus.events.handler import RunInfo
from pegasus.events.outcome import Launch, Outcome, Reason
from pegasus.spec.jobs import Job
from pegasus.spec.hosts import SubHost
from pegasus.ui import words
from pegasus.ui.statusline import REDRAW, REFRESH, Mode, StatusLine, Tally


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


class Timer:
    def __init__(self, loop, when, callback):
        self.loop, self.when, self.callback, self.cancelled = loop, when, callback, False

    def cancel(self):
        self.cancelled = True


class Loop:
    """call_later without waiting: `advance(seconds)` runs what falls due."""

    def __init__(self):
        self.now = 0.0
        self.timers = []

    def call_later(self, delay, callback):
        timer = Timer(self, self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def pending(self):
        return [t for t in self.timers if not t.cancelled]

    def advance(self, seconds):
        end = self.now + seconds
        while True:
            due = sorted((t for t in self.pending() if t.when <= end), key=lambda t: t.when)
            if not due:
                break
            timer = due[0]
            self.timers.remove(timer)
            self.now = timer.when
            timer.callback()
        self.now = end


HOSTS = [SubHost(i, "node-%d" % (i + 1), {}) for i in range(4)]


def run_info(clock, fans_out=False, subhosts=4, daemon=False):
    return RunInfo("broadcast" if fans_out else "queue", fans_out, subhosts, daemon,
                          "queue.yaml", clock())


class Run:
    """A Tally fed the way the engine feeds it."""

    def __init__(self, fans_out=False, daemon=False, hosts=4):
        self.clock = Clock()
        self.tally = Tally(self.clock)
        self.tally.on_run_started(run_info(self.clock, fans_out, hosts, daemon))
        for host in HOSTS[:hosts]:
            self.tally.on_host_ready(host, False)
        self.seq = 0

    def start(self, host, job=None):
        self.seq += 1
        job = job or Job("sleep %d" % self.seq)
        launch = Launch(self.seq, job, host, None, job.command, self.clock())
        self.tally.on_job_started(launch)
        return launch

    def end(self, launch, returncode=0, reason=None, retried=False):
        outcome = Outcome(launch, self.clock() - launch.started, returncode=returncode,
                          reason=reason, retried=retried)
        self.tally.on_job_finished(outcome)
        return outcome


def test_counts_follow_the_runs_and_what_is_left_in_the_queue():
    run = Run()
    run.tally.on_queue_left(8)
    launches = [run.start(host) for host in HOSTS]
    run.clock.now += 4
    run.end(launches[0])
    run.end(launches[1], returncode=3)
    run.end(launches[2], reason=Reason.CANCELLED, returncode=None)
    snap = run.tally.snapshot()
    assert [launch.seq for launch in snap.running] == [4]
    assert (snap.done, snap.failed, snap.cancelled, snap.left) == (1, 1, 1, 8)
    assert words.status(snap).startswith("1 running, 1 done, 1 failed, 1 cancelled, 8 left")


def test_a_run_that_goes_back_to_the_queue_is_counted_apart_from_failures():
    run = Run()
    launch = run.start(HOSTS[0])
    run.end(launch, returncode=None, reason=Reason.HOST_LOST, retried=True)
    snap = run.tally.snapshot()
    assert (snap.done, snap.failed, snap.retried) == (0, 0, 1)


def test_eta_is_the_mean_duration_times_the_jobs_left_over_the_sub_hosts():
    run = Run()
    run.tally.on_queue_left(8)
    first = [run.start(host) for host in HOSTS]
    assert run.tally.snapshot().eta is None  # no duration seen yet: no guess
    run.clock.now += 4
    for launch in first:
        run.end(launch)
    run.tally.on_queue_left(4)
    [run.start(host) for host in HOSTS]
    run.clock.now += 1
    # 4 running with 3 s to go each, 4 more of 4 s, on 4 sub-hosts: 3 + 4.
    assert run.tally.snapshot().eta == pytest.approx(7.0)


def test_eta_counts_the_sub_hosts_taking_jobs_not_those_lost():
    run = Run()
    run.tally.on_queue_left(6)
    launch = run.start(HOSTS[0])
    run.clock.now += 2
    run.end(launch)
    run.tally.on_host_lost(HOSTS[1], "gone")
    run.tally.on_host_failed(HOSTS[2], "refused")
    # 6 jobs of 2 s on the 2 sub-hosts left: 6 s.
    assert run.tally.snapshot().eta == pytest.approx(6.0)


def test_eta_counts_no_more_jobs_at_once_than_f_lets_run():
    run = Run()
    run.tally.on_run_started(RunInfo("queue", False, 4, False, "queue.yaml",
                                            run.clock(), fanout=2))
    run.tally.on_queue_left(8)
    launch = run.start(HOSTS[0])
    run.clock.now += 2
    run.end(launch)
    # 8 jobs of 2 s, 2 at a time though 4 sub-hosts are up: 8 s.
    assert run.tally.snapshot().eta == pytest.approx(8.0)


def test_no_eta_when_the_running_jobs_take_longer_than_any_seen():
    run = Run()
    run.tally.on_queue_left(0)
    quick = run.start(HOSTS[0])
    slow = run.start(HOSTS[1])
    run.clock.now += 1
    run.end(quick)
    run.clock.now += 5
    snap = run.tally.snapshot()
    assert snap.running == (slow,) and snap.eta is None
    assert "ETA" not in words.status(snap)


def test_broadcast_eta_goes_by_lockstep_steps():
    run = Run(fans_out=True, hosts=2)
    job = Job("step one")
    run.tally.on_queue_left(3)
    runs = [run.start(host, job) for host in HOSTS[:2]]
    run.clock.now += 1
    run.end(runs[0])
    run.clock.now += 2
    run.end(runs[1])   # the step took 3 s: its slowest run
    snap = run.tally.snapshot()
    assert snap.left == 6  # runs: 3 jobs on 2 sub-hosts
    assert snap.eta == pytest.approx(9.0)


def test_jobs_per_minute_leave_out_the_time_nothing_ran():
    run = Run(daemon=True)
    launch = run.start(HOSTS[0])
    run.clock.now += 30
    run.end(launch)
    run.clock.now += 3600  # an idle daemon, waiting an hour
    assert run.tally.snapshot().rate == pytest.approx(2.0)


def test_jobs_per_minute_do_not_sag_between_runs_that_started_together():
    run = Run()
    first = [run.start(host) for host in HOSTS]
    run.clock.now += 2
    for launch in first:
        run.end(launch)
    [run.start(host) for host in HOSTS]
    run.clock.now += 1
    # 4 done and 4 half-way in 3 s of 2-second jobs on 4 sub-hosts: 120/min.
    assert run.tally.snapshot().rate == pytest.approx(120.0)


def test_an_idle_daemon_says_it_waits_and_shows_no_eta():
    run = Run(daemon=True)
    launch = run.start(HOSTS[0])
    run.tally.on_queue_left(0)
    run.tally.on_notice(notices.QueueEmpty())
    assert not run.tally.snapshot().idle  # a job still runs
    assert "1 running" in words.status(run.tally.snapshot())
    assert "queue empty" in words.status(run.tally.snapshot())
    run.clock.now += 1
    run.end(launch)
    snap = run.tally.snapshot()
    assert snap.idle and snap.eta is None
    assert words.status(snap) == "queue empty: waiting; 1 done, 0 failed"
    run.tally.on_queue_left(2)  # something was added
    assert not run.tally.snapshot().idle


def test_status_leaves_out_the_rate_then_the_eta_to_fit_and_is_cut_last():
    run = Run()
    run.tally.on_queue_left(40)
    launches = [run.start(host) for host in HOSTS]
    run.clock.now += 4
    run.end(launches[0])
    snap = run.tally.snapshot()
    full = words.status(snap)
    assert full.startswith("3 running, 1 done, 0 failed, 40 left; ")
    assert "jobs/min" in full and "ETA" in full
    without_rate = words.status(snap, len(full) - 1)
    assert "jobs/min" not in without_rate and "ETA" in without_rate
    counts = "3 running, 1 done, 0 failed, 40 left"
    assert words.status(snap, len(counts)) == counts
    assert words.status(snap, 10) == counts[:10]


def test_the_final_line_has_counts_and_wall_time():
    run = Run()
    run.tally.on_queue_left(0)
    launches = [run.start(host) for host in HOSTS[:3]]
    run.clock.now += 12.3
    for launch in launches[:2]:
        run.end(launch)
    run.end(launches[2], returncode=1)
    text = words.final(run.tally.snapshot(), cancelled=False)
    assert text.startswith("finished in 12.3 s: 2 done, 1 failed; ")
    assert words.final(run.tally.snapshot(), cancelled=True).startswith("cancelled after 12.3 s")


def test_the_status_block_lists_each_running_job():
    run = Run()
    run.tally.on_queue_left(5)
    run.start(HOSTS[0], Job("sleep 100\necho after"))
    run.clock.now += 9
    run.start(SubHost(7, "localhost", {"laziness": "3"}), Job("python train.py"))
    run.clock.now += 3
    lines = words.status_block(run.tally.snapshot())
    assert lines[0] == "status of queue.yaml after 12 s:"
    assert lines[1].startswith("  2 running, 0 done, 0 failed, 5 left")
    assert lines[2].split() == ["#1", "node-1", "12.0", "s", "sleep", "100", "..."]
    assert lines[3].split() == ["#2", "localhost", "(laziness=3)", "3.0", "s", "python",
                                "train.py"]
    assert lines[2].index("12.0 s") + 6 == lines[3].index("3.0 s") + 5  # a table


@pytest.mark.parametrize("seconds, text", [
    (0.4, "0 s"), (8, "8 s"), (59.6, "1 min 00 s"), (70, "1 min 10 s"),
    (3599, "59 min 59 s"), (7500, "2 h 05 min")])
def test_spans_are_coarse_and_readable(seconds, text):
    assert words.span(seconds) == text


def test_a_status_line_is_drawn_at_most_every_redraw_interval_and_never_per_event():
    tally = Tally(Clock())
    shown = []
    status = StatusLine(tally, Mode.LIVE, lambda: shown.append(loop.now),
                        monotonic=lambda: loop.now)
    loop = Loop()
    status.attach(loop)
    for _ in range(1000):
        status.changed()
    assert len(loop.pending()) == 1
    loop.advance(0)
    assert shown == [0.0]
    for _ in range(100):  # changes all the time
        loop.advance(REDRAW / 10)
        status.changed()
    assert len(shown) <= 1 + 100 / 10 + 1
    assert all(b - a >= REDRAW - 1e-9 for a, b in zip(shown, shown[1:]))


def test_while_jobs_run_the_line_is_refreshed_for_the_clock_and_stops_when_told():
    run = Run()
    shown = []
    status = StatusLine(run.tally, Mode.LIVE, lambda: shown.append(loop.now),
                        monotonic=lambda: loop.now)
    loop = Loop()
    status.attach(loop)
    run.start(HOSTS[0])
    status.changed()
    loop.advance(10 * REFRESH)
    assert 9 <= len(shown) <= 12
    status.stop()
    assert not loop.pending()
    status.changed()
    assert not loop.pending()


def test_an_idle_run_is_not_redrawn():
    tally = Tally(Clock())
    shown = []
    status = StatusLine(tally, Mode.LIVE, lambda: shown.append(1),
                        monotonic=lambda: loop.now)
    loop = Loop()
    status.attach(loop)
    status.changed()
    loop.advance(600)
    assert shown == [1]


def test_progress_off_a_terminal_ticks_every_few_seconds():
    tally = Tally(Clock())
    shown = []
    status = StatusLine(tally, Mode.PLAIN, lambda: shown.append(loop.now),
                        monotonic=lambda: loop.now)
    loop = Loop()
    status.attach(loop)
    status.changed()  # no redraw per change: only the clock
    loop.advance(20)
    assert shown == [5.0, 10.0, 15.0, 20.0]
