/**
 * gen_ai.tool.call.arguments / .result are the tool's own input and output:
 * with the guard's `input` selector, the framework's arguments (messages, run
 * context) stay out of the capture; without it, the documented default.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { guard } from '../../../src/index.js';
import { ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, ATTR_GEN_AI_TOOL_CALL_RESULT } from '../../../src/semconv.js';
import { attr, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('guard: captured arguments and result', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ captureArguments: true, captureResult: true });
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

interface FrameworkOptions {
  toolCallId: string;
  messages: { role: string; content: string }[];
}
const frameworkArgs: FrameworkOptions = { toolCallId: 'c1', messages: [{ role: 'user', content: 'my card is 4111 1111 1111 1111' }] };
const weather = async ({ city }: { city: string }, _o: FrameworkOptions) => ({ city, tempC: 21 });

test('with input: the tool input only, and the return value', async ({ t }) => {
  const tool = guard(weather, { name: 'weather', input: input => input });
  await tool({ city: 'Paris' }, frameworkArgs);
  const span = t.span('execute_tool weather');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"city":"Paris"}');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_RESULT), '{"city":"Paris","tempC":21}');
});

test('without input (the default): every argument, so the framework\'s messages too; the first alone when there is one', async ({ t }) => {
  await guard(weather, { name: 'weather' })({ city: 'Oslo' }, frameworkArgs);
  assert.match(String(attr(t.span('execute_tool weather'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS)), /^\[\{"city":"Oslo"\},\{"toolCallId":"c1","messages":/);
  t.reset();
  await guard(async (city: string) => city.length, { name: 'len' })('Rome');
  assert.is(attr(t.span('execute_tool len'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '"Rome"');
  assert.is(attr(t.span('execute_tool len'), ATTR_GEN_AI_TOOL_CALL_RESULT), '4');
});

test.run();
