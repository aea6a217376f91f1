"""`RunGate`: a run given again alone waits for the runs under way and holds back the ones that come after."""

from __future__ import annotations

import threading
import time

from gymbox.sandbox.run_gate import RunGate


def test_a_rerun_waits_for_the_runs_under_way_and_holds_back_new_ones() -> None:
    gate = RunGate()
    events: list[str] = []
    under_way, let_it_end = threading.Event(), threading.Event()

    def run_under_way() -> None:
        with gate.shared():
            under_way.set()
            let_it_end.wait(10)
            events.append("run under way ends")

    def rerun() -> None:
        with gate.alone():
            events.append("rerun starts")
            time.sleep(0.05)
            events.append("rerun ends")

    def new_run() -> None:
        with gate.shared():
            events.append("new run starts")

    threads = [threading.Thread(target=run_under_way)]
    threads[0].start()
    assert under_way.wait(10)
    threads.append(threading.Thread(target=rerun))
    threads[1].start()
    deadline = time.monotonic() + 10
    while not gate._waiting_alone:  # the rerun is in line
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threads.append(threading.Thread(target=new_run))
    threads[2].start()
    time.sleep(0.1)
    assert events == []  # the rerun waits for the run under way, the new run for the rerun
    let_it_end.set()
    for thread in threads:
        thread.join(10)
    assert events == ["run under way ends", "rerun starts", "rerun ends", "new run starts"]


def test_runs_share_the_gate() -> None:
    gate = RunGate()
    with gate.shared(), gate.shared():  # two at once: no wait
        pass
    with gate.alone():
        pass
    with gate.shared():  # open again after a rerun
        pass
