/**
 * Real Prometheus parts for tests: the `promtool` and `prometheus` binaries
 * (Debian package `prometheus`), a Prometheus server started on a free
 * loopback port with a throw-away config and data directory, and a scrape
 * endpoint serving an `@opentelemetry/exporter-prometheus` reader from the
 * test process.
 *
 * When a binary is missing the tests fail (never skip) with a message saying
 * how to install it: CI installs it (.ci/run), so they always run there.
 *
 * Everything started here listens on 127.0.0.1 only and is stopped by
 * `stop()` (call it in `finally`); as a backstop, a server stops itself after
 * `maxLifetimeMs` and is killed when the test process exits.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';

/** How to get the binaries, for failure messages. */
export const PROMETHEUS_INSTALL_HINT =
  'Install Prometheus (it includes promtool): on Debian/Ubuntu `sudo apt-get update && sudo apt-get install -y --no-install-recommends prometheus`, ' +
  'on macOS `brew install prometheus`, or put the release binaries (https://prometheus.io/download/) on PATH. ' +
  'These tests never skip: CI installs the package in .ci/run.';

/** The absolute path of `name` on PATH; throws with {@link PROMETHEUS_INSTALL_HINT} when it is missing. */
export function requireBinary(name: 'prometheus' | 'promtool'): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`\`${name}\` was not found on PATH. ${PROMETHEUS_INSTALL_HINT}`);
}

/** Result of a promtool run. */
export interface ToolRun {
  status: number | null;
  output: string;
}

/** Runs `promtool args…` in `cwd` (synchronously: it takes a fraction of a second). */
export function promtool(args: string[], cwd: string): ToolRun {
  const run = spawnSync(requireBinary('promtool'), args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>(resolve => server.close(() => resolve()));
  return port;
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** `host:port` targets to scrape (one job, `agents`). */
  targets: string[];
  /** Rule files' contents (YAML), written next to the config. */
  rules?: string[];
  /** Scrape and rule evaluation interval, in seconds. @default 1 */
  intervalSeconds?: number;
  /** The server is killed after this long, whatever happens. @default 90000 */
  maxLifetimeMs?: number;
}

/** One alert as `/api/v1/alerts` reports it. */
export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  value: string;
}

/** One sample of an instant vector. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A running Prometheus; see {@link startPrometheus}. */
export interface PrometheusServer {
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string;
  /** GET an API path (`/api/v1/...`) and return `data`, failing on an error status. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  /** An instant query. */
  query(expr: string): Promise<PromSample[]>;
  /** Current alerts (pending and firing). */
  alerts(): Promise<PromAlert[]>;
  /** Scrape targets with their health. */
  targets(): Promise<{ scrapeUrl: string; health: string; lastError: string }[]>;
  /**
   * Polls `check` every 250 ms until it returns a value other than
   * `undefined`; fails after `timeoutMs` with `what` and the last state.
   */
  waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** Waits until the alert `name` fires with `labels` (a subset) and returns it. */
  waitForFiring(name: string, labels?: Record<string, string>, timeoutMs?: number): Promise<PromAlert>;
  /** Prometheus's stderr so far (for failure messages). */
  log(): string;
  /** Stops the server and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * Starts `prometheus` on a free 127.0.0.1 port with a config scraping
 * `targets` every `intervalSeconds` and evaluating `rules` as often, and
 * waits until it is ready.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const binary = requireBinary('prometheus');
  const interval = `${options.intervalSeconds ?? 1}s`;
  const dir = mkdtempSync(join(tmpdir(), 'agent-safety-prometheus-'));
  const ruleFiles = (options.rules ?? []).map((text, i) => {
    const file = join(dir, `rules-${i}.yml`);
    writeFileSync(file, text);
    return file;
  });
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: 'agents', static_configs: [{ targets: options.targets }] }],
  };
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2)); // JSON is YAML
  installExitHook();

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    liveChildren.add(child);
    let stderr = '';
    child.stderr?.on('data', chunk => (stderr += chunk));
    let exited = false;
    const exitedPromise = new Promise<void>(resolve =>
      child.once('exit', () => {
        exited = true;
        liveChildren.delete(child);
        resolve();
      }),
    );
    const kill = async (): Promise<void> => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitedPromise;
      clearTimeout(timer);
    };
    const lifetime = setTimeout(() => void kill(), options.maxLifetimeMs ?? 90_000);
    lifetime.unref();

    // Ready within a few seconds, or it exited (e.g. the port was taken meanwhile).
    const readyBy = Date.now() + 20_000;
    let ready = false;
    while (!exited && Date.now() < readyBy) {
      try {
        const res = await fetch(`${url}/-/ready`);
        if (res.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    if (!ready) {
      lastError = new Error(`prometheus did not become ready (attempt ${attempt + 1}): ${stderr.trim() || 'no output'}`);
      clearTimeout(lifetime);
      await kill();
      continue;
    }

    let stopped = false;
    const server: PrometheusServer = {
      url,
      async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
        const query = new URLSearchParams(params).toString();
        const res = await fetch(`${url}${path}${query ? `?${query}` : ''}`);
        const body = (await res.json()) as { status: string; data: T; error?: string };
        if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
        return body.data;
      },
      async query(expr) {
        const data = await server.api<{ resultType: string; result: PromSample[] }>('/api/v1/query', { query: expr });
        return data.result;
      },
      async alerts() {
        return (await server.api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts;
      },
      async targets() {
        return (await server.api<{ activeTargets: { scrapeUrl: string; health: string; lastError: string }[] }>('/api/v1/targets'))
          .activeTargets;
      },
      async waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
        const deadline = Date.now() + timeoutMs;
        let last: unknown;
        for (;;) {
          if (exited) throw new Error(`prometheus exited while waiting for ${what}: ${stderr}`);
          try {
            const value = await check();
            if (value !== undefined) return value;
          } catch (err) {
            last = err;
          }
          if (Date.now() > deadline) {
            const alerts = await server.alerts().catch(() => []);
            throw new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}` +
                `${last ? `; last error: ${String(last)}` : ''}; alerts now: ${JSON.stringify(alerts)}; prometheus log: ${stderr.trim()}`,
            );
          }
          await sleep(250);
        }
      },
      waitForFiring(name, labels = {}, timeoutMs) {
        return server.waitFor(
          `alert ${name} ${JSON.stringify(labels)} to fire`,
          async () =>
            (await server.alerts()).find(
              a => a.state === 'firing' && a.labels.alertname === name && Object.entries(labels).every(([k, v]) => a.labels[k] === v),
            ),
          timeoutMs,
        );
      },
      log: () => stderr,
      async stop() {
        if (stopped) return;
        stopped = true;
        clearTimeout(lifetime);
        await kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return server;
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** A scrape endpoint for a PrometheusExporter, on a free 127.0.0.1 port. */
export interface MetricsEndpoint {
  /** `127.0.0.1:port`, as a Prometheus target. */
  readonly target: string;
  /** GETs `/metrics` and returns the text exposition. */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Serves `exporter` (created with `preventServerStart: true`) on
 * 127.0.0.1 at a free port, through its public request handler.
 */
export async function serveMetrics(exporter: PrometheusExporter): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/metrics') exporter.getMetricsRequestHandler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    async scrape() {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      return res.text();
    },
    close() {
      if (!server.listening) return Promise.resolve();
      return new Promise(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
