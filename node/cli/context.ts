import { Command } from 'commander';
import { ChorusError } from '../../src/errors.js';
import { resolveHome, type HomePaths } from '../home/home.js';
import { LocalNode } from '../local/local-node.js';
import { EXIT, exitCodeOf } from './exit-codes.js';

/** What every command gets: where the node lives and how to print. */
export interface Cli {
  home(): HomePaths;
  /** Opens the node's data dir for the duration of `fn`. */
  withNode<T>(fn: (node: LocalNode) => Promise<T>): Promise<T>;
  out(text: string): void;
  err(text: string): void;
  json(value: unknown): void;
}

export function makeCli(program: Command): Cli {
  const cli: Cli = {
    home: () => resolveHome(process.env, program.opts<{ home?: string }>().home),
    async withNode(fn) {
      const node = await LocalNode.open(cli.home());
      try {
        return await fn(node);
      } finally {
        await node.close();
      }
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
      if (e instanceof ChorusError) {
        process.stderr.write(`chorus: ${e.message}\n`);
        process.exitCode = exitCodeOf(e.code);
      } else {
        process.stderr.write(`chorus: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
        process.exitCode = EXIT.error;
      }
    }
  };
}

/** Parses a positive integer option. */
export function intOption(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new ChorusError('bad_input', `${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

/** Collects a repeatable option. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
