# Workflow `greet` in Python: a typed prompt, a shell command and a log line. The runtime runs this
# file with python3 and talks to it over stdin/stdout (docs/workflow-protocol.md); the helper in
# ../helpers/ turns that protocol into a FlueContext-like `ctx`.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from hearth_workflow import workflow  # noqa: E402

GREETING = {"type": "object", "properties": {"greeting": {"type": "string"}},
            "required": ["greeting"]}


@workflow
def run(ctx):
    harness = ctx.init()  # the root agent; ctx.init(agent="name") for another
    session = harness.session()
    res = session.prompt(f"Greet {ctx.payload.get('name', 'Developer')}. Respond with JSON.",
                         result=GREETING)
    today = harness.shell("date +%A")["stdout"].strip()  # runs in the session workspace
    ctx.log.info("greeting complete", {"length": len(res.data["greeting"]), "day": today})
    return res.data
