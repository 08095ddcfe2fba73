// The hello workflow as a Node program (docs/workflow-protocol.md): a structured prompt, a task,
// a shell command and a log line, all streamed into the run's events.
import { workflow } from '../helpers/hearth-workflow.mjs';

export const run = workflow(async (ctx) => {
  const harness = await ctx.init({ agent: 'hello' });
  const session = await harness.session();
  const res = await session.prompt(`Greet ${ctx.payload.name ?? 'Developer'}. Respond with JSON.`, {
    result: { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'] },
  });
  const review = await session.task(`Is this a friendly greeting? ${res.data.greeting}`, { agent: 'hello' });
  const listing = await harness.shell('ls skills');
  ctx.log.info('greeting complete', {
    length: res.data.greeting.length, review: review.text, skills: listing.stdout.split(/\s+/).filter(Boolean),
  });
  return res.data;
});
