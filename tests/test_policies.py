"""The pure policies without processes: --halt's counts and percentages,
black-hole pauses, where a job may run at all, and the intake's decisions
(what it takes, gives back and waits for), on a fake loop and source. The
same behaviour end to end: test_failures.py, test_faults.py,
test_queue_mode.py."""

from __future__ import annotations

import inspect
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

import pytest

from pegasus.engine.intake import LOCK_RETRY, Choice, Intake
from pegasus.engine.sources import Busy, MemoryQueue
from pegasus.events import handler as events
from pegasus.events import notices
from pegasus.events.handler import EVENTS, Fanout, Handler
from pegasus.policy.blackholes import FIRST_PAUSE, MAX_PAUSE, HostHealth
from pegasus.policy.halting import MIN_FOR_PERCENT, HaltCounter, HaltRule
from pegasus.policy.placement import Planner
from pegasus.policy.queue import QueuePolicy
from pegasus.settings import Settings
from pegasus.spec.hosts import SubHost
from pegasus.spec.jobs import Job
from pegasus.transports import transport

# --- --halt -------------------------------------------------------------------------


def test_a_count_rule_is_met_once_at_its_count():
    counter = HaltCounter(HaltRule("soon", "fail", 2, False))
    assert [counter.count(ok) for ok in (True, False, True, False, False)] == [
        False, False, False, True, False]
    assert (counter.done, counter.failed) == (5, 3)


def test_a_success_rule_counts_successes():
    counter = HaltCounter(HaltRule("now", "success", 1, False))
    assert counter.count(False) is False
    assert counter.count(True) is True


def test_a_percentage_waits_for_enough_jobs_then_compares_with_all_finished():
    counter = HaltCounter(HaltRule("soon", "fail", 50, True))
    results = [counter.count(ok) for ok in [False] * (MIN_FOR_PERCENT - 1)]
    assert results == [False] * (MIN_FOR_PERCENT - 1)   # 100% failed, but too few yet
    assert counter.count(True) is True                  # 2 of 3 failed: 66% >= 50%


def test_a_percentage_not_reached_is_not_met():
    counter = HaltCounter(HaltRule("soon", "fail", 50, True))
    assert not any(counter.count(ok) for ok in (False, True, True, True, False, True))


def test_without_a_rule_nothing_halts():
    counter = HaltCounter(None)
    assert not any(counter.count(False) for _ in range(10))
    assert counter.failed == 10


def test_a_rule_reads_and_says_as_gnu_parallel_writes_it():
    rule = HaltRule.parse(("now", "fail", 10, True))
    assert rule == HaltRule("now", "fail", 10, True)
    assert str(rule) == "now,fail=10%"
    assert HaltRule.parse(None) is None


# --- black holes --------------------------------------------------------------------


def test_a_sub_host_failing_fast_in_a_row_is_paused_and_then_given_one_job():
    health = HostHealth((2, 10.0))
    assert health.ended(0, failed=True, duration=1.0) is None
    assert health.ended(0, failed=True, duration=1.0) == FIRST_PAUSE
    assert 0 in health.paused and health.room(0, free=4, running=0) == 0
    health.resume(0)
    assert health.room(0, free=4, running=0) == 1   # probation: one job, to see
    assert health.room(0, free=4, running=1) == 0


def test_a_fast_failure_on_probation_pauses_again_for_twice_as_long():
    health = HostHealth((2, 10.0))
    health.ended(0, True, 1.0)
    health.ended(0, True, 1.0)
    health.resume(0)
    assert health.ended(0, True, 1.0) == 2 * FIRST_PAUSE


def test_pauses_stop_doubling_at_the_longest():
    health = HostHealth((1, 10.0))
    pauses = []
    for _ in range(12):
        pauses.append(health.ended(0, True, 1.0))
        health.resume(0)
    assert max(p for p in pauses if p is not None) == MAX_PAUSE


def test_a_job_that_does_not_fail_fast_ends_the_streak_and_the_probation():
    health = HostHealth((2, 10.0))
    health.ended(0, True, 1.0)
    assert health.ended(0, True, 30.0) is None        # slow: not a black hole's failure
    assert health.ended(0, True, 1.0) is None         # the streak started again
    health.ended(0, True, 1.0)
    health.resume(0)
    assert health.ended(0, False, 1.0) is None        # a success: healthy again
    assert health.healthy(0) and health.room(0, free=4, running=0) == 4


