#!/usr/bin/env python3
"""Discovery benchmark: `hearth info --json` and `hearth build`, cold (no .hearth/) and warm
(artifacts reused), on the weather fixture and on generated projects of growing size (the largest
has 500 tools, 100 skills, 50 subagents and 200 workflows). Prints median wall time and peak RSS
(GNU time's %M); min and median wall over --runs. Figures, not assertions.

Usage: bench/discovery_bench.py [path/to/hearth] [--runs N]
Use a release build (cmake --preset release && cmake --build --preset release). Eve 0.80.1 takes
~2.1 s and ~340 MB for `eve info` on its weather fixture (peers/eve transcripts/bench/cli_info*)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)


def peak_rss(binary, args, cwd):
    """Peak RSS in MiB of one run, from GNU time (wait4's ru_maxrss from Python reports the
    interpreter's own footprint after fork, not hearth's)."""
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, binary, *args], cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return int(out.read().split()[-1]) / 1024


def run(binary, args, cwd):
    """Runs hearth once; returns wall ms."""
    null = os.open(os.devnull, os.O_WRONLY)
    here = os.getcwd()
    os.chdir(cwd)
    try:
        start = time.perf_counter()
        pid = os.posix_spawn(binary, [binary, *args], os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
        _, status = os.waitpid(pid, 0)
        wall = (time.perf_counter() - start) * 1000
    finally:
        os.chdir(here)
        os.close(null)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"hearth {' '.join(args)} failed in {cwd}")
    return wall


def generate(root, tools, skills, subagents, workflows):
    """A valid project of the given size (every file small, like real authored files)."""
    def write(rel, text, mode=0o644):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    write("hearth.json", json.dumps({"name": "large", "model": "openai/gpt-5.5"}))
    write("agent/instructions.md", "You are a large test agent.\n")
    for i in range(tools):
        group = f"group{i % 10}/"
        write(f"agent/tools/{group}tool_{i}.json", json.dumps({
            "description": f"Tool number {i}.",
            "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                            "required": ["q"], "additionalProperties": False},
            "approval": "never", "timeoutMs": 5000}))
        write(f"agent/tools/{group}tool_{i}.sh", "#!/bin/sh\ncat\n", 0o755)
    for i in range(skills):
        if i % 2:
            write(f"agent/skills/skill-{i}/SKILL.md", f"---\ndescription: Packaged skill {i}.\n---\nDo step {i}.\n")
            write(f"agent/skills/skill-{i}/ref/notes.md", "notes\n")
        else:
            write(f"agent/skills/skill-{i}.md", f"---\ndescription: Skill {i}.\n---\nDo thing {i}.\n")
    for i in range(subagents):
        write(f"agent/subagents/sub_{i}/agent.json", json.dumps({"description": f"Subagent {i}.", "maxSteps": 5}))
        write(f"agent/subagents/sub_{i}/instructions.md", f"You are subagent {i}.\n")
    for i in range(workflows):
        if i % 4 == 0:
            write(f"workflows/flow-{i}.py", "#!/usr/bin/env python3\nprint('{}')\n", 0o755)
            write(f"workflows/flow-{i}.json", json.dumps({"description": f"Program {i}.", "http": True}))
        else:
            write(f"workflows/flow-{i}.md",
                  f"---\ndescription: Flow {i}.\nhttp: true\nresult:\n  type: object\n  properties:\n"
                  f"    answer: {{type: string}}\n---\nAnswer {{{{payload.q}}}} for flow {i}.\n")
    return sum(len(files) for _, _, files in os.walk(root))


def measure(binary, root, runs):
    """(min wall, median wall, peak RSS) for info cold, info warm, build cold, build warm."""
    out = {}
    for name, args, cold in (("info cold", ["info", "--json"], True), ("info warm", ["info", "--json"], False),
                             ("build cold", ["build"], True), ("build warm", ["build"], False)):
        samples = []
        for _ in range(runs):
            if cold:
                shutil.rmtree(os.path.join(root, ".hearth"), ignore_errors=True)
            else:
                run(binary, args, root)  # make sure the artifacts exist
            samples.append(run(binary, args, root))
        if cold:
            shutil.rmtree(os.path.join(root, ".hearth"), ignore_errors=True)
        rss = peak_rss(binary, args, root)
        out[name] = (min(samples), statistics.median(samples), rss)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default=os.path.join(SOURCE, "build", "release", "apps", "hearth", "hearth"))
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    binary = os.path.abspath(opts.binary)
    tmp = tempfile.mkdtemp(prefix="hearth-bench-")
    try:
        cases = []
        weather = os.path.join(tmp, "weather-agent")
        shutil.copytree(os.path.join(SOURCE, "tests", "fixtures", "projects", "weather-agent"), weather)
        cases.append(("weather", weather, 6))
        for scale in (0.25, 0.5, 1.0):
            root = os.path.join(tmp, f"large-{scale}")
            files = generate(root, int(500 * scale), int(100 * scale), int(50 * scale), int(200 * scale))
            cases.append((f"large x{scale}", root, files))
        print(f"hearth: {binary}  runs per figure: {opts.runs}; each cell: min / median wall ms, peak RSS MiB")
        print(f"{'project':<14}{'files':>6} " + "".join(f"{k:>26}" for k in ("info cold", "info warm", "build cold", "build warm")))
        for name, root, files in cases:
            figures = measure(binary, root, opts.runs)
            print(f"{name:<14}{files:>6} " + "".join(f"{lo:>9.1f} /{med:>7.1f} {rss:>5.1f}M" for lo, med, rss in figures.values()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
