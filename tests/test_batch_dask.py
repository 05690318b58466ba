"""`genimg-grade batch --scheduler`: the same batch on a real Dask cluster on 127.0.0.1.

The module starts a `dask scheduler` and two `dask worker --nworkers 1
--nthreads 1` processes (random ports, found through a scheduler file) and
stops them at the end, checking that nothing they started is left. On it:

- two hanging submissions with a small --timeout, then two more: each worker
  times out on one, kills its grading process, and grades the next;
- meanwhile (the hanging ones only sleep) the local pool grades a class of
  three (correct, buggy folder, unreadable notebook), which Dask then grades
  too: the records must be the same;
- a second run skips everyone; an unreachable scheduler, or no dask, is a
  clear error (exit status 2).

Only the cheap kl_loss part is graded. The backend is $KERAS_BACKEND.
"""

import csv
import dataclasses
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import BROKEN_NOTEBOOK, BUGGY, CORRECT, HANGING, write  # noqa: E402
from autograder import cli  # noqa: E402
from autograder.batch import dask_client, dask_worker, pool, slot  # noqa: E402
from autograder.apps import batch as batch_app  # noqa: E402
from autograder.apps.options import grading_limits  # noqa: E402
from autograder.grade import failed_record  # noqa: E402
from autograder.limits import Limits  # noqa: E402
from genimg_kit.parts import part_points  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
PARTS = ["kl_loss"]
# The class's timeout: a correct submission needs ~10-30 s on a loaded 2-core machine.
TIMEOUT = 90.0
# The hanging run's; the submissions after the hanging ones there are unreadable notebooks
# (graded at once), and the class is graded on the same workers afterwards.
SMALL_TIMEOUT = 15.0
# The line dask_client.DaskExecutor writes to the log before each task's output.
TASK_LINE = re.compile(r"^--- (\S+): (\w+) in ([\d.]+) s on Dask worker (\S+), grading process (\d+) ---$", re.M)


