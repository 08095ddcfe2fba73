"""hearth run against real wire protocols: a local server replays recorded OpenAI and Anthropic
streams (tests/fixtures/llm); the run must assemble the text, pass the tool exactly the recorded
arguments and report the recorded usage."""
import json
import os
import unittest

from harness import FIXTURES, FakeLLM, HearthTestCase, clean_env, hearth, run_id_of

RECORDER = """#!/usr/bin/env python3
import json, os, sys
args = json.load(sys.stdin)
with open(os.environ["ARGS_FILE"], "a") as f:
    f.write(json.dumps(args) + "\\n")
print(json.dumps({"temperature": 12, "conditions": "drizzle"}))
"""


def assembled(name):
    with open(os.path.join(FIXTURES, "llm", name)) as f:
        return json.load(f)


class ProviderReplayTest(HearthTestCase):
    def project(self, provider, model, tool, properties):
        # The recorder tool writes to a host file: no sandbox here (test_sandbox.py covers it).
        self.write("hearth.json", json.dumps({"name": "replay", "model": model,
                                              "providers": {"fake": provider},
                                              "sandbox": {"backend": "none", "env": ["ARGS_FILE"]}}))
        self.write("agent/instructions.md", "Answer questions about the weather.\n")
        self.write(f"agent/tools/{tool}.json", json.dumps({
            "description": "Weather for a place.",
            "inputSchema": {"type": "object", "properties": properties}}))
        self.write(f"agent/tools/{tool}.py", RECORDER, executable=True)
        self.write("workflows/ask.md", "---\ndescription: Ask about the weather.\n---\n"
                                       "What is the weather in {{payload.city}}?\n")
        self.args_file = os.path.join(self.tmp, "args.jsonl")

    def run_and_read(self, key_env):
        r = hearth("run", "ask", "--payload", '{"city": "Edinburgh"}', cwd=self.tmp,
                   env=clean_env(ARGS_FILE=self.args_file, **{key_env: "sk-test-123"}))
        self.assertExit(r, 0)
        self.assertNotIn("sk-test-123", r.stderr)
        logs = hearth("logs", run_id_of(r.stderr), "--format", "ndjson", cwd=self.tmp)
        self.assertNotIn("sk-test-123", logs.stdout)
        events = [json.loads(line) for line in logs.stdout.splitlines()]
        with open(self.args_file) as f:
            tool_args = [json.loads(line) for line in f]
        return json.loads(r.stdout), events, tool_args

    def test_openai_chat_stream_tool_call_then_text(self):
        tool_call = assembled("openai/chat-stream-tool-call.assembled.json")["choices"][0]["tool_calls"][0]
        text = assembled("openai/chat-stream-text-usage.assembled.json")
        with FakeLLM(self.tmp, [{"file": "openai/chat-stream-tool-call.sse"},
                                {"file": "openai/chat-stream-text-usage.sse"}]) as llm:
            self.project({"api": "openai-chat", "baseUrl": llm.url + "/v1", "apiKeyEnv": "FAKE_KEY"},
                         "fake/gpt-4o", tool_call["name"],
                         {"city": {"type": "string"}, "country": {"type": "string"},
                          "units": {"type": "string"}})
            result, events, tool_args = self.run_and_read("FAKE_KEY")
            requests = llm.requests()
        self.assertEqual(result, text["choices"][0]["content"])
        self.assertEqual(tool_args, [tool_call["arguments_parsed"]])
        usage = [e for e in events if e["type"] == "usage"]
        self.assertEqual([u["totalTokens"] for u in usage], [100, 44])
        self.assertEqual(usage[1]["outputTokens"], text["usage"]["completion_tokens"])
        self.assertEqual(len(requests), 2)
        first = requests[0]
        self.assertEqual(first["path"], "/v1/chat/completions")
        self.assertEqual(first["headers"].get("Authorization"), "Bearer sk-test-123")
        self.assertTrue(first["body"]["stream"])
        self.assertEqual(first["body"]["stream_options"], {"include_usage": True})
        self.assertEqual(first["body"]["model"], "gpt-4o")
        # The second request carries the tool result back with the recorded call id.
        tool_messages = [m for m in requests[1]["body"]["messages"] if m["role"] == "tool"]
        self.assertEqual(tool_messages[0]["tool_call_id"], tool_call["id"])

    def test_anthropic_messages_stream_tool_use_then_text(self):
        tool_use = next(c for c in assembled("anthropic/messages-stream-text-tool-use.assembled.json")["content"]
                        if c["type"] == "tool_use")
        text = assembled("anthropic/messages-stream-text.assembled.json")
        with FakeLLM(self.tmp, [{"file": "anthropic/messages-stream-text-tool-use.sse"},
                                {"file": "anthropic/messages-stream-text.sse"}]) as llm:
            self.project({"api": "anthropic-messages", "baseUrl": llm.url, "apiKeyEnv": "CLAUDE_KEY"},
                         "fake/claude-3-opus-20240229", tool_use["name"],
                         {"location": {"type": "string"}})
            result, events, tool_args = self.run_and_read("CLAUDE_KEY")
            requests = llm.requests()
        self.assertEqual(result, text["content"][0]["text"])
        self.assertEqual(tool_args, [tool_use["input"]])
        usage = [e for e in events if e["type"] == "usage"]
        self.assertEqual(usage[1]["inputTokens"], text["usage"]["input_tokens"])
        self.assertEqual(usage[1]["outputTokens"], text["usage"]["output_tokens"])
        self.assertEqual(requests[0]["path"], "/v1/messages")
        self.assertEqual(requests[0]["headers"].get("x-api-key"), "sk-test-123")
        self.assertTrue(requests[0]["body"]["stream"])

    def test_a_missing_key_names_the_variable(self):
        self.project({"api": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1", "apiKeyEnv": "FAKE_KEY"},
                     "fake/gpt-4o", "lookup", {"city": {"type": "string"}})
        r = hearth("run", "ask", "--payload", '{"city": "x"}', cwd=self.tmp)
        self.assertExit(r, 1)
        self.assertIn("FAKE_KEY", r.stderr)

    def test_a_401_is_reported_with_a_hint_and_not_retried(self):
        with FakeLLM(self.tmp, [{"file": "openai/error-401-invalid-api-key.chat.http"}] * 3) as llm:
            self.project({"api": "openai-chat", "baseUrl": llm.url + "/v1", "apiKeyEnv": "FAKE_KEY"},
                         "fake/gpt-4o", "lookup", {"city": {"type": "string"}})
            r = hearth("run", "ask", "--payload", '{"city": "x"}', cwd=self.tmp,
                       env=clean_env(FAKE_KEY="sk-wrong"))
            self.assertEqual(len(llm.requests()), 1)
        self.assertExit(r, 1)
        self.assertIn("FAKE_KEY", r.stderr)
        self.assertNotIn("sk-wrong", r.stderr)


if __name__ == "__main__":
    unittest.main()