def test_no_pause_without_a_healthy_sub_host_to_protect_the_queue_for():
    health = HostHealth((1, 10.0))
    assert health.ended(0, True, 1.0, others_healthy=False) is None
    assert health.paused == set()


def test_lifting_ends_every_pause_and_probation():
    health = HostHealth((1, 10.0))
    health.ended(2, True, 1.0)
    health.ended(0, True, 1.0)
    health.ended(1, True, 1.0)
    health.resume(1)
    assert health.lift() == [0, 2]
    assert health.paused == set() and health.healthy(1)


def test_without_a_rule_no_sub_host_is_ever_paused():
    health = HostHealth(None)
    assert all(health.ended(0, True, 0.0) is None for _ in range(5))
    assert health.healthy(0)


# --- where a job may run at all --------------------------------------------------------


def hosts(*sizes: int) -> List[SubHost]:
    subhosts = [SubHost(i, "node-%d" % (i + 1), {}, size) for i, size in enumerate(sizes)]
    transport.attach(subhosts, Settings(sessions=10 ** 6))
    return subhosts


def job(slots: int = 1, policy: Optional[str] = None, command: str = "run") -> Job:
    params = {"slots": str(slots)}
    if policy:
        params["allocation_policy"] = policy
    return Job(command, params)


def test_a_plan_says_for_each_sub_host_whether_the_job_ever_fits_there():
    plan = Planner(hosts(1, 4, 2)).plan(job(2))
    assert [plan.fits(i) for i in range(3)] == [False, True, True]
    assert str(plan.misfits[0]) == "needs 2 slots, the host has 1"
    assert plan.nowhere is None and plan.first_slots == (0, 1)


def test_a_job_that_fits_nowhere_says_why_by_the_first_sub_host():
    plan = Planner(hosts(4, 8)).plan(job(3, "buddy"))
    assert str(plan.nowhere) == "buddy allocation needs a power-of-two slot count, not 3"


def test_plans_are_made_once_per_slots_and_policy():
    planner = Planner(hosts(2))
    assert planner.plan(job(1, command="a")) is planner.plan(job(1, command="b"))
    assert planner.plan(job(1)) is not planner.plan(job(2))


# --- the intake's decisions, on a fake loop and source ---------------------------------


