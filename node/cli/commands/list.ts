import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { action, intOption, type Cli } from '../context.js';
import { formatRow } from '../format.js';
import { resolveSubject } from '../subjects.js';

export function listCommand(cli: Cli): Command {
  return new Command('list')
    .description('list stored attestations, the newest first (all, about a subject, or by an issuer); --after lists in arrival order instead')
    .option('--subject <digest|path>', 'model digest, or a model file or directory to hash')
    .option('--issuer <did>', 'issuer did:key')
    .option('--approved', 'approvals by the approvers configured for chorus check (check.approvers)')
    .option('--limit <n>', 'at most this many', intOption('--limit'), 100)
    .option('--after <seq>', 'in arrival order (oldest first), after this arrival number (0: from the start)', intOption('--after'))
    .option('--before <seq>', 'the newest first, before this arrival number (from a previous page)', intOption('--before', 1))
    .option('-q, --quiet', 'print only the ids, one a line (for scripts: chorus show "$(chorus list -q --limit 1)")')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { subject?: string; issuer?: string; approved?: boolean; limit: number; after: number; before?: number; quiet?: boolean; json?: boolean }) => {
      if (opts.approved) {
        return cli.withClient(async (client) => {
          const items = (await client.approved()).slice(0, opts.limit);
          if (opts.json) return void cli.json({ items: items.map(({ envelope: _e, ...rest }) => rest) });
          for (const a of items) cli.out(`${formatRow(a)}  ${a.subjects.map((s) => `sha256:${s}`).join(' ')}`);
          if (items.length === 0) cli.err('no approvals by the configured approvers (check.approvers in config.json)');
        });
      }
      if (opts.subject !== undefined && opts.issuer !== undefined) {
        throw new ChorusError('bad_input', 'give at most one of --subject and --issuer');
      }
      if (opts.before !== undefined && opts.after !== undefined) throw new ChorusError('bad_input', 'give --after (oldest first) or --before (newest first), not both');
      // The newest first, whatever the filter (as plain list does); --after: arrival order.
      const newest = opts.after === undefined;
      const by = opts.subject !== undefined ? { subject: (await resolveSubject(opts.subject)).digest.sha256 } : opts.issuer !== undefined ? { issuer: opts.issuer } : {};
      return cli.withClient(async (client) => {
        const page = await client.list(by, newest ? { after: 0, before: opts.before ?? Number.MAX_SAFE_INTEGER, limit: opts.limit } : { after: opts.after ?? 0, limit: opts.limit });
        if (opts.json) {
          cli.json({ items: page.items.map(({ envelope: _e, ...rest }) => rest), next: page.next });
        } else if (opts.quiet) {
          for (const a of page.items) cli.out(a.id);
        } else {
          for (const a of page.items) cli.out(formatRow(a));
          if (page.items.length === 0) cli.err('no attestations');
          if (page.next !== null) cli.err(`more: --${newest ? 'before' : 'after'} ${page.next}`);
        }
      });
    }));
}
