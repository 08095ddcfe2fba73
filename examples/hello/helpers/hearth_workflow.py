"""hearth_workflow: write hearth workflows in Python (standard library only).

A thin client of the ctx protocol (docs/workflow-protocol.md): the runtime starts this script, sends
`workflow.run` on stdin, and the script calls back over stdout. Usage::

    from hearth_workflow import workflow

    @workflow
    def run(ctx):
        harness = ctx.init(agent="assistant")
        session = harness.session()
        res = session.prompt(f"Hello, {ctx.payload.get('name', 'Developer')}!")
        ctx.log.info("greeting complete", {"length": len(res.text)})
        return {"greeting": res.text}

stdout belongs to the protocol: `print()` and subprocesses writing to stdout go to stderr, which
the runtime shows as warn-level log events.
"""
import atexit
import json
import os
import sys
import threading
import traceback

__all__ = ["workflow", "serve", "HearthError", "Context", "Harness", "Session", "Result"]

PROTOCOL_VERSION = 1


class HearthError(Exception):
    """An error reply from the runtime (or one to send back): JSON-RPC code, message and data.

    `type` is hearth's error type (e.g. "model_error", "invalid_params"), `details` its hint."""

    def __init__(self, message, code=-32000, data=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data if isinstance(data, dict) else {}
        self.type = self.data.get("type", "rpc_error")
        self.details = self.data.get("details", "")


class _Connection:
    """Newline-delimited JSON-RPC 2.0 over the stdin and (saved) stdout of this process."""

    def __init__(self):
        self._in = sys.stdin.buffer
        # Keep the real stdout for the protocol; route fd 1 and print() to stderr.
        self._out = os.fdopen(os.dup(1), "wb", buffering=0)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()
        self._next_id = 0

    def send(self, message):
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=_jsonable)
        data = (line + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            view = view[self._out.write(view):]

    def receive(self):
        """The next message, or None at EOF (the runtime went away)."""
        while True:
            line = self._in.readline()
            if not line:
                return None
            if line.strip():
                return json.loads(line)

    def call(self, method, params):
        """Sends a request and waits for its reply; one call at a time per process."""
        with self._lock:
            self._next_id += 1
            call_id = self._next_id
            self.send({"jsonrpc": "2.0", "id": call_id, "method": method, "params": params})
            while True:
                message = self.receive()
                if message is None:
                    raise ConnectionError(f"the runtime closed the connection during `{method}`")
                if "method" in message:  # the runtime asks nothing else mid-run
                    if "id" in message:
                        self.send({"jsonrpc": "2.0", "id": message["id"],
                                   "error": {"code": -32601, "message": "busy"}})
                    continue
                if message.get("id") not in (call_id, None):
                    continue  # a reply to nothing we wait for
                if "error" in message:
                    err = message["error"] or {}
                    raise HearthError(err.get("message", "error"), err.get("code", -32603),
                                      err.get("data"))
                return message.get("result")

    def notify(self, method, params):
        with self._lock:
            self.send({"jsonrpc": "2.0", "method": method, "params": params})


def _jsonable(value):
    if isinstance(value, Result):
        return value.as_dict()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _params(**kwargs):
    return {k: v for k, v in kwargs.items() if v is not None}


class Result:
    """What prompt/task/skill return: `text`, `data` (with a `result` schema), `usage`, `model`."""

    def __init__(self, raw):
        self.raw = raw or {}
        self.text = self.raw.get("text", "")
        self.data = self.raw.get("data")
        self.usage = self.raw.get("usage", {})
        self.model = self.raw.get("model", {})

    def as_dict(self):
        return dict(self.raw)

    def __repr__(self):
        return f"Result(text={self.text!r}, data={self.data!r})"


class Logger:
    """ctx.log: structured `log` events in the run's stream."""

    def __init__(self, conn):
        self._conn = conn

    def _log(self, level, message, attributes=None):
        self._conn.notify("log", _params(level=level, message=str(message), attributes=attributes))

    def info(self, message, attributes=None):
        self._log("info", message, attributes)

    def warn(self, message, attributes=None):
        self._log("warn", message, attributes)

    def error(self, message, attributes=None):
        self._log("error", message, attributes)


class Session:
    """One conversation: successive prompts continue its history for the whole run."""

    def __init__(self, conn, handle, name):
        self._conn, self.handle, self.name = conn, handle, name

    def prompt(self, text, result=None, model=None):
        return Result(self._conn.call("session.prompt", _params(
            session=self.handle, text=text, result=result, model=model)))

    def task(self, text, agent, result=None):
        return Result(self._conn.call("session.task", _params(
            session=self.handle, text=text, agent=agent, result=result)))

    def skill(self, name, args=None, result=None, model=None):
        return Result(self._conn.call("session.skill", _params(
            session=self.handle, name=name, args=args, result=result, model=model)))

    def close(self):
        self._conn.call("session.close", {"session": self.handle})


class _Fs:
    def __init__(self, conn, harness):
        self._conn, self._harness = conn, harness

    def read(self, path):
        return self._conn.call("fs.read", {"harness": self._harness, "path": path})["content"]

    def write(self, path, content):
        return self._conn.call("fs.write", {"harness": self._harness, "path": path,
                                            "content": content})


class Harness:
    """An initialized agent: sessions, a shell and files in its workspace."""

    def __init__(self, conn, raw):
        self._conn = conn
        self.handle = raw["harness"]
        self.name = raw.get("name", "default")
        self.agent = raw.get("agent", "")
        self.workspace = raw.get("workspace", "")
        self.fs = _Fs(conn, self.handle)

    def session(self, name=None):
        raw = self._conn.call("session.open", _params(harness=self.handle, name=name))
        return Session(self._conn, raw["session"], raw["name"])

    def shell(self, command, cwd=None, timeout_ms=None):
        """Runs `command` with bash in the workspace: {stdout, stderr, exitCode[, timedOut]}."""
        return self._conn.call("shell", _params(harness=self.handle, command=command, cwd=cwd,
                                                timeoutMs=timeout_ms))


class Context:
    """FlueContext for Python: id/run_id, workflow, payload, env, log, init()."""

    def __init__(self, conn, params):
        self._conn = conn
        self.run_id = self.id = params.get("runId", "")
        self.workflow = params.get("workflow", "")
        self.payload = params.get("payload") or {}
        self.invoker = params.get("invoker")
        self.context = params.get("context") or {}  # invoker.resolve's context values
        self.traceparent = params.get("traceparent")  # the run's span (also $TRACEPARENT)
        self.env = os.environ
        self.log = Logger(conn)

    def init(self, agent=None, model=None, instructions=None, tools=None, harness=None):
        return Harness(self._conn, self._conn.call("agent.init", _params(
            agent=agent, model=model, instructions=instructions, tools=tools, harness=harness)))

    def call(self, method, params=None):
        """Any protocol method, raw (see docs/workflow-protocol.md)."""
        return self._conn.call(method, params or {})


def serve(fn):
    """Answers the runtime's `workflow.run` with fn(ctx). Returns the process exit code."""
    conn = _Connection()
    request = conn.receive()
    while request is not None and request.get("method") != "workflow.run":
        if "id" in request and "method" in request:
            conn.send({"jsonrpc": "2.0", "id": request["id"],
                       "error": {"code": -32601, "message": "Method not found: " +
                                 str(request.get("method"))}})
        request = conn.receive()
    if request is None:
        print("hearth_workflow: no workflow.run request arrived (run it with `hearth run`)",
              file=sys.stderr)
        return 1
    reply = {"jsonrpc": "2.0", "id": request.get("id")}
    try:
        reply["result"] = fn(Context(conn, request.get("params") or {}))
    except HearthError as e:  # pass the runtime's error on, with its type
        reply["error"] = {"code": e.code, "message": e.message, "data": e.data or None}
    except ConnectionError as e:
        print(f"hearth_workflow: {e}", file=sys.stderr)
        return 1
    except BaseException as e:  # noqa: BLE001 - every failure must become the run's error
        reply["error"] = {"code": -32603, "message": f"{type(e).__name__}: {e}",
                          "data": {"traceback": traceback.format_exc()}}
    try:
        with conn._lock:
            conn.send(reply)
    except TypeError as e:  # the result is not JSON
        with conn._lock:
            conn.send({"jsonrpc": "2.0", "id": request.get("id"),
                       "error": {"code": -32603, "message": f"the result is not JSON: {e}"}})
    return 0


_registered = []


def _serve_at_exit():
    sys.stdout.flush()
    code = serve(_registered[0])
    sys.stderr.flush()
    os._exit(code)


_import_failed = False
_previous_excepthook = sys.excepthook


def _excepthook(kind, value, tb):
    global _import_failed
    _import_failed = True
    _previous_excepthook(kind, value, tb)


def workflow(fn):
    """Marks `fn(ctx)` as the workflow of the script being run; it is served once the module has
    finished loading (so functions defined below it exist). Returns fn unchanged."""
    if fn.__module__ == "__main__" and not _registered:
        _registered.append(fn)
        sys.excepthook = _excepthook
        atexit.register(lambda: None if _import_failed else _serve_at_exit())
    return fn
