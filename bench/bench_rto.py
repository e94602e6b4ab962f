"""RTO error of our samplers vs the seed guide's polling, and the samplers' CPU cost.

Against local HTTP servers that are down for exactly D seconds (D = 0.5, 2, 10, and 7
to show the guide's polls when D is not a multiple of their period), side by
side in one run (the trials of one D run in parallel, one server each):

- ours at 4 Hz and at 20 Hz (probes.samplers, K = 3, RTO = recovery - t0);
- the guide's test_rds_failover.py wait loop: poll every 10 s from t0, RTO = elapsed at
  the first successful poll;
- the guide's connectivity loop: a check every 5 s running since before the fault,
  downtime = first success after a failure - that failure.

Error = measured - truth (truth = D, from the server's own monotonic stamps). Then the
CPU cost of 4 HTTP samplers at 20 Hz (server in another process): process CPU time over
wall time, in percent of one core.

    python bench/bench_rto.py [--trials 5] [--long-trials 5] [--cpu-seconds 20]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from probes.outage_servers import SwitchableServer
from probes.recovery import compute_rto
from probes.samplers import Cadence, HttpCheck, Sampler

METHODS = ("ours 4 Hz", "ours 20 Hz", "guide 10 s", "guide 5 s")


def guide_wait_loop(check: HttpCheck, t0: float, every: float, bound: float) -> float | None:
    """test_rds_failover.py: poll right after the fault, then every ``every`` s."""
    while time.monotonic() - t0 < bound:
        try:
            check(5)
            return time.monotonic() - t0
        except Exception:
            time.sleep(every)
    return None


def guide_connectivity_loop(
    check: HttpCheck, every: float, stop: threading.Event, out: dict
) -> None:
    """The guide's connectivity loop: downtime = first success - first failure."""
    down_at = None
    while not stop.is_set():
        try:
            check(5)
            out["last_ok"] = time.monotonic()
            if down_at is not None and "downtime" not in out:
                out["downtime"] = time.monotonic() - down_at
        except Exception:
            if down_at is None:
                down_at = time.monotonic()
        stop.wait(every)


