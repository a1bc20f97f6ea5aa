"""Slot allocation and the scheduling policies: pure logic."""

import pytest

from pegasus.events.outcome import Reason
from pegasus.policy.broadcast import BroadcastPolicy
from pegasus.policy.queue import QueuePolicy
from pegasus.policy.slots import BUDDY, FIRST_FIT, SlotAllocator, misfit
from pegasus.settings import Settings
from pegasus.spec.jobs import Job
from pegasus.spec.hosts import SubHost
from pegasus.transports import transport


def impossible(size, count, policy):
    found = misfit(size, count, policy)
    return None if found is None else str(found)


def allocator(size, used=()):
    slots = SlotAllocator(size)
    slots.take(list(used))
    return slots


# --- first fit ----------------------------------------------------------------

def test_first_fit_prefers_a_block_starting_at_an_even_index():
    assert allocator(8, [0]).find(2) == [2, 3]  # not [1, 2]


def test_first_fit_takes_an_odd_aligned_block_when_no_even_one_is_free():
    assert allocator(4, [0, 3]).find(2) == [1, 2]


def test_first_fit_falls_back_to_scattered_slots():
    assert allocator(6, [1, 3, 5]).find(3) == [0, 2, 4]


def test_a_single_slot_fills_a_hole_before_breaking_a_pair():
    assert allocator(8, [0, 3]).find(1) == [1]  # keeps [4, 5] and [6, 7] whole
    assert allocator(8).find(1) == [0]


def test_no_room_means_none():
    assert allocator(4, [0, 1, 2]).find(2) is None


# --- buddy --------------------------------------------------------------------

def test_buddy_only_gives_blocks_aligned_to_their_size():
    assert allocator(8, [0]).find(2, BUDDY) == [2, 3]
    assert allocator(8, [0]).find(4, BUDDY) == [4, 5, 6, 7]
    assert allocator(8, [4]).find(4, BUDDY) == [0, 1, 2, 3]


def test_buddy_waits_rather_than_take_an_unaligned_block():
    # [1, 2] are free and contiguous, but not an aligned pair.
    assert allocator(4, [0, 3]).find(2, BUDDY) is None
    assert allocator(4, [0, 3]).find(2, FIRST_FIT) == [1, 2]


def test_buddy_needs_a_power_of_two():
    assert impossible(8, 3, BUDDY) == "buddy allocation needs a power-of-two slot count, not 3"
    assert impossible(8, 3, FIRST_FIT) is None
    assert allocator(8).find(3, BUDDY) is None


# --- frees and impossible requests --------------------------------------------

def test_freed_slots_can_be_allocated_again():
    slots = allocator(4)
    first = slots.find(4)
    slots.take(first)
    assert slots.find(1) is None
    slots.release(first)
    assert slots.free == 4 and slots.find(4) == [0, 1, 2, 3]


def test_taking_a_slot_twice_is_refused():
    slots = allocator(2, [1])
    with pytest.raises(ValueError):
        slots.take([1])


def test_more_slots_than_the_host_has_is_impossible():
    assert impossible(4, 8, FIRST_FIT) == "needs 8 slots, the host has 4"


def test_fragmentation_then_recovery():
    slots = allocator(8)
    singles = []
    for _ in range(4):
        singles.append(slots.find(1))
        slots.take(singles[-1])
    assert sorted(i for one in singles for i in one) == [0, 1, 2, 3]
    block = slots.find(4, BUDDY)
    assert block == [4, 5, 6, 7]
    slots.take(block)
    slots.release(singles[1])
    slots.release(singles[3])
    assert slots.find(2, BUDDY) is None          # 1 and 3 are free, not a pair
    assert slots.find(2, FIRST_FIT) == [1, 3]    # first fit takes them scattered
    slots.release(block)
    assert slots.find(2, BUDDY) == [4, 5]


# --- the queue policy ---------------------------------------------------------

def hosts(*sizes):
    return [SubHost(i, "node-%d" % (i + 1), {}, size) for i, size in enumerate(sizes)]


def make(policy_class, subhosts, sessions=None):
    settings = Settings(sessions=sessions if sessions is not None else 10 ** 6)
    transport.attach(subhosts, settings)
    return policy_class(subhosts, settings)


def job(slots=1, policy=None):
    params = {"slots": str(slots)}
    if policy:
        params["allocation_policy"] = policy
    return Job("run", params)


def ready_queue(*sizes, sessions=None):
    policy = make(QueuePolicy, hosts(*sizes), sessions)
    for index in range(len(sizes)):
        policy.host_up(index)
    return policy


def test_the_head_goes_to_the_first_sub_host_with_room():
    policy = ready_queue(2, 4)
    assert [(p.host, p.slots) for p in policy.accept(job(4))] == [(1, [0, 1, 2, 3])]
    assert [(p.host, p.slots) for p in policy.accept(job(1))] == [(0, [0])]


