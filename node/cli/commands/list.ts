import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { action, intOption, type Cli } from '../context.js';
import { formatRow } from '../format.js';

export function listCommand(cli: Cli): Command {
  return new Command('list')
    .description('list stored attestations about a subject or by an issuer, in arrival order')
    .option('--subject <digest>', 'model digest')
    .option('--issuer <did>', 'issuer did:key')
    .option('--approved', 'approvals by the approvers configured for chorus check (check.approvers)')
    .option('--limit <n>', 'at most this many', intOption('--limit'), 100)
    .option('--after <seq>', 'start after this arrival number (from a previous page)', intOption('--after'), 0)
    .option('--json', 'print as JSON')
    .action(action(async (opts: { subject?: string; issuer?: string; approved?: boolean; limit: number; after: number; json?: boolean }) => {
      if (opts.approved) {
        return cli.withClient(async (client) => {
          const items = (await client.approved()).slice(0, opts.limit);
          if (opts.json) return void cli.json({ items: items.map(({ envelope: _e, ...rest }) => rest) });
          for (const a of items) cli.out(`${formatRow(a)}  ${a.subjects.map((s) => `sha256:${s}`).join(' ')}`);
          if (items.length === 0) cli.err('no approvals by the configured approvers (check.approvers in config.json)');
        });
      }
      if ((opts.subject === undefined) === (opts.issuer === undefined)) {
        throw new ChorusError('bad_input', 'give exactly one of --subject DIGEST, --issuer DID or --approved');
      }
      const by = opts.subject !== undefined ? { subject: parseDigest(opts.subject) } : { issuer: opts.issuer as string };
      return cli.withClient(async (client) => {
        const page = await client.list(by, { after: opts.after, limit: opts.limit });
        if (opts.json) {
          cli.json({ items: page.items.map(({ envelope: _e, ...rest }) => rest), next: page.next });
        } else {
          for (const a of page.items) cli.out(formatRow(a));
          if (page.items.length === 0) cli.err('no attestations');
          if (page.next !== null) cli.err(`more: --after ${page.next}`);
        }
      });
    }));
}
