"""The GitHub Actions workflow is valid and runs exactly the README's commands.

The workflow cannot run here, so it is checked statically: against the GitHub workflow
JSON schema vendored by ``check-jsonschema`` (SchemaStore's schema, no network needed), and
for the things the schema cannot know: its triggers, its deploy wiring, and that every
``python3 .ci/tasks.py ...`` command in it is written the same way in the README.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # not in the `oldest` environment

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
README = ROOT / "README.md"
TASK = re.compile(r"python3 \.ci/tasks\.py [a-z]+")


@pytest.fixture(scope="module")
def workflow():
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as the boolean True
    return doc


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with its vendored GitHub workflow schema (works offline)."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", str(path)],
                          capture_output=True, text=True)


def run_commands(workflow) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values()
            for step in job.get("steps", []) if "run" in step]


def test_schema_valid():
    result = check_jsonschema(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_rejects_a_broken_workflow(tmp_path):
    """The schema check can fail: a job with `step:` instead of `steps:` is caught."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
                   "    step:\n      - run: true\n")
    result = check_jsonschema(bad)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "jobs.x" in result.stdout or "jobs" in result.stdout


def test_triggers(workflow):
    on = workflow["on"]
    assert on["push"]["branches"] == ["main"]
    cron = on["schedule"][0]["cron"].split()
    assert len(cron) == 5 and cron[2] != "*" and cron[3:] == ["*", "*"], "monthly schedule"
    assert "workflow_dispatch" in on


def test_readme_commands_are_the_workflows():
    """Every tasks.py command of the workflow is written identically in the README, and
    the workflow runs the README's test, book and student commands."""
    readme = set(TASK.findall(README.read_text()))
    text = WORKFLOW.read_text()
    in_workflow = set(TASK.findall(text))
    required = {f"python3 .ci/tasks.py {t}" for t in ("test", "book", "student")}
    assert required <= readme, f"README lacks {sorted(required - readme)}"
    assert required <= in_workflow, f"workflow lacks {sorted(required - in_workflow)}"
    assert in_workflow <= readme, f"not in the README: {sorted(in_workflow - readme)}"


def test_build_job_runs_the_commands_in_order_and_deploys(workflow):
    build = workflow["jobs"]["build"]
    runs = [s["run"].strip() for s in build["steps"] if "run" in s]
    order = [runs.index(f"python3 .ci/tasks.py {t}") for t in ("test", "book", "student")]
    assert order == sorted(order)
    uses = [s.get("uses", "") for s in build["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assemble = next(s["run"] for s in build["steps"] if "_site/student" in s.get("run", ""))
    assert "_build/html" in assemble and "_build/student/html" in assemble
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]


def test_newest_job_unpins_requirements(tmp_path, workflow):
    """Run the newest job's sed on a copy of requirements.txt: no pin survives, and
    jupyter-book stays on 1.x."""
    newest = workflow["jobs"]["newest"]
    assert "schedule" in newest["if"]
    step = next(s for s in newest["steps"] if "requirements.txt" in s.get("run", ""))
    assert shutil.which("sed"), "sed is needed to run the workflow step"
    shutil.copy(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=tmp_path, check=True,
                   capture_output=True)
    lines = [ln.split("#")[0].strip()
             for ln in (tmp_path / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln]
    assert reqs and not any("==" in r for r in reqs), reqs
    assert "jupyter-book<2" in reqs
    runs = [s["run"].strip() for s in newest["steps"] if "run" in s]
    assert "python3 .ci/tasks.py test" in runs
