"""hearth connect: one prompt per stdin line, durable history across reconnects."""
import json
import unittest

from harness import FakeLLM, HearthTestCase, clean_env, copy_example, hearth

TEXT_REPLY = "openai/chat-stream-text-usage.sse"


class ConnectTest(HearthTestCase):
    def test_two_prompts_then_reconnect_and_the_third_sees_the_history(self):
        with FakeLLM(self.tmp, [{"file": TEXT_REPLY}] * 3) as llm:
            self.write("hearth.json", json.dumps({
                "name": "chat", "model": "fake/gpt-4o",
                "providers": {"fake": {"api": "openai-chat", "baseUrl": llm.url + "/v1"}}}))
            self.write("agent/instructions.md", "Chat.\n")
            first = hearth("connect", "chat", "thread-1", cwd=self.tmp,
                           input="first prompt\nsecond prompt\n")
            self.assertExit(first, 0)
            self.assertIn("connected to chat/thread-1", first.stderr)
            results = [json.loads(chunk) for chunk in split_json(first.stdout)]
            self.assertEqual(len(results), 2)
            self.assertEqual(results[0]["model"], {"provider": "fake", "id": "gpt-4o-2024-08-06"})
            again = hearth("connect", "chat", "thread-1", cwd=self.tmp, input="third prompt\n")
            self.assertExit(again, 0)
            requests = llm.requests()
        self.assertEqual(len(requests), 3)
        third = [m.get("content") for m in requests[2]["body"]["messages"]]
        texts = json.dumps(third)
        for prompt in ("first prompt", "second prompt", "third prompt"):
            self.assertIn(prompt, texts)

    def test_a_failed_prompt_keeps_the_session_open(self):
        with FakeLLM(self.tmp, [{"status": 400, "body": {"error": {"message": "bad thing"}}},
                                {"file": TEXT_REPLY}]) as llm:
            self.write("hearth.json", json.dumps({
                "name": "chat", "model": "fake/gpt-4o",
                "providers": {"fake": {"api": "openai-chat", "baseUrl": llm.url + "/v1"}}}))
            self.write("agent/instructions.md", "Chat.\n")
            r = hearth("connect", "chat", "t", cwd=self.tmp, input="one\ntwo\n")
        self.assertExit(r, 0)
        self.assertIn("bad thing", r.stderr)
        self.assertEqual(len(list(split_json(r.stdout))), 1)

    def test_unknown_agent_exits_1(self):
        project = copy_example(self, "hello")
        r = hearth("connect", "nosuch", "local", cwd=project, input="hi\n")
        self.assertExit(r, 1)
        self.assertIn('Agent "nosuch" is not registered.', r.stderr)
        self.assertIn('Available agents: "hello".', r.stderr)

    def test_sessions_are_separate_and_blank_lines_are_skipped(self):
        project = copy_example(self, "weather-agent")
        r = hearth("connect", "weather-agent", "local", "--session", "s1", "--model", "mock/echo",
                   cwd=project, input="\nhello\n   \n")
        self.assertExit(r, 0)
        results = [json.loads(c) for c in split_json(r.stdout)]
        self.assertEqual([x["text"] for x in results], ["hello"])


def split_json(text):
    """Pretty-printed JSON documents concatenated on stdout, one after another."""
    decoder, i = json.JSONDecoder(), 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, end = decoder.raw_decode(text, i)
        yield json.dumps(obj)
        i = end


if __name__ == "__main__":
    unittest.main()