class Cluster:
    """A scheduler and two workers, each in its own session, started here."""

    def __init__(self, folder):
        self.folder = folder
        self.processes, self.logs = [], []
        scheduler_file = folder / "scheduler.json"
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", scheduler_file, "--idle-timeout", "600")
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, self.output()
            assert self.processes[0].poll() is None, self.output()
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(2):
            self._start("worker", self.address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                        "--no-dashboard", "--death-timeout", "60", "--local-directory", folder / f"worker{i}",
                        "--name", f"w{i}")
        self.workers_at_start = self.wait_for_workers(2)

    def _start(self, *args):
        log = open(self.folder / f"{args[0]}{len(self.processes)}.log", "w")
        self.logs.append(log)
        self.processes.append(subprocess.Popen(
            [sys.executable, "-m", "dask", *map(str, args)], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True))

    def workers(self):
        from distributed import Client

        with Client(self.address, timeout=20, set_as_default=False) as client:
            return sorted(client.scheduler_info()["workers"])

    def wait_for_workers(self, count, seconds=90):
        deadline = time.monotonic() + seconds
        while len(workers := self.workers()) < count:
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.5)
        return workers

    def descendants(self):
        found = []
        for process in self.processes:
            try:
                found += [psutil.Process(process.pid)] + psutil.Process(process.pid).children(recursive=True)
            except psutil.Error:
                pass
        return found

    def stop(self):
        """Stops everything; returns the processes that SIGTERM did not end within 30 s."""
        everything = self.descendants()
        for process in reversed(self.processes):  # workers first, then the scheduler
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(everything, timeout=30)
        slot.kill_all(alive)  # SIGKILL, with their process groups
        psutil.wait_procs(alive, timeout=10)
        for log in self.logs:
            log.close()
        self.processes = []
        return alive

    def output(self):
        return "\n".join(path.read_text()[-3000:] for path in sorted(self.folder.glob("*.log")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tasks(out):
    """[(student, ending, seconds, worker, pid)] from OUT/batch.log, in the order they ended."""
    text = (out / pool.LOG_NAME).read_text()
    return [(s, k, float(sec), w, int(pid)) for s, k, sec, w, pid in TASK_LINE.findall(text)]


def comparable(record):
    """A record without what differs between two gradings of one file (times)."""
    data = record.to_json()
    del data["seconds"], data["timings"]
    for checks in data["parts"].values():
        for check in checks:
            del check["seconds"]
    return data


def statuses(records):
    return {s: r.status for s, r in records.items()}, {s: r.message[:300] for s, r in records.items()}


def summary_rows(out):
    """OUT/summary.csv as {student: row}, without the seconds column."""
    with open(out / pool.SUMMARY_NAME, newline="") as f:
        return {row["student"]: {k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)}


def mtimes(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("students/*/results.json")}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    klass = tmp_path_factory.mktemp("class")
    write(klass, "b_correct.py", CORRECT)
    write(klass, "c_buggy/vae.py", BUGGY)  # a folder submission, sent as its files
    write(klass, "c_buggy/notes.txt", "not sent")
    write(klass, "d_broken.ipynb", BROKEN_NOTEBOOK)
    hanging = tmp_path_factory.mktemp("hanging")
    write(hanging, "a_hanging.py", HANGING)
    write(hanging, "b_hanging.py", HANGING)
    write(hanging, "c_next.ipynb", BROKEN_NOTEBOOK)
    write(hanging, "d_next.ipynb", BROKEN_NOTEBOOK)
    local_out, hanging_out, dask_out = (tmp_path_factory.mktemp(n) for n in ("local", "hanging_out", "dask"))
    local = {}

    def grade_locally():
        try:
            local["records"] = pool.run_batch(klass, local_out, workers=2, timeout=TIMEOUT, backend=BACKEND,
                                              parts=PARTS, progress=False)
        except BaseException as error:  # raised below, in the test's thread
            local["error"] = error

    # The local class is graded while the Dask workers sit on the hanging ones (which sleep).
    thread = threading.Thread(target=grade_locally)
    thread.start()
    started = time.monotonic()
    hung = pool.run_batch(hanging, hanging_out, timeout=SMALL_TIMEOUT, backend=BACKEND, parts=PARTS,
                          progress=False, scheduler=cluster.address)
    hung_seconds = time.monotonic() - started
    thread.join()
    if "error" in local:
        raise local["error"]
    workers_after_hang = cluster.workers()
    started = time.monotonic()
    remote = pool.run_batch(klass, dask_out, timeout=TIMEOUT, backend=BACKEND, parts=PARTS,
                            progress=False, scheduler=cluster.address)
    return {"class": klass, "hanging": hanging, "local": local["records"], "dask": remote,
            "dask_out": dask_out, "local_out": local_out, "hung": hung, "hanging_out": hanging_out,
            "hung_seconds": hung_seconds, "class_seconds": time.monotonic() - started,
            "workers_after_hang": workers_after_hang}


def test_dask_grades_the_same_records_as_the_local_pool(runs):
    local, remote = runs["local"], runs["dask"]
    assert list(remote) == list(local) == ["b_correct", "c_buggy", "d_broken"]
    assert statuses(local)[0] == statuses(remote)[0], (statuses(local), statuses(remote))
    for student in local:
        assert comparable(remote[student]) == comparable(local[student]), student
    assert statuses(remote)[0] == {"b_correct": "ok", "c_buggy": "ok", "d_broken": "error"}, statuses(remote)
    assert remote["b_correct"].score == part_points("kl_loss") > remote["c_buggy"].score > 0
    assert "could not be read" in remote["d_broken"].message
    # The records name the submissions as this machine sees them, not the workers' copies.
    assert remote["c_buggy"].submission == str(runs["class"] / "c_buggy")
    # Written here, the same files the local pool writes.
    for student in local:
        data = json.loads(pool.results_path(runs["dask_out"], student).read_text())
        assert data["extra_data"]["genimg"] == remote[student].to_json()
    local_rows, dask_rows = (summary_rows(runs[out]) for out in ("local_out", "dask_out"))
    assert list(dask_rows) == list(local) and dask_rows == local_rows
    # Each task's output went to the log, behind a line naming its worker.
    assert sorted(t[0] for t in tasks(runs["dask_out"])) == list(local)


def test_a_hanging_submission_times_out_and_its_worker_grades_the_next(runs, cluster):
    hung, out = runs["hung"], runs["hanging_out"]
    assert statuses(hung)[0] == {"a_hanging": "timeout", "b_hanging": "timeout",
                                 "c_next": "error", "d_next": "error"}, statuses(hung)
    for student in ("a_hanging", "b_hanging"):
        record = hung[student]
        assert SMALL_TIMEOUT <= record.seconds < SMALL_TIMEOUT + 15
        assert record.score == 0 and list(record.parts) == PARTS
        assert f"longer than {SMALL_TIMEOUT:g} s" in record.message
    for student in ("c_next", "d_next"):
        assert "could not be read" in hung[student].message
    ended = tasks(out)
    by_student = {t[0]: t for t in ended}
    timed_out = {s: t for s, t in by_student.items() if t[1] == "timeout"}
    assert set(timed_out) == {"a_hanging", "b_hanging"}
    # One hanging submission per worker: neither waited behind the other.
    assert {t[3] for t in timed_out.values()} == set(cluster.workers_at_start)
    assert runs["hung_seconds"] < 2 * SMALL_TIMEOUT + 45
    graded_after = tasks(runs["dask_out"])  # the class, graded next on the same cluster
    for student, (_, _, _, worker, pid) in timed_out.items():
        assert not psutil.pid_exists(pid), f"{student}'s grading process {pid} is still running"
        # The worker took the next submission at once, in a fresh grading process ...
        later = [t for t in ended[ended.index(by_student[student]) + 1:] if t[3] == worker]
        assert later and later[0][1] == "graded" and later[0][4] != pid
        # ... and graded a real one afterwards, in a sandbox, as the local pool does.
        assert [s for s, kind, _, w, _ in graded_after
                if w == worker and kind == "graded" and runs["dask"][s].profile], (worker, graded_after)
    # No Dask worker died or was restarted for it.
    assert runs["workers_after_hang"] == cluster.workers_at_start == cluster.workers()


def test_a_second_run_skips_everyone_graded(runs, cluster, capsys):
    out = runs["dask_out"]
    before = mtimes(out)
    log_before = (out / pool.LOG_NAME).read_text()
    started = time.monotonic()
    code = cli.main(["batch", str(runs["class"]), "--out", str(out), "--scheduler", cluster.address,
                     "--parts", "kl_loss", "--timeout", str(TIMEOUT), "--backend", BACKEND, "--no-progress"])
    assert code == 0
    assert "3 students" in capsys.readouterr().out
    assert time.monotonic() - started < 15  # nothing graded: a connection and a summary
    assert mtimes(out) == before and before
    assert (out / pool.LOG_NAME).read_text() == log_before  # no task ran


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch, capsys):
    pytest.importorskip("distributed")
    write(tmp_path / "class", "alice.py", CORRECT)
    quick = lambda args: dataclasses.replace(grading_limits(args), dask_connect_seconds=3.0)  # noqa: E731
    monkeypatch.setattr(batch_app, "grading_limits", quick)
    address = f"tcp://127.0.0.1:{free_port()}"  # nobody listens there
    started = time.monotonic()
    code = cli.main(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--scheduler", address,
                     "--parts", "kl_loss", "--no-progress"])
    assert code == 2
    assert time.monotonic() - started < 30
    error = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in error and "Traceback" not in error
    assert not (tmp_path / "out" / "alice").exists()


