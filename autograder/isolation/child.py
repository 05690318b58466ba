"""The sandbox child: runs a submission's code and answers probe requests.

Started by autograder.isolation.sandbox as `python -I child.py OUT_FD PLAN`,
never imported. PLAN (autograder.isolation.confine.Plan, as JSON) says what to
confine it to: namespaces first, before any library starts a thread; the rest
once Keras is imported, before any student code runs.
Requests arrive on stdin (pickles from the grader); answers leave on the
private pipe OUT_FD as a JSON header plus an .npz of plain numeric arrays, so
nothing the student's code builds can travel back as an object. The answer
key (genimg_ref) and the grader (autograder) cannot be imported from here.

Graded code runs in this process, beside the probes that call it: it could
reach them. So the probes are dispatched from a table copied before any of
it loads, every answer echoes its request's token, and after the load and every probe
the child compares the kit, NumPy, Keras's ops and what an answer is written
with against a fingerprint taken before graded code ran: an answer sent
after they changed says "tampered" (see sandbox.Sandbox.request for the
grader's side). This detects tampering; it cannot prevent code that runs
here from reading this process's memory.
"""

import builtins
import io
import json
import os
import pickle
import struct
import sys

BLOCKED_PACKAGES = ("genimg_ref", "autograder")
HERE = os.path.dirname(os.path.abspath(__file__))
# What the probes and the answers rely on: graded code may not change it. The kit
# whole; of the rest, the modules' own names (their submodules would cost a check
# ten times as long, and every probe is followed by one).
WATCHED_PACKAGE = "genimg_kit"
WATCHED_MODULES = ("numpy", "numpy.random", "keras", "keras.ops", "keras.random", "json", "io", "struct",
                   "pickle", "builtins")


def fingerprint(names=None):
    """{(module, attribute): identity} of the callables of every watched module loaded
    now, or of the modules `names` (and of their code objects): what graded code must
    leave as it found it."""
    if names is None:
        names = [name for name in list(sys.modules)
                 if name in WATCHED_MODULES or name.split(".")[0] == WATCHED_PACKAGE]
    found = {}
    for name in names:
        module = sys.modules.get(name)
        found[name, ""] = id(module)
        for attribute, value in list(vars(module).items()) if module is not None else ():
            if callable(value):
                found[name, attribute] = (id(value), id(getattr(value, "__code__", None)))
            elif isinstance(value, dict) and name.split(".")[0] == WATCHED_PACKAGE:  # the probe table
                found.update({(name, f"{attribute}[{key!r}]"): id(entry) for key, entry in list(value.items())
                              if callable(entry)})
    return found


def changed_since(before, names):
    """The watched names (of the modules `names`) whose module, function or code is no
    longer what `before` saw."""
    now = fingerprint(names)
    return sorted(f"{module}.{attribute}".rstrip(".") for (module, attribute), identity in before.items()
                  if now.get((module, attribute)) != identity)


class AnswerKeyBlocker:
    """A meta-path finder that refuses the answer key and the grader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED_PACKAGES:
            raise ImportError(
                f"graded code may not import {fullname!r}: it is the answer key or the grader, "
                "not part of the assignment"
            )
        return None


def main():
    from autograder.isolation import confine

    plan = confine.Plan.from_json(sys.argv[2])
    channel = int(sys.argv[1])
    started = {}

    def prepare(entered):
        started["requests"] = os.fdopen(os.dup(0), "rb")
        started["answers"] = os.fdopen(channel, "wb")
        # The student's code gets an empty stdin; the protocol stays on private fds.
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
        # Loaded now, before any student code and before the restrictions.
        import keras  # noqa: F401
        import numpy  # noqa: F401

        import genimg_kit.parts  # noqa: F401
        import genimg_kit.probes  # noqa: F401
        from genimg_kit.probes.device import accelerator

        started["device"] = accelerator()  # before the restrictions: a GPU runtime starts here

    applied, missing = confine.confine(plan, BLOCKED_PACKAGES, channel=channel, expose=plan.python,
                                       prepare=prepare)
    for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED_PACKAGES]:
        del sys.modules[name]
    sys.meta_path.insert(0, AnswerKeyBlocker())
    requests, answers = started["requests"], started["answers"]
    import numpy as np

    from genimg_kit import probes
    from genimg_kit.parts import GRADED_NAMES, MissingName

    # Bound now: graded code that rebinds them changes no answer (and is reported).
    savez, dumps, pack, BytesIO = np.savez, json.dumps, struct.pack, io.BytesIO

    def send(header, arrays=None):
        buffer = BytesIO()
        savez(buffer, **(arrays or {}))
        body = dumps(header).encode()
        payload = pack("<I", len(body)) + body + buffer.getvalue()
        answers.write(pack("<Q", len(payload)) + payload)
        answers.flush()

    def receive():
        size = requests.read(8)
        if len(size) < 8:
            return None
        return pickle.loads(requests.read(struct.unpack("<Q", size)[0]))

    namespace = {"__name__": "submission", "__builtins__": builtins}
    table, before = dict(probes.PROBES), fingerprint()
    watched = sorted({module for module, _ in before})
    send({"status": "ready", "accelerator": started["device"],
          "confinement": {"applied": applied, "missing": missing}})
    while (request := receive()) is not None:
        token = request.get("token")
        if request["op"] == "ping":
            send({"status": "pong", "token": token})
        elif request["op"] == "load":
            errors = []
            for label, source in request["units"]:
                try:
                    exec(compile(source, label, "exec"), namespace)
                except BaseException as error:  # a failing statement costs only itself
                    errors.append(f"{label}: {probes.describe_exception(error)}")
            if changed := changed_since(before, watched):
                send({"status": "tampered", "token": token, "changed": changed[:20]})
            else:
                send({"status": "ok", "token": token, "errors": errors,
                      "defined": [n for n in GRADED_NAMES if n in namespace]})
        elif request["op"] == "release":
            probes.release_memory()
            send({"status": "ok", "token": token})
        elif request["op"] == "probe":
            probes.set_seed(request["seed"])
            try:
                arrays = table[request["probe"]](namespace, **request["arrays"])
            except MissingName as error:
                send({"status": "missing", "token": token, "names": error.names})
            except BaseException as error:  # SystemExit and KeyboardInterrupt included
                send({"status": "error", "token": token, "message": probes.describe_exception(error)})
            else:
                changed = changed_since(before, watched)  # while the probe ran
                send({"status": "tampered", "token": token, "changed": changed[:20]} if changed
                     else {"status": "ok", "token": token}, None if changed else arrays)


if __name__ == "__main__":
    main()
