import { Command, InvalidArgumentError } from 'commander';
import { ChorusError } from '../../src/errors.js';
import { resolveHome, secureDirs, type HomePaths } from '../home/home.js';
import { readFile } from 'node:fs/promises';
import type { LocalNode } from '../local/local-node.js';
import { readDaemonInfo } from '../daemon/daemon-file.js';
import { httpClient } from '../client/http-client.js';
import type { NodeClient } from '../client/node-client.js';
import { EXIT, exitCodeOf } from './exit-codes.js';

/** What every command gets: where the node lives and how to print. */
export interface Cli {
  home(): HomePaths;
  /** Opens the node's data dir for the duration of `fn` (only when no daemon runs). */
  withNode<T>(fn: (node: LocalNode) => Promise<T>): Promise<T>;
  /** The running daemon over its API if there is one, else the data dir opened here. */
  withClient<T>(fn: (client: NodeClient) => Promise<T>): Promise<T>;
  out(text: string): void;
  err(text: string): void;
  json(value: unknown): void;
}

export function makeCli(program: Command): Cli {
  const cli: Cli = {
    home: () => resolveHome(process.env, program.opts<{ home?: string }>().home),
    async withNode(fn) {
      const home = cli.home();
      let node: LocalNode;
      try {
        // Loaded on first use: the store and the reputation engine are not needed for
        // --help, hash, or a command answered by a running daemon.
        const { LocalNode } = await import('../local/local-node.js');
        await secureDirs(home);
        node = await LocalNode.open(home);
      } catch (e) {
        if (e instanceof ChorusError && e.code === 'store_locked') {
          const running = await readDaemonInfo(home);
          if (running) throw new ChorusError('store_locked', `the node running on ${home.root} (pid ${running.pid}) holds the store; stop it first (SIGTERM or Ctrl-C)`);
        }
        throw e;
      }
      try {
        return await fn(node);
      } finally {
        await node.close();
      }
    },
    async withClient(fn) {
      const home = cli.home();
      const running = await readDaemonInfo(home);
      if (running) {
        let token: string;
        try {
          token = (await readFile(home.token, 'utf8')).trim();
        } catch {
          throw new ChorusError('not_initialized', `no API token at ${home.token}; run: chorus init`);
        }
        return fn(httpClient(running.url, token));
      }
      const { localClient } = await import('../client/local-client.js');
      return cli.withNode((node) => fn(localClient(node)));
    },
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
    json: (value) => void process.stdout.write(JSON.stringify(value, null, 2) + '\n'),
  };
  return cli;
}

/** Wraps a command action: typed errors become a message and their exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT.ok;
    } catch (e) {
      process.exitCode = report(e);
    }
  };
}

/** Prints a failure as one line (a stack only for the unexpected) and returns its exit code. */
export function report(e: unknown): number {
  if ((e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') {
    // The reader of our output went away (chorus export | head -1): nothing to report.
    return EXIT.ok;
  }
  if (e instanceof ChorusError) {
    process.stderr.write(`chorus: ${e.message}\n`);
    return exitCodeOf(e.code);
  }
  process.stderr.write(`chorus: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
  return EXIT.error;
}

/** Parses an integer option of at least `min` (0 by default); a bad value is a usage error (exit 2). */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be ${min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`}, got "${v}"`);
    }
    return n;
  };
}

/** Collects a repeatable option. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
