"""What confined code may read in a folder that holds a blocked package (issue 25).

Landlock only adds rights, so the confinement leaves the answer key out of
site-packages by opening the folder's other entries one by one. The folder
itself must still be listable: without its listing `importlib.metadata` finds
no distribution, and everything looked up by entry point fails (Matplotlib's
inline backend, which ipykernel selects under nbgrader, made the shipped
course score a correct notebook 0). A site folder of our own, put on the
path of a confined Python: a package that must stay unreadable, another
package with its distribution's metadata and an entry point.
"""

import json
import subprocess
import sys

import pytest

from autograder.isolation import confine

pytestmark = [pytest.mark.skipif(not confine.landlock_abi(), reason="this kernel offers no Landlock"),
              pytest.mark.one_backend]  # no Keras in it

CONFINED = """\
import importlib.metadata, json, os, sys, tempfile
site = sys.argv[1]
sys.path.insert(0, site)
from autograder.isolation import confine

plan = confine.Plan(tempfile.mkdtemp(), processes=64, cpu_seconds=60, file_mb=16, memory_mb=512)
applied, missing = confine.confine(plan, ("secret_pkg",))
seen = {"landlock": "landlock-fs" in applied, "missing": missing,
        "distributions": sorted(d.metadata["Name"] for d in importlib.metadata.distributions(path=[site])),
        "version": importlib.metadata.version("other-pkg"),
        "entry_points": sorted(e.load().__name__ for e in importlib.metadata.entry_points(group="genimg.test")),
        "listing": sorted(os.listdir(site))}
for what, attempt in (("read", lambda: open(os.path.join(site, "secret_pkg", "answer.py")).read()),
                      ("import", lambda: __import__("secret_pkg.answer"))):
    try:
        attempt()
        seen[what] = "got through"
    except Exception as error:
        seen[what] = f"{type(error).__name__}: {error}"
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "secret_pkg").mkdir()
    (site / "secret_pkg" / "__init__.py").write_text("")
    (site / "secret_pkg" / "answer.py").write_text("ANSWER = 42\n")
    (site / "other_pkg").mkdir()
    (site / "other_pkg" / "__init__.py").write_text("def plugin():\n    pass\n")
    info = site / "other_pkg-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: other-pkg\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[genimg.test]\nplugin = other_pkg:plugin\n")
    done = subprocess.run([sys.executable, "-c", CONFINED, str(site)], cwd=site, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_folder_of_a_blocked_package_is_listed_with_every_distribution(seen):
    assert seen["landlock"], seen["missing"]
    assert "other_pkg-1.2.3.dist-info" in seen["listing"] and "secret_pkg" in seen["listing"]
    assert seen["distributions"] == ["other-pkg"]
    assert seen["version"] == "1.2.3"
    assert seen["entry_points"] == ["plugin"]


def test_the_blocked_package_stays_unreadable_and_unimportable(seen):
    assert seen["read"].startswith("PermissionError"), seen["read"]
    assert seen["import"].startswith("PermissionError"), seen["import"]