def one_trial(
    duration: float, executor: ThreadPoolExecutor, phase: float
) -> dict[str, float | None]:
    server = SwitchableServer().start()
    check = HttpCheck(server.url)
    samplers = {
        hz: Sampler(f"{hz}hz", check, 0.8 / hz, executor, max_in_flight=4) for hz in (4, 20)
    }
    cadences = [Cadence(1 / hz, samplers[hz].tick, f"{hz}hz") for hz in (4, 20)]
    stop = threading.Event()
    connectivity: dict = {}
    loop = threading.Thread(
        target=guide_connectivity_loop, args=(check, 5.0, stop, connectivity), daemon=True
    )
    loop.start()
    for cadence in cadences:
        cadence.start()
    time.sleep(1.0 + phase)  # the fault lands at ``phase`` s into the 5 s loop's period
    t0 = server.down_for(duration)
    guide10 = guide_wait_loop(check, t0, 10.0, bound=duration + 60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the 5 s loop saw the end (or slept through)
        if "downtime" in connectivity or connectivity.get("last_ok", 0) > t0 + duration:
            break
        time.sleep(0.05)
    stop.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # our samplers need K successes after the outage
        if all(compute_rto(x.samples(), t0, 1 / hz, 3).recovered for hz, x in samplers.items()):
            break
        time.sleep(0.05)
    for cadence in cadences:
        cadence.stop()
    ((down, up),) = server.outages()
    truth = (up or 0) - t0
    result: dict[str, float | None] = {"truth": truth}
    for hz, sampler in samplers.items():
        sampler.finalize(1.0)
        rto = compute_rto(sampler.samples(), t0, 1 / hz, 3).measured_s
        result[f"ours {hz} Hz"] = None if rto is None else rto - truth
    result["guide 10 s"] = None if guide10 is None else guide10 - truth
    # a loop that slept through the whole outage reports no downtime: 0 - truth
    result["guide 5 s"] = connectivity.get("downtime", 0.0) - truth
    result["guide 5 s missed"] = 0.0 if "downtime" in connectivity else 1.0
    server.stop()
    loop.join(6)
    return result


def rto_table(durations: list[float], trials: dict[float, int]) -> None:
    executor = ThreadPoolExecutor(32, thread_name_prefix="bench")
    print(
        f"{'D (s)':>6} {'method':<11} {'n':>2} {'|err| median':>13} {'|err| max':>10}"
        f" {'ratio to ours 20 Hz (median)':>29}"
    )
    for duration in durations:
        with ThreadPoolExecutor(trials[duration]) as pool:
            count = trials[duration]
            # phases spread evenly over the 5 s loop's period, random against the
            # samplers' 0.25 s / 0.05 s grids
            futures = [
                pool.submit(
                    one_trial,
                    duration,
                    executor,
                    5.0 * (i + 0.5) / count + random.uniform(0, 0.25),
                )
                for i in range(count)
            ]
            rows = [f.result() for f in futures]
        errors = {m: [abs(r[m]) for r in rows if r[m] is not None] for m in METHODS}
        medians = {m: statistics.median(e) if e else float("nan") for m, e in errors.items()}
        for method in METHODS:
            median = medians[method]
            ratio = median / medians["ours 20 Hz"] if medians["ours 20 Hz"] else float("nan")
            missing = len(rows) - len(errors[method])
            notes = [f"{missing} not measured"] if missing else []
            if method == "guide 5 s":
                slept = int(sum(r["guide 5 s missed"] or 0 for r in rows))
                if slept:
                    notes.append(f"{slept} outages not seen at all")
            note = f" ({', '.join(notes)})" if notes else ""
            worst = max(errors[method], default=float("nan"))
            print(
                f"{duration:>6g} {method:<11} {len(errors[method]):>2} {median:>13.3f}"
                f" {worst:>10.3f} {ratio:>29.1f}{note}"
            )
    executor.shutdown(wait=False, cancel_futures=True)


def _serve_forever(port_queue: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    servers = [SwitchableServer().start() for _ in range(4)]
    port_queue.put([s.url for s in servers])
    stop.wait()


def cpu_cost(seconds: float, count: int = 4, hz: float = 20) -> float:
    """Percent of one core used by ``count`` HTTP samplers at ``hz`` (server elsewhere)."""
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    child = context.Process(target=_serve_forever, args=(queue, stop), daemon=True)
    child.start()
    urls = queue.get(timeout=30)
    executor = ThreadPoolExecutor(count * 4 + 2)
    samplers = [Sampler(f"s{i}", HttpCheck(u), 0.8 / hz, executor) for i, u in enumerate(urls)]

    def tick(now: float) -> None:
        for sampler in samplers:
            sampler.tick(now)

    cadence = Cadence(1 / hz, tick, "cpu")
    wall0, cpu0 = time.monotonic(), time.process_time()
    cadence.start()
    time.sleep(seconds)
    cadence.stop()
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    stop.set()
    child.join(5)
    executor.shutdown(wait=True)
    total = sum(len(s.samples()) for s in samplers)
    failed = sum(1 for s in samplers for x in s.samples() if not x.ok)
    print(
        f"\nCPU: {count} HTTP samplers at {hz:g} Hz for {wall:.1f} s: {total} samples "
        f"({failed} failed), {100 * cpu / wall:.2f}% of one core (goal < 5%)"
    )
    return 100 * cpu / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--long-trials", type=int, default=5, help="trials for D = 10 s")
    parser.add_argument("--cpu-seconds", type=float, default=20.0)
    parser.add_argument("--durations", default="0.5,2,10,7")
    args = parser.parse_args()
    durations = [float(d) for d in args.durations.split(",")]
    trials = {d: (args.long_trials if d >= 7 else args.trials) for d in durations}
    started = time.monotonic()
    rto_table(durations, trials)
    cpu_cost(args.cpu_seconds)
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
