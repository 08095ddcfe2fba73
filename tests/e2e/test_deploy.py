"""End-to-end tests of deploying a build (issue 15 §3, docs/deploy.md): every example and template
runs from its `dist/` alone, `hearth start` keeps its store outside the build output
($HEARTH_STATE_DIR, else ./.hearth where it runs), and `hearth build` never deletes data."""
import json
import os
import shutil
import subprocess
import unittest

from harness import HEARTH_BIN, SOURCE_DIR, HearthTestCase, clean_env, copy_example, hearth
from test_server import Http, Started, wait_run_closed


PAYLOAD = {"name": "Ada"}


def templates():
    with open(os.path.join(SOURCE_DIR, "templates", "index.json")) as f:
        return sorted(json.load(f))


def examples():
    root = os.path.join(SOURCE_DIR, "examples")
    return sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))


class Deploy(HearthTestCase):
    def project(self, source):
        """(name, root) of a fresh copy of examples/<name> or of `hearth init --template name`."""
        kind, name = source
        if kind == "example":
            return copy_example(self, name)
        root = os.path.join(self.tmp, f"tpl-{name}")
        self.assertExit(hearth("init", root, "--template", name, "--no-git", cwd=self.tmp), 0)
        return root

    def test_every_example_and_template_runs_from_its_build_output(self):
        sources = [("example", n) for n in examples()] + [("template", n) for n in templates()]
        self.assertGreaterEqual(len(sources), 4)
        node = shutil.which("node")
        for source in sources:
            with self.subTest(source=source):
                root = self.project(source)
                self.assertExit(hearth("build", cwd=root), 0)
                dist = os.path.join(self.tmp, f"deployed-{source[1]}")
                shutil.move(os.path.join(root, "dist"), dist)  # nothing of the project beside it
                shutil.rmtree(root)
                binary = os.path.join(dist, "bin", "hearth")
                info = json.loads(subprocess.run([binary, "info", "--json", "--root", dist],
                                                 env=clean_env(), capture_output=True, text=True,
                                                 timeout=60, check=True).stdout)
                workflows = info["workflows"]
                elsewhere = os.path.join(self.tmp, f"cwd-{source[1]}")
                os.makedirs(elsewhere)
                for wf in workflows:
                    if wf.get("interpreter") == "node" and not node:
                        print(f"skip {source[1]}/{wf['name']}: no node on PATH")
                        continue
                    # The examples' prompts use {{payload.name}}.
                    r = subprocess.run([binary, "run", wf["name"], "--root", dist,
                                        "--payload", json.dumps(PAYLOAD)], cwd=elsewhere,
                                       env=clean_env(HEARTH_STATE_DIR=os.path.join(elsewhere, "state")),
                                       capture_output=True, text=True, timeout=120)
                    self.assertExit(r, 0)
                served = [wf["name"] for wf in workflows if wf.get("http")]
                if not served:
                    continue
                server = Started(self, dist)
                client = Http(server.port)
                for name in served:
                    status, _, body = client.json("POST", f"/workflows/{name}?wait=result", PAYLOAD)
                    self.assertEqual(status, 200, (name, body))
                server.kill()
                self.assertFalse(os.path.exists(os.path.join(dist, ".hearth", "state.db")))

    def test_start_keeps_its_store_outside_the_output_and_a_rebuild_keeps_old_runs(self):
        root = copy_example(self, "weather-agent")
        self.assertExit(hearth("build", cwd=root), 0)
        dist = os.path.join(root, "dist")

        server = Started(self, dist)  # cwd is self.tmp: the store is self.tmp/.hearth/state.db
        client = Http(server.port)
        status, _, body = client.json("POST", "/workflows/hello?wait=result", {"name": "Ada"})
        self.assertEqual(status, 200, body)
        run_id = body["runId"]
        server.kill()
        self.assertTrue(os.path.isfile(os.path.join(self.tmp, ".hearth", "state.db")))
        self.assertFalse(os.path.exists(os.path.join(dist, ".hearth", "state.db")))

        with open(os.path.join(root, "agent", "instructions.md"), "a") as f:
            f.write("\nBe brief.\n")
        self.assertExit(hearth("build", cwd=root), 0)

        server = Started(self, dist)
        client = Http(server.port)
        status, _, run = client.json("GET", f"/runs/{run_id}?meta")
        self.assertEqual(status, 200, run)
        self.assertEqual(run["status"], "completed")

    def test_state_dir_env_holds_the_store_and_workspaces(self):
        root = copy_example(self, "weather-agent")
        self.assertExit(hearth("build", cwd=root), 0)
        state = os.path.join(self.tmp, "state")
        server = Started(self, os.path.join(root, "dist"), env=clean_env(HEARTH_STATE_DIR=state))
        client = Http(server.port)
        status, _, body = client.json("POST", "/workflows/hello?wait=result", {"name": "Ada"})
        self.assertEqual(status, 200, body)
        server.kill()
        self.assertTrue(os.path.isfile(os.path.join(state, "state.db")))
        self.assertTrue(os.path.isdir(os.path.join(state, "workspaces")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, ".hearth")))

    def test_a_rebuild_carries_over_data_left_in_the_old_output(self):
        root = copy_example(self, "weather-agent")
        self.assertExit(hearth("build", cwd=root), 0)
        dist = os.path.join(root, "dist")
        # A store from before $HEARTH_STATE_DIR (start run with its state in the output) and a
        # deployment's .env: both the user's data, neither produced by the build.
        server = Started(self, dist, env=clean_env(HEARTH_STATE_DIR=os.path.join(dist, ".hearth")))
        client = Http(server.port)
        status, _, body = client.json("POST", "/workflows/hello?wait=result", {"name": "Ada"})
        self.assertEqual(status, 200, body)
        server.kill()
        with open(os.path.join(dist, ".env"), "w") as f:
            f.write("SECRET=kept\n")
        self.assertExit(hearth("build", cwd=root), 0)
        self.assertTrue(os.path.isfile(os.path.join(dist, ".hearth", "state.db")))
        self.assertTrue(os.path.isdir(os.path.join(dist, ".hearth", "compile")))
        with open(os.path.join(dist, ".env")) as f:
            self.assertEqual(f.read(), "SECRET=kept\n")
        r = hearth("logs", body["runId"], "--root", dist, "--format", "ndjson", "--no-follow",
                   env=clean_env(HEARTH_STATE_DIR=os.path.join(dist, ".hearth")), cwd=self.tmp)
        self.assertExit(r, 0)
        end = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual((end["type"], end["isError"]), ("run_end", False))

    def test_build_include_copies_data_files_a_workflow_reads(self):
        root = copy_example(self, "weather-agent")
        with open(os.path.join(root, "hearth.json")) as f:
            config = json.load(f)
        config["build"] = {"include": ["data"]}
        with open(os.path.join(root, "hearth.json"), "w") as f:
            json.dump(config, f)
        os.makedirs(os.path.join(root, "data", "nested"))
        with open(os.path.join(root, "data", "nested", "cities.txt"), "w") as f:
            f.write("Paris\n")
        self.assertExit(hearth("build", cwd=root), 0)
        with open(os.path.join(root, "dist", "data", "nested", "cities.txt")) as f:
            self.assertEqual(f.read(), "Paris\n")

        config["build"] = {"include": ["../outside"]}
        with open(os.path.join(root, "hearth.json"), "w") as f:
            json.dump(config, f)
        r = hearth("build", cwd=root)
        self.assertExit(r, 1)
        self.assertIn("build", r.stderr)

    def test_dockerfile_puts_state_on_a_volume(self):
        root = copy_example(self, "weather-agent")
        self.assertExit(hearth("build", cwd=root), 0)
        with open(os.path.join(root, "dist", "Dockerfile")) as f:
            dockerfile = f.read()
        self.assertIn("ENV HEARTH_STATE_DIR=/var/lib/hearth", dockerfile)
        self.assertIn("VOLUME /var/lib/hearth", dockerfile)


if __name__ == "__main__":
    unittest.main()
