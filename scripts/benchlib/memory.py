"""Peak memory of a run of pegasus: its own RSS high-water, and the sum of its ssh
children's RSS (and PSS), sampled with psutil in a thread."""

import threading
import time
from typing import Any, List, Optional

MEMORY_SAMPLE = 0.02     # seconds between psutil samples of pegasus's memory


def fmt_mb(size: Optional[float]) -> str:
    return "-" if size is None else "%.1f MB" % (size / 1e6)


class Memory:
    """Peak memory of pegasus during one run, in bytes: its own RSS
    high-water; the largest sum of its descendants' RSS (its ssh masters and
    job clients) seen at one sample, with how many there were; and the
    largest sum of their PSS, which counts shared pages once (None where
    psutil cannot tell)."""

    def __init__(self, own: int, children: int, children_count: int,
                 children_pss: Optional[int], most_children: int, samples: int,
                 seconds: float) -> None:
        self.own = own
        self.children = children
        self.children_count = children_count
        self.children_pss = children_pss
        self.most_children = most_children
        self.samples = samples
        self.seconds = seconds

    def describe(self) -> str:
        return ("pegasus %s; its ssh children: RSS sum %s over %d processes, PSS sum %s; "
                "at most %d at once; %d samples over %.2f s"
                % (fmt_mb(self.own), fmt_mb(self.children), self.children_count,
                   fmt_mb(self.children_pss), self.most_children, self.samples, self.seconds))


class MemorySampler:
    """Samples a process and its descendants with psutil (which must be
    installed) every MEMORY_SAMPLE seconds, in a thread, until stop().

    The process's own peak is the kernel's high-water mark (VmHWM) where
    /proc has it -- the last value read, since it only grows and the first
    samples may still see the forked bench before exec -- else the largest
    RSS seen. The children's RSS is summed as is: the pages of the ssh binary
    and its libraries that they share are counted once per process (an ssh
    client has ~8.7 MB RSS but ~2.4 MB PSS here). Their PSS is dearer to read
    (~0.4 ms a process), so it is summed only when the RSS sum reaches a new
    high, at most every PSS_INTERVAL seconds. Zombies (RSS 0) are not counted."""

    PSS_INTERVAL = 0.25

    def __init__(self, pid: int) -> None:
        # Imported here: the forked child of (d) must import it as pegasus does.
        import psutil
        self.psutil = psutil
        self.pid = pid
        self.process = psutil.Process(pid)
        self.own_hwm: Optional[int] = None
        self.own_rss = 0
        self.children = 0
        self.children_count = 0
        self.children_pss: Optional[int] = None
        self.pss_readable = True
        self.last_pss = 0.0
        self.most_children = 0
        self.samples = 0
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> "MemorySampler":
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> Memory:
        self._stop.set()
        self._thread.join()
        return Memory(self.own_hwm if self.own_hwm is not None else self.own_rss,
                      self.children, self.children_count, self.children_pss,
                      self.most_children, self.samples, time.monotonic() - self.started)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(MEMORY_SAMPLE)

    def _sample(self):
        psutil = self.psutil
        try:
            self.own_rss = max(self.own_rss, self.process.memory_info().rss)
            children = self.process.children(recursive=True)
        except psutil.Error:
            return
        hwm = high_water_mark(self.pid)
        if hwm is not None:
            self.own_hwm = hwm
        total, alive = 0, []
        for child in children:
            try:
                rss = child.memory_info().rss
            except psutil.Error:
                continue    # exited since the listing
            if rss:
                total += rss
                alive.append(child)
        self.samples += 1
        self.most_children = max(self.most_children, len(alive))
        if total > self.children:
            self.children, self.children_count = total, len(alive)
            if self.pss_readable and time.monotonic() - self.last_pss >= self.PSS_INTERVAL:
                self._sample_pss(alive)

    def _sample_pss(self, children: List[Any]) -> None:
        total = 0
        for child in children:
            try:
                total += child.memory_full_info().pss
            except AttributeError:      # no PSS on this system
                self.pss_readable = False
                return
            except self.psutil.Error:
                continue
        self.last_pss = time.monotonic()
        self.children_pss = max(self.children_pss or 0, total)


def high_water_mark(pid: int) -> Optional[int]:
    """VmHWM of pid in bytes, or None (no /proc, or it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