def test_a_scheduler_without_workers_is_a_clear_error_unless_nothing_is_left(tmp_path):
    distributed = pytest.importorskip("distributed")
    write(tmp_path / "class", "alice.py", CORRECT)
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=":0") as empty:
        with pytest.raises(pool.BatchError, match="has no workers after 2 s"):
            pool.run_batch(tmp_path / "class", tmp_path / "out", parts=PARTS, progress=False,
                           scheduler=empty.scheduler_address, limits=Limits(dask_workers_seconds=2.0))
        assert not (tmp_path / "out" / "alice").exists()
        # Everyone graded already: no worker needed, the summary is rebuilt.
        graded = failed_record(tmp_path / "class" / "alice.py", BACKEND, PARTS, "timeout", "too slow", 9.0)
        pool.write_result(tmp_path / "out", "alice", graded)
        records = pool.run_batch(tmp_path / "class", tmp_path / "out", parts=PARTS, progress=False,
                                 scheduler=empty.scheduler_address)
        assert {s: r.to_json() for s, r in records.items()} == {"alice": graded.to_json()}


def test_without_dask_the_option_is_a_clear_error(tmp_path, monkeypatch, capsys):
    write(tmp_path / "class", "alice.py", CORRECT)
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    code = cli.main(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "--scheduler", "tcp://127.0.0.1:8786", "--no-progress"])
    assert code == 2
    error = capsys.readouterr().err
    assert "needs dask and distributed" in error and "genimg[dask]" in error


def test_pack_sends_the_files_the_grader_reads_and_unpacks_them(tmp_path):
    folder = write(tmp_path, "bob/vae.py", CORRECT).parent
    write(folder, "sub/more.py", "x = 1\n")
    write(folder, "nb.ipynb", "{}")
    write(folder, "data.csv", "1,2")
    write(folder, ".hidden/secret.py", "")
    write(folder, "__pycache__/vae.py", "")
    is_dir, files = dask_client.pack(folder)
    assert is_dir and files == {"nb.ipynb": b"{}", "sub/more.py": b"x = 1\n", "vae.py": CORRECT.encode()}
    (tmp_path / "worker").mkdir()
    copy = dask_worker._unpack(tmp_path / "worker", "bob", (is_dir, files))
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()) == sorted(files)
    assert (copy / "sub" / "more.py").read_bytes() == b"x = 1\n"
    single = dask_worker._unpack(tmp_path / "worker", "alice.py", dask_client.pack(write(tmp_path, "alice.py", BUGGY)))
    assert single.read_text() == BUGGY
    with pytest.raises(ValueError, match="outside"):
        dask_worker._unpack(tmp_path / "worker", "eve", (True, {"../escaped.py": b""}))
    assert not (tmp_path / "escaped.py").exists()


def test_stopping_the_cluster_leaves_no_process(cluster):
    everything = cluster.descendants()
    # A scheduler, two nannies, two workers, and each worker's warm grading process at least.
    assert len(everything) >= 5
    left = cluster.stop()
    assert left == [], f"still running after SIGTERM: {left}"
    assert not any(p.is_running() for p in everything)
