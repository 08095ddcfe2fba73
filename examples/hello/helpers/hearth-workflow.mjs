// hearth-workflow: write hearth workflows in JavaScript (Node, no dependencies).
//
// A thin client of the ctx protocol (docs/workflow-protocol.md): the runtime starts this script,
// sends `workflow.run` on stdin, and the script calls back over stdout. Usage:
//
//   import { workflow } from './hearth-workflow.mjs';
//   export const run = workflow(async (ctx) => {
//     const harness = await ctx.init({ agent: 'assistant' });
//     const session = await harness.session();
//     const res = await session.prompt(`Hello, ${ctx.payload.name ?? 'Developer'}!`);
//     ctx.log.info('greeting complete', { length: res.text.length });
//     return { greeting: res.text };
//   });
//
// stdout belongs to the protocol: console.log and process.stdout.write go to stderr, which the
// runtime shows as warn-level log events.
import { createInterface } from 'node:readline';

export const PROTOCOL_VERSION = 1;

/** An error reply from the runtime (or one to send back): code, message, data {type, details}. */
export class HearthError extends Error {
  constructor(message, code = -32000, data = undefined) {
    super(message);
    this.name = 'HearthError';
    this.code = code;
    this.data = data && typeof data === 'object' ? data : {};
    this.type = this.data.type ?? 'rpc_error';
    this.details = this.data.details ?? '';
  }
}

const writeProtocol = process.stdout.write.bind(process.stdout); // synchronous for pipes on Linux
process.stdout.write = process.stderr.write.bind(process.stderr);
console.log = console.error;
console.info = console.error;

function send(message) {
  writeProtocol(JSON.stringify(message) + '\n');
}

const pending = new Map(); // id -> {resolve, reject, method}
let nextId = 0;
let onRun = null; // set by workflow(): handles the `workflow.run` request
let closed = false;

function call(method, params = {}) {
  if (closed) return Promise.reject(new Error(`the runtime closed the connection before \`${method}\``));
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, method });
    send({ jsonrpc: '2.0', id, method, params });
  });
}

function notify(method, params = {}) {
  if (!closed) send({ jsonrpc: '2.0', method, params });
}

function handle(message) {
  if (typeof message.method === 'string') {
    if (message.id === undefined) return; // no notifications are defined runtime -> script
    if (message.method === 'workflow.run' && onRun) return onRun(message);
    return send({ jsonrpc: '2.0', id: message.id,
                  error: { code: -32601, message: `Method not found: ${message.method}` } });
  }
  const waiter = pending.get(message.id);
  if (!waiter) {
    // An error about a line we sent without an id of its own (e.g. Invalid Request): fail all.
    if (message.error && message.id === null)
      for (const [id, w] of pending) { pending.delete(id); w.reject(toError(message.error)); }
    return;
  }
  pending.delete(message.id);
  if (message.error) waiter.reject(toError(message.error));
  else waiter.resolve(message.result);
}

function toError(error) {
  return new HearthError(error?.message ?? 'error', error?.code ?? -32603, error?.data);
}

const defined = (object) =>
  Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined && v !== null));

/** What prompt/task/skill resolve to: {text, data?, usage, model}. */
class Session {
  constructor(handle, name) { this.handle = handle; this.name = name; }
  prompt(text, { result, model } = {}) {
    return call('session.prompt', defined({ session: this.handle, text, result, model }));
  }
  task(text, { agent, result } = {}) {
    return call('session.task', defined({ session: this.handle, text, agent, result }));
  }
  skill(name, { args, result, model } = {}) {
    return call('session.skill', defined({ session: this.handle, name, args, result, model }));
  }
  close() { return call('session.close', { session: this.handle }); }
}

class Harness {
  constructor(raw) {
    this.handle = raw.harness;
    this.name = raw.name;
    this.agent = raw.agent;
    this.workspace = raw.workspace;
    const harness = this.handle;
    this.fs = {
      read: async (path) => (await call('fs.read', { harness, path })).content,
      write: (path, content) => call('fs.write', { harness, path, content }),
    };
  }
  async session(name) {
    const raw = await call('session.open', defined({ harness: this.handle, name }));
    return new Session(raw.session, raw.name);
  }
  /** Runs `command` with bash in the workspace: {stdout, stderr, exitCode, timedOut?}. */
  shell(command, { cwd, timeoutMs } = {}) {
    return call('shell', defined({ harness: this.handle, command, cwd, timeoutMs }));
  }
}

function makeContext(params) {
  const log = (level) => (message, attributes) =>
    notify('log', defined({ level, message: String(message), attributes }));
  return {
    id: params.runId,
    runId: params.runId,
    workflow: params.workflow,
    payload: params.payload ?? {},
    invoker: params.invoker,
    context: params.context ?? {}, // invoker.resolve's context values (docs/auth.md)
    traceparent: params.traceparent, // W3C traceparent of the run's span (also $TRACEPARENT)
    env: process.env,
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    /** Accepts {agent, model, instructions, tools, harness} or an agent name. */
    async init(options = {}) {
      const opts = typeof options === 'string' ? { agent: options } : options;
      return new Harness(await call('agent.init', defined(opts)));
    },
    call,
  };
}

/** Serves `fn(ctx)` as this script's workflow; returns fn so it can be exported as `run`. */
export function workflow(fn) {
  if (onRun) throw new Error('workflow() may be called once per script');
  onRun = async (request) => {
    const reply = { jsonrpc: '2.0', id: request.id };
    try {
      const result = await fn(makeContext(request.params ?? {}));
      reply.result = result === undefined ? null : result;
    } catch (e) {
      reply.error = e instanceof HearthError
        ? { code: e.code, message: e.message, data: e.data }
        : { code: -32603, message: `${e?.name ?? 'Error'}: ${e?.message ?? e}`,
            data: { stack: String(e?.stack ?? e) } };
    }
    try {
      send(reply);
    } catch (e) { // the result is not JSON (a cycle, a BigInt)
      send({ jsonrpc: '2.0', id: request.id,
             error: { code: -32603, message: `the result is not JSON: ${e.message}` } });
    }
  };
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    let message;
    try { message = JSON.parse(line); } catch { return; }
    handle(message);
  });
  lines.on('close', () => { // the runtime is done with us (or gone)
    closed = true;
    for (const [id, w] of pending) { pending.delete(id); w.reject(new Error('the runtime closed the connection')); }
    process.exit(0);
  });
  return fn;
}