def test_fifo_the_head_waits_and_nothing_overtakes_it():
    policy = ready_queue(4)
    assert policy.accept(job(2))
    assert policy.accept(job(4)) is None   # does not fit yet
    assert policy.capacity() == 2      # a 1-slot job would fit, but must wait its turn


def test_a_job_larger_than_every_host_fails_at_once():
    policy = ready_queue(2, 4)
    [place] = policy.accept(job(8))
    assert place.host is None and place.reason is Reason.FITS_NOWHERE
    assert "needs 8 slots" in place.detail


def test_a_job_that_fits_a_host_that_is_down_waits_for_it():
    policy = make(QueuePolicy, hosts(2, 8))
    policy.host_up(0)
    policy.host_down(1, Reason.UNREACHABLE)
    assert not policy.accept(job(8))


def test_released_slots_make_room_again():
    policy = ready_queue(2)
    [place] = policy.accept(job(2))
    assert policy.capacity() == 0
    policy.release(place)
    assert policy.capacity() == 2


def test_sessions_cap_the_jobs_on_one_connection():
    policy = ready_queue(16, sessions=9)
    for _ in range(9):
        assert policy.accept(job(1))
    assert not policy.accept(job(1))
    assert policy.capacity() == 0


def test_the_sessions_cap_does_not_apply_to_localhost():
    policy = make(QueuePolicy, [SubHost(0, "localhost", {}, 16)], sessions=9)
    policy.host_up(0)
    for _ in range(16):
        assert policy.accept(job(1))


def _end(policy, place, job, returncode):
    from pegasus.events.outcome import Launch, Outcome
    host = policy.subhosts[place.host]
    launch = Launch(0, job, host, tuple(place.slots), job.command, 0.0, place.attempt)
    return policy.finished(Outcome(launch, 60.0, returncode), place)


def _held(policy):
    """How many entries the policy's own containers hold, beyond one per sub-host."""
    return sum(len(value) for value in vars(policy).values()
               if isinstance(value, (dict, set)))


def test_what_is_kept_about_retries_is_let_go_when_each_job_ends():
    # A daemon that runs for weeks: distinct jobs that each fail once and
    # then succeed leave nothing behind.
    policy = make(QueuePolicy, hosts(1, 1))
    policy.settings.retries = 1
    policy.host_up(0)
    policy.host_up(1)
    held = []
    for count in (10, 1000):
        for n in range(count):
            work = Job("run %d" % n)
            [place] = policy.accept(work)
            assert _end(policy, place, work, 3).retry
            [again] = policy.accept(work)
            assert again.attempt == 2 and again.host != place.host
            assert _end(policy, again, work, 0).job_done
        held.append(_held(policy))
    assert held[0] == held[1]


def test_identical_jobs_count_their_attempts_apart():
    policy = make(QueuePolicy, hosts(1, 1))
    policy.settings.retries = 1
    policy.host_up(0)
    policy.host_up(1)
    first, second = Job("bench"), Job("bench")
    [one] = policy.accept(first)
    [two] = policy.accept(second)
    assert (one.attempt, two.attempt) == (1, 1)
    assert _end(policy, one, first, 3).retry
    assert _end(policy, two, second, 3).retry    # its own retry, not its twin's


# --- the broadcast policy ----------------------------------------------------

def test_broadcast_starts_once_a_host_is_up_and_then_waits_for_the_barrier():
    policy = make(BroadcastPolicy, hosts(1, 1, 1, 1))
    assert policy.capacity() == 0            # nobody connected yet
    policy.host_up(0)
    policy.host_up(1)
    policy.host_down(2, Reason.UNREACHABLE, "refused")
    assert policy.capacity() == 1            # node-4 still connecting: it need not
    places = policy.accept(job())
    # node-4 gets its place all the same; the runner starts it once connected.
    assert [(p.host, p.slots, p.reason, p.detail) for p in places] == [
        (0, [0], None, ""), (1, [0], None, ""), (2, None, Reason.UNREACHABLE, "refused"),
        (3, [0], None, "")]
    policy.host_up(3)
    assert policy.capacity() == 0            # the barrier: every run must end first
    for place in places[:-1]:
        policy.release(place)
    assert policy.capacity() == 0
    policy.release(places[-1])
    assert policy.capacity() == 1


def test_broadcast_gives_each_sub_host_the_first_slots_or_fails_where_too_small():
    policy = make(BroadcastPolicy, hosts(4, 1))
    policy.host_up(0)
    policy.host_up(1)
    first, second = policy.accept(job(2))
    assert first.slots == [0, 1] and second.detail == "needs 2 slots, the host has 1"
