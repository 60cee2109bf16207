/**
 * Guarding tools of agent frameworks without changing their signatures.
 *
 *   npx tsx examples/framework-adapters.ts
 *
 * Framework tool functions receive the call id and an abort signal in a
 * second argument. The `callId` and `signal` extractors of `guard()` read
 * them, so the guarded function is a drop-in replacement. The option types
 * below mirror the frameworks' own (declared here so this example needs no
 * framework installed). For the first-class adapters (one line per tool set,
 * approvals, enrich mode) see examples/adapters/ and docs/adapters/.
 */
import { startAgentSafety } from '../src/bootstrap/index.js';
import { currentSignal, guard } from '../src/index.js';

/** Vercel AI SDK: `execute(input, { toolCallId, abortSignal, messages })`. */
interface AiSdkToolOptions {
  toolCallId: string;
  abortSignal?: AbortSignal;
  messages: unknown[];
}

/** LangChain.js: `func(input, config)` with `config.toolCall?.id` and `config.signal`. */
interface LangChainToolConfig {
  toolCall?: { id?: string };
  signal?: AbortSignal;
}

const safety = startAgentSafety({ serviceName: 'adapters' });

// An AI SDK style tool: pass `guarded` as the tool's `execute`.
const weather = guard(
  async (input: { city: string }, _options: AiSdkToolOptions) => {
    // currentSignal() aborts when the framework aborts or the timeout expires.
    const signal = currentSignal();
    return { city: input.city, forecast: signal?.aborted ? 'unknown' : 'sunny' };
  },
  {
    name: 'get_weather',
    description: 'Current weather for a city',
    callId: (_input, options) => options.toolCallId,
    signal: (_input, options) => options.abortSignal,
    timeoutMs: 5_000,
  },
);

// A LangChain style tool function: wrap it, then hand it to `tool(...)`.
const search = guard(async (input: { query: string }, _config?: LangChainToolConfig) => [`result for ${input.query}`], {
  name: 'search',
  callId: (_input, config) => config?.toolCall?.id,
  signal: (_input, config) => config?.signal,
});

console.log(await weather({ city: 'Lisbon' }, { toolCallId: 'call_1', messages: [] }));
console.log(await search({ query: 'otel' }, { toolCall: { id: 'call_2' } }));
await safety.shutdown();
