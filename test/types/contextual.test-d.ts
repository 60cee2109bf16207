/**
 * Contextual typing, proved by the type checker (`npm run typecheck`; this
 * file is never run): a function wrapped inline by `guard()`,
 * `breaker.protect()` or `hooks.explain()` where a function type is
 * expected (a framework's tool `execute`) gets its parameter types from that
 * type, exactly as it would unwrapped. Each `@ts-expect-error` line is a
 * misuse that must stay an error: if the wrapper typed the parameters `any`
 * again, the line would compile and the directive itself would fail.
 */
import { CircuitBreaker, ExplainabilityHookManager, guard } from '../../src/index.js';
import type { Guarded, GuardedFunction } from '../../src/index.js';

/** `true` only when `X` and `Y` are the same type (`any` equals only `any`). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

interface CallOpts {
  toolCallId: string;
  abortSignal?: AbortSignal;
}

/** A tool as a framework types it (the AI SDK's shape). */
interface FrameworkTool {
  description: string;
  execute: (input: { city: string }, _opts: CallOpts) => Promise<string>;
}

/** A framework helper that infers the input type from a schema first, as `tool({ inputSchema, execute })` does. */
declare function tool<I, O>(definition: { inputSchema: { parse(value: unknown): I }; execute: (input: I, _opts: CallOpts) => Promise<O> }): typeof definition;
declare const citySchema: { parse(value: unknown): { city: string; days?: number } };

const breaker = new CircuitBreaker({ name: 'weather' });
const hooks = new ExplainabilityHookManager({ agentId: 'planner' });

// guard(): the parameters are the framework's, not `any`.
export const guarded: FrameworkTool = {
  description: 'Current weather',
  execute: guard(
    async ({ city }, _opts) => {
      expectType<Equal<typeof city, string>>();
      expectType<Equal<typeof _opts, CallOpts>>();
      return `sunny in ${city}`;
    },
    { name: 'get_weather', callId: (_input, _opts) => _opts.toolCallId, signal: (_input, _opts) => _opts.abortSignal },
  ),
};

export const guardedMisuse: FrameworkTool = {
  description: 'Current weather',
  // @ts-expect-error `town` is not in the framework's input type
  execute: guard(async ({ town }) => `sunny in ${town}`, { name: 'get_weather' }),
};

export const guardedWrongOption: FrameworkTool = {
  description: 'Current weather',
  // @ts-expect-error the options' extractors are typed by the same parameters
  execute: guard(async ({ city }, _opts) => city, { name: 'get_weather', callId: (_input, _opts) => _opts.callId }),
};

export const guardedWrongResult: FrameworkTool = {
  description: 'Current weather',
  // @ts-expect-error the framework expects a string result
  execute: guard(async ({ city }) => city.length, { name: 'get_weather' }),
};

// Inside a generic framework helper, the input type inferred from the schema flows in.
export const viaHelper = tool({
  inputSchema: citySchema,
  execute: guard(
    async ({ city, days }, _opts) => {
      expectType<Equal<typeof city, string>>();
      expectType<Equal<typeof days, number | undefined>>();
      expectType<Equal<typeof _opts, CallOpts>>();
      return { city, days: days ?? 1 };
    },
    { name: 'get_forecast' },
  ),
});

// breaker.protect()
export const protectedTool: FrameworkTool = {
  description: 'Current weather',
  execute: breaker.protect(async ({ city }, _opts) => {
    expectType<Equal<typeof city, string>>();
    expectType<Equal<typeof _opts, CallOpts>>();
    return city;
  }),
};

export const protectedMisuse: FrameworkTool = {
  description: 'Current weather',
  // @ts-expect-error `toolCallID` is not in the framework's options type
  execute: breaker.protect(async (_input, _opts) => _opts.toolCallID),
};

// hooks.explain()
export const explained: FrameworkTool = {
  description: 'Current weather',
  execute: hooks.explain({ reasoning: 'the user asked', confidence: 0.9 })(async ({ city }, _opts) => {
    expectType<Equal<typeof city, string>>();
    expectType<Equal<typeof _opts, CallOpts>>();
    return city;
  }),
};

export const explainedMisuse: FrameworkTool = {
  description: 'Current weather',
  // @ts-expect-error `town` is not in the framework's input type
  execute: hooks.explain({ reasoning: 'the user asked' })(async ({ town }) => String(town)),
};

// Without a context, annotated parameters are kept, and GuardedFunction<F> names the same type.
async function rank(userId: string, ids: string[]): Promise<string[]> {
  return ids.map(id => `${userId}:${id}`);
}
export const ranked = guard(rank, { name: 'rank', callId: userId => userId });
expectType<Equal<typeof ranked, Guarded<[userId: string, ids: string[]], Promise<string[]>>>>();
expectType<Equal<GuardedFunction<typeof rank>, Guarded<[userId: string, ids: string[]], Promise<string[]>, unknown>>>();
// @ts-expect-error the guarded function keeps the original's parameters
void ranked('u1', 'p1');

// `this` is kept.
function scaled(this: { factor: number }, x: number): number {
  return this.factor * x;
}
export const guardedScaled = guard(scaled, { name: 'scaled' });
expectType<Equal<ThisParameterType<typeof guardedScaled>, { factor: number }>>();
