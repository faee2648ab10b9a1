"""End-to-end tests of the LLM front end against a local OpenAI-protocol server with scripted replies.

Only the model is scripted: HTTP, the sandbox (real subprocesses under real limits), nco.solve,
nco's evaluator and the CLI all run for real.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import nco
from nco.cli import main as cli_main
from nco.llm import ChatClient, ChatError, SandboxLimits, formulate
from nco.llm.match import instance_differences
from nco.llm.prompt import extract_code
from nco.llm.sandbox import confinement_problem, network_isolation, run_python
from nco.llm.textcheck import check_against_text

sys.path.insert(0, str(Path(__file__).parent))
from llm_server import ScriptedChatServer  # noqa: E402

TASKS = Path(__file__).resolve().parents[1] / "data" / "llm_tasks"
# generated code runs only under bubblewrap (.ci/run installs it); the escapes are in test_sandbox.py
needs_sandbox = pytest.mark.skipif(
    confinement_problem() is not None, reason=f"no OS-level sandbox: {confinement_problem()}"
)

TEXT = (
    "Three vans with capacity 10 leave the depot at (0, 0) and deliver to 6 customers at "
    "(10, 0), (20, 0), (0, 10), (0, 20), (-10, 0), (-20, 0), each needing 4 units. "
    "Distances are straight-line. Minimise the total distance."
)
# the tail every scripted program shares: emit the result as the prompt's contract says
EMIT = 'nco.write(instance, "instance.json")\nnco.write(solution, "solution.json")\n'
BUILD = """import numpy as np, nco
pts = np.array([(0, 0), (10, 0), (20, 0), (0, 10), (0, 20), (-10, 0), (-20, 0)], float)
distance = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
"""
CORRECT = (
    BUILD
    + (
        "instance = nco.Instance(distance=distance, demand=[0] + [4] * 6, capacity=10, num_vehicles=3)\n"
        "solution = nco.solve(instance, method='vroom', time_limit=1)\n"
    )
    + EMIT
)
CRASHES = BUILD + "instance = nco.Instance(distance=distance, demand=[4] * 7, capacity=10)\n" + EMIT
# runs, but its hand-made routes overload a van: the evaluator must catch it
VIOLATES = (
    BUILD
    + (
        "instance = nco.Instance(distance=distance, demand=[0] + [4] * 6, capacity=10, num_vehicles=3)\n"
        "solution = nco.Solution.of(instance, [[1, 2, 3], [4, 5, 6]])\n"
    )
    + EMIT
)
DROPS_A_CUSTOMER = CORRECT.replace("(-20, 0)], float)", "], float)").replace("[4] * 6", "[4] * 5")


def fenced(code: str) -> str:
    return f"Here is the program.\n\n```python\n{code}```\nIt builds the instance and solves it."


# --- the OpenAI protocol ------------------------------------------------------------------------
def test_client_speaks_the_protocol_and_retries_transient_errors() -> None:
    with ScriptedChatServer([503, 429, "hello"]) as server:
        client = ChatClient(server.endpoint, "test-model", api_key="sk-test", backoff=0.01)
        assert client.complete([{"role": "user", "content": "hi"}]) == "hello"
    assert len(server.requests) == 3
    assert server.requests[-1]["model"] == "test-model"
    assert server.requests[-1]["messages"] == [{"role": "user", "content": "hi"}]
    assert server.headers[-1]["Authorization"] == "Bearer sk-test"


def test_client_gives_up_after_bounded_retries_with_a_clear_error() -> None:
    with ScriptedChatServer([500, 500, 500]) as server:
        client = ChatClient(server.endpoint, "m", retries=2, backoff=0.01)
        with pytest.raises(ChatError, match="HTTP 500.*3 attempts"):
            client.complete([{"role": "user", "content": "hi"}])
    with ScriptedChatServer([]) as server:
        port = server.port
    with pytest.raises(ChatError, match="cannot reach"):  # nothing listens there any more
        ChatClient(f"http://127.0.0.1:{port}/v1", "m", retries=1, backoff=0.01, timeout=2).complete([])


def test_missing_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NCO_LLM_ENDPOINT", "NCO_LLM_MODEL", "NCO_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ChatError, match="NCO_LLM_ENDPOINT"):
        formulate(TEXT)


# --- code extraction ----------------------------------------------------------------------------
def test_extract_code_prefers_the_last_python_block_and_copes_with_truncation() -> None:
    reply = "First a snippet:\n```python\nx = 1\n```\nThe program:\n```python\nimport nco\nprint(nco)\n```\n"
    assert extract_code(reply) == "import nco\nprint(nco)"
    assert extract_code("<think>```python\nimport os\n```</think>```py\nimport nco\n") == "import nco"
    assert extract_code("```\nimport nco\nx = 2\n```") == "import nco\nx = 2"
    assert extract_code("import nco\nprint(1)") == "import nco\nprint(1)"
    assert extract_code("I cannot help with that.") is None


# --- the sandbox --------------------------------------------------------------------------------
@needs_sandbox
def test_sandbox_runs_nco_and_returns_only_collected_files() -> None:
    run = run_python(CORRECT, collect=("instance.json", "solution.json", "missing.json"))
    assert run.ok, run.stderr
    assert set(run.files) == {"instance.json", "solution.json"}
    assert run.elapsed < 20


@needs_sandbox
def test_sandbox_stops_an_endless_loop_at_the_wall_clock_limit() -> None:
    run = run_python("while True:\n    pass\n", limits=SandboxLimits(wall_time=2, cpu_time=30))
    assert run.timed_out and not run.ok
    assert 2 <= run.elapsed < 10
    assert "wall-clock limit" in run.failure()


@needs_sandbox
def test_sandbox_cpu_limit_kills_a_busy_program() -> None:
    run = run_python("while True:\n    pass\n", limits=SandboxLimits(wall_time=30, cpu_time=1))
    assert not run.timed_out and run.returncode is not None and run.returncode < 0
    assert "CPU time limit" in run.failure()


@needs_sandbox
def test_sandbox_memory_limit_stops_a_large_allocation() -> None:
    # 1 GiB would succeed on this machine without the limit
    run = run_python("import numpy as np\na = np.ones(2**27)\nprint(a.sum())", limits=SandboxLimits(memory_mb=512))
    assert not run.ok
    assert "memory limit of 512 MiB" in run.failure()


@needs_sandbox
def test_sandbox_blocks_network_access() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[object] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
    run = run_python(code, limits=SandboxLimits(wall_time=10))
    listener.close()
    assert not run.ok and "connected" not in run.stdout
    assert "sandbox: socket" in run.stderr
    assert not accepted


def test_network_namespace_alone_isolates_the_child() -> None:
    """The OS-level layer, without the audit hook: the same connection fails inside ``unshare``."""
    prefix = network_isolation()
    if not prefix:
        pytest.skip("no network namespaces on this machine; the audit hook is the only network guard")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    listener.close()
    assert result.returncode != 0
    assert "Error" in result.stderr  # refused / unreachable: no route out of the empty namespace


@needs_sandbox
@pytest.mark.parametrize("target", ["/etc/passwd", "HOME", "SECRET"])
def test_sandbox_blocks_reading_files_outside_its_directory(target: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    path = {"/etc/passwd": "/etc/passwd", "HOME": str(Path.home()), "SECRET": str(secret)}[target]
    code = f"import os\np = {path!r}\nprint(os.listdir(p) if os.path.isdir(p) else open(p).read())"
    run = run_python(code)
    assert not run.ok
    assert "sandbox:" in run.stderr and "not allowed" in run.stderr
    assert "token" not in run.stdout and "root:" not in run.stdout


@needs_sandbox
def test_sandbox_blocks_writing_outside_and_escaping_through_processes_or_ctypes(tmp_path: Path) -> None:
    target = tmp_path / "planted.txt"
    for code in (
        f"open({str(target)!r}, 'w').write('x')",
        f"import subprocess\nsubprocess.run(['touch', {str(target)!r}])",
        f"import os\nos.system('touch {target}')",
        "import ctypes\nctypes.CDLL(None).system(b'true')",
    ):
        run = run_python(code)
        assert not run.ok and "sandbox:" in run.stderr, code
    assert not target.exists()


@needs_sandbox
def test_sandbox_gets_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCO_LLM_API_KEY", "sk-must-not-leak")
    run = run_python("import os, json\nprint(json.dumps(dict(os.environ)))")
    assert run.ok, run.stderr
    environment = json.loads(run.stdout)
    assert "NCO_LLM_API_KEY" not in environment and "sk-must-not-leak" not in run.stdout
    assert set(environment) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONHASHSEED",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "LC_CTYPE",
    }


# --- the loop: self-debugging and self-verification ---------------------------------------------
@needs_sandbox
def test_self_debugging_feeds_the_traceback_back_until_the_program_runs() -> None:
    with ScriptedChatServer([fenced(CRASHES), fenced(CORRECT)]) as server:
        result = formulate(TEXT, endpoint=server.endpoint, model="m", max_rounds=3)
    assert result.verified and len(result.rounds) == 2
    feedback = server.requests[1]["messages"][-1]["content"]
    assert "demand[0]" in feedback and "InstanceError" in feedback  # the real error, trimmed
    assert "guard.py" not in feedback  # the sandbox's own frames are cut
    assert result.solution is not None and result.solution.feasible
    assert result.instance is not None and result.instance.num_customers == 6
    assert result.code is not None and "vroom" in result.code
    system = server.requests[0]["messages"][0]
    assert system["role"] == "system" and "nco.solve" in system["content"] and "solution.json" in system["content"]


@needs_sandbox
def test_self_verification_returns_evaluator_violations_to_the_model() -> None:
    with ScriptedChatServer([fenced(VIOLATES), fenced(CORRECT)]) as server:
        result = formulate(TEXT, endpoint=server.endpoint, model="m", max_rounds=3)
    first = result.rounds[0]
    assert first.solution is not None and not first.solution.feasible
    assert any("exceeds capacity 10" in problem for problem in first.problems)
    assert "exceeds capacity 10" in server.requests[1]["messages"][-1]["content"]
    assert result.verified and result.solution is not None and result.solution.feasible


@needs_sandbox
def test_self_verification_checks_the_instance_against_the_text() -> None:
    with ScriptedChatServer([fenced(DROPS_A_CUSTOMER), "Sorry, no code this time.", fenced(CORRECT)]) as server:
        result = formulate(TEXT, endpoint=server.endpoint, model="m", max_rounds=3)
    assert result.rounds[0].solution is not None and result.rounds[0].solution.feasible  # feasible, wrong problem
    assert any("6 customers" in problem for problem in result.rounds[0].problems)
    assert "no Python program" in server.requests[2]["messages"][-1]["content"]
    assert result.verified and len(result.rounds) == 3


@needs_sandbox
def test_unverified_when_rounds_run_out_and_the_best_round_is_reported() -> None:
    with ScriptedChatServer([fenced(CRASHES), fenced(VIOLATES)]) as server:
        result = formulate(TEXT, endpoint=server.endpoint, model="m", max_rounds=2)
    assert not result.verified and len(result.rounds) == 2
    assert result.solution is not None and not result.solution.feasible  # the round that produced a result
    assert len(server.requests) == 2


@needs_sandbox
def test_a_timeout_in_generated_code_goes_back_to_the_model() -> None:
    loop = "import nco\nwhile True:\n    pass\n"
    with ScriptedChatServer([fenced(loop), fenced(CORRECT)]) as server:
        result = formulate(TEXT, endpoint=server.endpoint, model="m", limits=SandboxLimits(wall_time=3, cpu_time=20))
    assert "wall-clock limit" in server.requests[1]["messages"][-1]["content"]
    assert result.verified


# --- the CLI ------------------------------------------------------------------------------------
@needs_sandbox
def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedChatServer([fenced(CRASHES), fenced(CORRECT)]) as server:
        status = cli_main(
            [
                "llm",
                TEXT,
                "--endpoint",
                server.endpoint,
                "--model",
                "m",
                "--api-key",
                "k",
                "--max-rounds",
                "3",
                "--show-code",
                "--out",
                str(tmp_path / "out"),
                "--transcript",
                str(tmp_path / "t.json"),
            ]
        )
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "VERIFIED" in out and "generated program" in out and "vroom" in out
    assert "round 1: 1 problem(s)" in err and "round 2: ok" in err
    instance = nco.read(tmp_path / "out" / "instance.json")
    solution = nco.read_solution(tmp_path / "out" / "solution.json", instance)
    assert instance.num_customers == 6 and solution.feasible
    assert len(json.loads((tmp_path / "t.json").read_text())) == 5  # system, task, reply, feedback, reply
    assert server.headers[0]["Authorization"] == "Bearer k"


def test_cli_without_endpoint_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NCO_LLM_ENDPOINT", raising=False)
    assert cli_main(["llm", TEXT, "--model", "m"]) == 2
    assert "NCO_LLM_ENDPOINT" in capsys.readouterr().err


# --- the task set -------------------------------------------------------------------------------
def load_tasks() -> list[dict]:
    return json.loads((TASKS / "tasks.json").read_text())["tasks"]


def test_task_set_covers_the_variants_and_agrees_with_its_own_text() -> None:
    tasks = load_tasks()
    assert len(tasks) >= 20
    used = set()
    for task in tasks:
        instance = nco.read(TASKS / task["expected"])
        used |= {key for key, on in instance.features().items() if on}
        if instance.is_asymmetric:
            used.add("asymmetric")
        assert check_against_text(task["text"], instance) == [], task["id"]
        assert instance_differences(instance, instance) == []
        # a wrong formulation is told apart
        assert instance_differences(instance.replace(open_routes=not instance.open_routes), instance)
    assert {
        "capacity",
        "time_windows",
        "service_time",
        "backhaul",
        "strict_backhaul",
        "open_routes",
        "max_duration",
        "heterogeneous_fleet",
        "fixed_cost",
        "multiple_profiles",
        "allowed",
        "preference",
        "asymmetric",
    } <= used


def test_text_check_catches_a_dropped_customer_in_a_task() -> None:
    task = next(t for t in load_tasks() if t["id"] == "cvrp_bakery")
    instance = nco.read(TASKS / task["expected"])
    keep = np.arange(instance.num_nodes - 1)
    smaller = instance.replace(
        distance=instance.distance[np.ix_(keep, keep)],
        coordinates=instance.coordinates[keep],
        demand=instance.demand[keep],
    )
    assert any("8 customers" in problem for problem in check_against_text(task["text"], smaller))


@needs_sandbox
def test_benchmark_runs_against_an_endpoint_and_reports_the_papers_metrics(tmp_path: Path) -> None:
    """Scripted 'model' that formulates one task exactly (from its expected file) and one wrongly."""
    replies = []
    # in task-file order, which is the order the benchmark asks in
    for task_id, change in (
        ("open_routes_couriers", "instance = instance.replace(open_routes=False)\n"),
        ("backhaul_strict", ""),
    ):
        data = (TASKS / f"{task_id}.instance.json").read_text()
        program = (
            f"import nco\nopen('given.json', 'w').write({data!r})\ninstance = nco.read('given.json')\n"
            f"{change}solution = nco.solve(instance, method='ortools', time_limit=1)\n"
        ) + EMIT
        replies.append(fenced(program))
    out = tmp_path / "llm.md"
    with ScriptedChatServer(replies) as server:
        result = subprocess.run(
            [
                sys.executable,
                str(TASKS.parents[1] / "benchmarks" / "llm.py"),
                "--endpoint",
                server.endpoint,
                "--model",
                "scripted",
                "--tasks",
                "backhaul_strict",
                "open_routes_couriers",
                "--max-rounds",
                "1",
                "--reference-time",
                "1",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    table = out.read_text()
    assert "| backhaul_strict | 1 |" in table and "| yes | yes | yes |" in table
    assert "open_routes differs" in table  # the wrong formulation is flagged, and not verified
    assert "**feasibility" in table and "pyvrp 0.14" in table


def test_benchmark_without_endpoint_exits_with_a_clear_message() -> None:
    env = {key: value for key, value in __import__("os").environ.items() if not key.startswith("NCO_LLM")}
    result = subprocess.run(
        [sys.executable, str(TASKS.parents[1] / "benchmarks" / "llm.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "NCO_LLM_ENDPOINT" in result.stderr
