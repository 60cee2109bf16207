/**
 * A real `redis-server` for tests: started on a free loopback port with no
 * persistence, stopped by `stop()`, and killed when the test process exits
 * whatever happened. `.ci/run` installs Debian's `redis-server`; the tests
 * fail (they do not skip) without it.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createClient } from 'redis';

/** What the tests use of a node-redis client. */
export interface TestRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
  destroy(): void;
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** A new connected client (closed by `stop()`). */
  client(): Promise<TestRedisClient>;
  /** Kills the server (SIGKILL): a crash, for fault tests. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after `kill()`). */
  restart(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, a hung store. */
  pause(): void;
  /** Lets a frozen server go on (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** True when `redis-server` is on the PATH. */
export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function startServer(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on ${port}: ${output}`));
    }, 10_000);
    const ping = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        if (child.exitCode !== null) break;
        const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
        c.on('error', () => {});
        try {
          await c.connect();
          await c.ping();
          await c.close();
          clearTimeout(timer);
          resolve(child);
          return;
        } catch {
          await new Promise(r => setTimeout(r, 25));
        }
      }
      clearTimeout(timer);
      reject(new Error(`redis-server on ${port} exited: ${output}`));
    };
    child.stdout!.on('data', d => (output += d));
    child.stderr!.on('data', d => (output += d));
    child.once('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    void ping();
  });
}

/** Starts a redis-server on a free loopback port. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child = await startServer(port);
  const clients: TestRedisClient[] = [];
  const url = `redis://127.0.0.1:${port}`;
  return {
    port,
    url,
    async client() {
      const c = createClient({ url, socket: { reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500), connectTimeout: 1_000 } });
      c.on('error', () => {}); // reconnects on its own; tests read the failures through the store
      await c.connect();
      const client = c as unknown as TestRedisClient;
      clients.push(client);
      return client;
    },
    async kill() {
      const exited = new Promise(resolve => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      child = await startServer(port);
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      for (const c of clients) {
        try {
          c.destroy();
        } catch {
          // already closed
        }
      }
      if (child.exitCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
