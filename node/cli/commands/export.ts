import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { action, type Cli } from '../context.js';

export function exportCommand(cli: Cli): Command {
  return new Command('export')
    .description('write stored attestations as JSON Lines of DSSE envelopes (an in-toto bundle), in arrival order')
    .option('--subject <digest>', 'only attestations about this model digest')
    .option('--issuer <did>', 'only attestations by this issuer')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .action(action(async (opts: { subject?: string; issuer?: string; output?: string }) => {
      if (opts.subject !== undefined && opts.issuer !== undefined) throw new ChorusError('bad_input', 'give at most one of --subject and --issuer');
      const digest = opts.subject === undefined ? undefined : parseDigest(opts.subject);
      return cli.withClient(async (client) => {
        const out: Writable = opts.output ? createWriteStream(opts.output, { flags: 'wx' }) : process.stdout;
        if (opts.output) {
          await new Promise<void>((resolve, reject) => {
            out.once('open', () => resolve());
            out.once('error', (e) => reject(new ChorusError('io_error', `cannot write ${opts.output}: ${e.message}`)));
          });
        }
        let after = 0;
        let n = 0;
        for (;;) {
          const q = { after, limit: 1000 };
          const page = await client.list(digest !== undefined ? { subject: digest } : opts.issuer !== undefined ? { issuer: opts.issuer } : {}, q);
          for (const a of page.items) {
            n++;
            if (!out.write(JSON.stringify(a.envelope) + '\n')) await once(out, 'drain');
          }
          if (page.next === null) break;
          after = page.next;
        }
        if (opts.output) {
          out.end();
          await once(out, 'finish');
          cli.err(`exported ${n} attestations to ${opts.output}`);
        }
      });
    }));
}
