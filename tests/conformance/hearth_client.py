#!/usr/bin/env python3
"""Adapter between the MCP conformance suite (@modelcontextprotocol/conformance, client scenarios)
and hearth's MCP client (issue 13): the runner calls it with the scenario's server URL and sets
MCP_CONFORMANCE_SCENARIO. It writes a throwaway project whose root agent has connection `c` at that
URL and drives it with `hearth connections list` / `hearth connections call` (no model involved).
HEARTH_BIN names the binary (default: hearth on PATH). See tests/conformance/run_client.sh."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

# What each scenario's server expects the client to do: (tool, arguments) or None (start only).
CALLS = {
    "initialize": None,
    "tools_call": ("add_numbers", {"a": 5, "b": 3}),
    "sse-retry": ("test_reconnection", {}),
    "elicitation-sep1034-client-defaults": ("test_client_elicitation_defaults", {}),
}


def main():
    url = sys.argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize")
    hearth = os.environ.get("HEARTH_BIN", "hearth")
    root = tempfile.mkdtemp(prefix="hearth-conformance-")
    env = dict(os.environ)
    try:
        os.makedirs(os.path.join(root, "agent", "connections"))
        with open(os.path.join(root, "hearth.json"), "w") as f:
            json.dump({"name": "conformance", "model": "mock/echo"}, f)
        with open(os.path.join(root, "agent", "instructions.md"), "w") as f:
            f.write("Conformance adapter.\n")
        connection = {"url": url, "timeoutMs": 20000}
        if scenario.startswith("elicitation"):
            connection["elicitation"] = "defaults"
        if scenario.startswith("auth/"):
            oauth = {}
            context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
            if context.get("client_id"):
                oauth["clientId"] = context["client_id"]
            if context.get("client_secret"):
                oauth["clientSecret"] = context["client_secret"]
            if context.get("private_key_pem"):  # private_key_jwt (RFC 7523)
                env["CONFORMANCE_PRIVATE_KEY"] = context["private_key_pem"]
                oauth["privateKeyEnv"] = "CONFORMANCE_PRIVATE_KEY"
                oauth["signingAlgorithm"] = context.get("signing_algorithm", "ES256")
            # The client's metadata document URL (the SDK examples'), used where the
            # authorization server supports client ID metadata documents.
            oauth["clientMetadataUrl"] = "https://conformance-test.local/client-metadata.json"
            if scenario.startswith("auth/client-credentials"):
                oauth["grant"] = "client_credentials"
            if context.get("idp_id_token"):  # SEP-990 cross-app access
                env["CONFORMANCE_IDP_ID_TOKEN"] = context["idp_id_token"]
                oauth["grant"] = "cross_app"
                oauth["idp"] = {"tokenEndpoint": context["idp_token_endpoint"],
                                "clientId": context.get("idp_client_id", ""),
                                "idTokenEnv": "CONFORMANCE_IDP_ID_TOKEN"}
            connection["auth"] = {"oauth": oauth or True}
        with open(os.path.join(root, "agent", "connections", "c.json"), "w") as f:
            json.dump(connection, f)
        call = CALLS.get(scenario)
        if call is None:
            argv = [hearth, "connections", "list"]
        else:
            argv = [hearth, "connections", "call", "c", call[0], "--args", json.dumps(call[1])]
        if scenario.startswith("auth/"):  # sign in, then call the auth scenarios' tool in one process
            argv = [hearth, "connections", "call", "c", "test-tool"]
        r = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=60, env=env)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        return r.returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
