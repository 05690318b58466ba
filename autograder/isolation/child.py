"""The sandbox child: runs a submission's code and answers probe requests.

Started by autograder.isolation.sandbox as `python -I child.py OUT_FD PLAN`,
never imported. PLAN (autograder.isolation.confine.Plan, as JSON) says what to
confine it to: namespaces first, before any library starts a thread; the rest
once Keras is imported, before any student code runs.
Requests arrive on stdin (pickles from the grader); answers leave on the
private pipe OUT_FD as a JSON header plus an .npz of plain numeric arrays, so
nothing the student's code builds can travel back as an object. The answer
key (genimg_ref) and the grader (autograder) cannot be imported from here.
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

    def send(header, arrays=None):
        buffer = io.BytesIO()
        np.savez(buffer, **(arrays or {}))
        body = json.dumps(header).encode()
        payload = struct.pack("<I", len(body)) + body + buffer.getvalue()
        answers.write(struct.pack("<Q", len(payload)) + payload)
        answers.flush()

    def receive():
        size = requests.read(8)
        if len(size) < 8:
            return None
        return pickle.loads(requests.read(struct.unpack("<Q", size)[0]))

    namespace = {"__name__": "submission", "__builtins__": builtins}
    send({"status": "ready", "accelerator": started["device"],
          "confinement": {"applied": applied, "missing": missing}})
    while (request := receive()) is not None:
        if request["op"] == "load":
            errors = []
            for label, source in request["units"]:
                try:
                    exec(compile(source, label, "exec"), namespace)
                except BaseException as error:  # a failing statement costs only itself
                    errors.append(f"{label}: {probes.describe_exception(error)}")
            send({"status": "ok", "errors": errors,
                  "defined": [n for n in GRADED_NAMES if n in namespace]})
        elif request["op"] == "release":
            probes.release_memory()
            send({"status": "ok"})
        elif request["op"] == "probe":
            probes.set_seed(request["seed"])
            try:
                arrays = probes.run_probe(namespace, request["probe"], request["arrays"])
            except MissingName as error:
                send({"status": "missing", "names": error.names})
            except BaseException as error:  # SystemExit and KeyboardInterrupt included
                send({"status": "error", "message": probes.describe_exception(error)})
            else:
                send({"status": "ok"}, arrays)


if __name__ == "__main__":
    main()
