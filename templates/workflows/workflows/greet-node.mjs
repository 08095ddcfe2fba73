// Workflow `greet-node` in JavaScript: a typed prompt, a shell command and a log line. The runtime
// runs this file with node and talks to it over stdin/stdout (docs/workflow-protocol.md); the helper
// in ../helpers/ turns that protocol into a FlueContext-like `ctx`.
import { workflow } from '../helpers/hearth-workflow.mjs';

const GREETING = { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'] };

export const run = workflow(async (ctx) => {
  const harness = await ctx.init(); // the root agent; ctx.init({ agent: 'name' }) for another
  const session = await harness.session();
  const res = await session.prompt(`Greet ${ctx.payload.name ?? 'Developer'}. Respond with JSON.`, {
    result: GREETING,
  });
  const today = (await harness.shell('date +%A')).stdout.trim(); // runs in the session workspace
  ctx.log.info('greeting complete', { length: res.data.greeting.length, day: today });
  return res.data;
});