class FakeLoop:
    """Runs nothing by itself: the test calls what was scheduled."""

    def __init__(self) -> None:
        self.soon: List[Callable[[], None]] = []
        self.later: List[Tuple[float, Callable[[], None]]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.soon.append(callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        self.later.append((delay, callback))
        return object()   # a timer


class Source(MemoryQueue):
    """Jobs in memory; `busy` makes every visit meet a held lock."""

    def __init__(self, jobs: List[Job]):
        super().__init__(jobs)
        self.busy = False
        self.put: List[List[Job]] = []

    def take(self, want: int, chooser: Any) -> List[Job]:
        if self.busy:
            raise Busy()
        return super().take(want, chooser)

    def put_back(self, jobs: Any) -> None:
        if self.busy:
            raise Busy()
        self.put.append(list(jobs))
        super().put_back(jobs)


class Owner:
    """The runner, as the intake sees it (intake.Owner)."""

    def __init__(self) -> None:
        self.started: List[Tuple[str, int]] = []
        self.running = False
        self.nowhere = False

    @property
    def busy(self) -> bool:
        return self.running

    def start(self, job: Job, places: list) -> None:
        self.started.append((job.command, places[0].host))

    def nowhere_to_run(self) -> bool:
        return self.nowhere


def intake(jobs: List[str], sizes: Tuple[int, ...] = (1,), daemon: bool = False,
           up: bool = True) -> Tuple[Intake, Source, QueuePolicy, Owner, FakeLoop]:
    subhosts = hosts(*sizes)
    policy = QueuePolicy(subhosts, Settings(sessions=10 ** 6))
    for index in range(len(subhosts) if up else 0):
        policy.host_up(index)
    source = Source([Job(command) for command in jobs])
    owner, loop = Owner(), FakeLoop()
    fake: Any = loop   # a Loop as far as the intake uses one
    return Intake(fake, source, policy, Handler(), daemon, owner), source, policy, owner, loop


def test_it_takes_as_many_jobs_as_the_policy_has_room_for():
    taker, source, _policy, owner, _loop = intake(["a", "b", "c"], sizes=(1, 1))
    taker.pump()
    assert owner.started == [("a", 0), ("b", 1)]
    assert source.left() == 1 and not taker.exhausted


def test_a_job_to_run_again_goes_before_the_queues_head():
    taker, _source, policy, owner, _loop = intake(["b"])
    first = Job("a")
    taker.retry(1, first)
    taker.pump()
    assert owner.started == [("a", 0)]
    assert taker.retries == [] and policy.capacity() == 0


def test_jobs_to_run_again_with_nowhere_to_run_go_back_to_the_queue():
    taker, source, _policy, owner, _loop = intake(["b"], up=False)
    owner.nowhere = True
    taker.retry(1, Job("a"))
    taker.retry(2, Job("c"))
    taker.pump()
    assert source.put == [[Job("a"), Job("c")]]
    assert taker.retries == [] and not taker.pending


def test_jobs_to_run_again_wait_while_a_job_still_runs_or_in_a_daemon():
    for running, daemon in ((True, False), (False, True)):
        taker, source, _policy, owner, _loop = intake([], daemon=daemon, up=False)
        owner.nowhere, owner.running = True, running
        taker.retry(1, Job("a"))
        taker.pump()
        assert source.put == [] and len(taker.retries) == 1


def test_a_busy_lock_is_tried_again_soon_and_nothing_is_taken_meanwhile():
    taker, source, policy, owner, loop = intake(["a"])
    source.busy = True
    taker.pump()
    assert owner.started == [] and [delay for delay, _ in loop.later] == [LOCK_RETRY]
    assert policy.capacity() == 1, "the place chosen for a take that failed is given back"
    taker.pump()
    assert len(loop.later) == 1, "one retry at a time"
    source.busy = False
    loop.later[0][1]()
    assert owner.started == [("a", 0)]


def test_an_empty_queue_without_d_is_exhausted():
    taker, _source, _policy, owner, _loop = intake(["a"])
    taker.pump()
    assert owner.started == [("a", 0)] and taker.exhausted


class Heard(Handler):
    def __init__(self) -> None:
        self.notices: List[object] = []

    def on_notice(self, notice: Any) -> None:
        self.notices.append(notice)


class Settling(NamedTuple):
    retry: float
    held: bool


def test_a_daemon_says_the_queue_is_empty_once_its_last_entry_has_settled():
    """The first take found the queue empty but for an entry still being
    written: it waits for it, and says the queue is empty once that is so
    (and then only once)."""
    taker, source, _policy, _owner, loop = intake(["a"], sizes=(1, 1), daemon=True)
    heard = Heard()
    taker.events = heard
    comings = [Settling(0.5, False)]
    source.settling = lambda: comings.pop() if comings else None  # type: ignore[method-assign]
    taker.pump()
    assert not any(isinstance(n, notices.QueueEmpty) for n in heard.notices)
    settle = [callback for delay, callback in loop.later if delay == 0.5]
    assert len(settle) == 1
    settle[0]()
    taker.pump()
    assert [n for n in heard.notices if isinstance(n, notices.QueueEmpty)] == [
        notices.QueueEmpty()]


def test_a_choice_takes_up_to_the_first_job_the_policy_refuses_and_can_give_back():
    policy = QueuePolicy(hosts(2), Settings(sessions=10 ** 6))
    policy.host_up(0)
    choice = Choice(policy)
    assert choice.choose([job(1), job(2), job(1)]) == 1   # FIFO: the second waits
    assert choice.offered == 3 and policy.capacity() == 1
    choice.release()
    assert policy.capacity() == 2


# --- the Fanout forwards every event ----------------------------------------------------


def test_a_fanout_passes_every_event_of_handler_to_each_handler_in_order():
    heard: List[Tuple[str, str, tuple]] = []

    def recorder(name: str) -> type:
        def method(event: str) -> Callable[..., None]:
            return lambda self, *args: heard.append((name, event, args))
        return type("Recorder", (Handler,), {event: method(event) for event in EVENTS})

    fanout = Fanout([recorder("first")(), None, recorder("second")()])
    for event in EVENTS:
        assert event in vars(Fanout), "Fanout does not forward %s" % event
        count = len(inspect.signature(getattr(Handler, event)).parameters) - 1
        args = tuple(object() for _ in range(count))
        heard.clear()
        getattr(fanout, event)(*args)
        assert heard == [("first", event, args), ("second", event, args)], event


def test_every_event_is_a_method_of_handler():
    assert set(EVENTS) == {name for name in vars(events.Handler) if name.startswith("on_")}
    with pytest.raises(TypeError):
        type("Misspelt", (Handler,), {"on_job_finsihed": lambda self, outcome: None})
