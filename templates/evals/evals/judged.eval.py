# An executable eval: it drives the agent over the ctx protocol (the same `ctx` as programmable
# workflows, helpers/hearth_workflow.py) and scores the answer with an LLM judge that runs through
# this project's own providers. `hearth eval judged` runs it; docs/evals.md explains the protocol.
# hearth-eval-tags: llm
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from hearth_workflow import workflow  # noqa: E402


@workflow
def run(ctx):
    session = ctx.init().session()  # one Eve session of the root agent
    answer = session.prompt("What's the weather in San Francisco?")
    ctx.log.info("agent answered", {"text": answer.text})
    # The judge: omit "model" to use the agent's own model. mock/echo cannot judge (it always
    # scores 0), so its verdict is reported as a soft check here, not the eval's score.
    verdict = ctx.call("eval.judge", {"criteria": "States the temperature and the conditions.",
                                      "model": "mock/echo"})
    return {
        "score": 1.0 if "°F" in answer.text else 0.0,  # soft: counts under --strict
        "threshold": 1.0,
        "checks": [
            {"name": "answers in one session", "passed": bool(answer.text)},
            {"name": "judge", "soft": True, "passed": True, "score": verdict["score"],
             "message": f"{verdict['model']}: {verdict['reason'] or '(no reason)'}"},
        ],
    }
