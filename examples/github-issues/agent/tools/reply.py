#!/usr/bin/env python3
"""The outbound half of the channel: the destination comes from HEARTH_CONVERSATION_KEY (bound by
the runtime to this agent instance), never from the model. A real app would POST to
/repos/{owner}/{repo}/issues/{n}/comments with its own token; this example appends to
replies.jsonl in the session workspace (the sandbox lets tools write there) so it runs offline."""
import json
import os
import sys

key = os.environ.get("HEARTH_CONVERSATION_KEY", "")
parts = key.split(":")
if len(parts) != 8 or parts[:3] != ["github", "v1", "owner"] or parts[4] != "repo" or parts[6] != "issue":
    print(json.dumps({"error": "not bound to a GitHub issue: " + key}))
    sys.exit(1)
owner, repo, issue = parts[3], parts[5], int(parts[7])
text = json.load(sys.stdin)["text"]
out = os.path.join(os.environ.get("HEARTH_WORKSPACE") or ".", "replies.jsonl")
with open(out, "a") as f:
    f.write(json.dumps({"owner": owner, "repo": repo, "issue": issue, "body": text}) + "\n")
print(json.dumps({"posted": True, "issue": f"{owner}/{repo}#{issue}"}))
