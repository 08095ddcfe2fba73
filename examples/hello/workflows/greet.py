# The hello workflow as a Python program (docs/workflow-protocol.md): a structured prompt, a task,
# a shell command and a log line, all streamed into the run's events.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from hearth_workflow import workflow  # noqa: E402


@workflow
def run(ctx):
    harness = ctx.init(agent="hello")
    session = harness.session()
    res = session.prompt(f"Greet {ctx.payload.get('name', 'Developer')}. Respond with JSON.",
                         result={"type": "object", "properties": {"greeting": {"type": "string"}},
                                 "required": ["greeting"]})
    review = session.task(f"Is this a friendly greeting? {res.data['greeting']}", agent="hello")
    listing = harness.shell("ls skills")
    ctx.log.info("greeting complete", {"length": len(res.data["greeting"]),
                                       "review": review.text, "skills": listing["stdout"].split()})
    return res.data
