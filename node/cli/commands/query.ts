import { Command, InvalidArgumentError, Option } from 'commander';
import { loadIdentity } from '../../home/identity.js';
import { action, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatView } from '../format.js';
import { resolveSubject } from '../subjects.js';

/** Statuses that fail a gate, from the least to the most strict choice. */
const FAIL_ON: Record<string, readonly string[]> = {
  flagged: ['flagged'],
  disputed: ['flagged', 'disputed'],
  caution: ['flagged', 'disputed', 'caution'],
  unknown: ['flagged', 'disputed', 'caution', 'unknown'],
  never: [],
};

/** A --fail-on value: a status choice, optionally with ",incomplete" (or "incomplete" alone: flagged and incomplete). */
function parseFailOn(value: string): string {
  const parts = value.split(',').map((p) => p.trim()).filter(Boolean);
  const statuses = parts.filter((p) => p !== 'incomplete');
  if (statuses.length > 1 || statuses.some((p) => !(p in FAIL_ON)) || parts.length === 0) {
    throw new InvalidArgumentError(`one of ${Object.keys(FAIL_ON).join(', ')}, optionally with ",incomplete"`);
  }
  return parts.join(',');
}

function failOnParts(value: string): [string, boolean] {
  const parts = value.split(',');
  return [parts.find((p) => p !== 'incomplete') ?? 'flagged', parts.includes('incomplete')];
}

export function queryCommand(cli: Cli): Command {
  return new Command('query')
    .description("show this node's reputation view of a model: the verdict and why, every attestation, whether it counts and its weight")
    .argument('<digest|path>', 'model digest (sha256:<hex> or hex) or a model file/directory to hash')
    .option('--json', 'print the view with its evidence as JSON')
    .option('--explain', 'show the trust path behind every counted attestation')
    .option('--without <did>', 'what-if: the view with this issuer left out')
    .addOption(new Option('--fail-on <status>', 'exit 3 from this status on: flagged; disputed (and flagged); caution (and worse); unknown (anything not ok); never; add ",incomplete" (or give incomplete alone, with flagged) to fail too when this node cannot say it holds every statement of the issuers that count (SPEC §16.4)').argParser(parseFailOn).default('flagged'))
    .option('--allow-symlinks', 'follow symbolic links when hashing a directory')
    .option('--no-lookup', 'do not ask the network when the node holds nothing about the digest')
    .addHelpText('after', '\nExit status: 3 when the status is one --fail-on names (default: flagged), or with incomplete when the view is not complete (or its completeness is unknown: no node running), else 0.')
    .action(action(async (target: string, opts: { json?: boolean; explain?: boolean; without?: string; failOn: string; allowSymlinks?: boolean; lookup: boolean }) => {
      const subject = await resolveSubject(target, { allowSymlinks: opts.allowSymlinks ?? false });
      return cli.withClient(async (client) => {
        const view = await client.view(subject.digest.sha256, { lookup: opts.lookup, without: opts.without });
        if (opts.json) cli.json(view);
        else cli.out(formatView(view, (await loadIdentity(cli.home().key).catch(() => undefined))?.did, { explain: opts.explain ?? false }));
        const [status, incomplete] = failOnParts(opts.failOn);
        if ((FAIL_ON[status] ?? FAIL_ON['flagged']!).includes(view.status)) return EXIT.flagged;
        if (incomplete && view.completeness?.complete !== true) {
          cli.err(view.completeness === undefined
            ? 'incomplete: no running node mirrors issuer logs here, so completeness cannot be established (chorus start)'
            : `incomplete: ${view.completeness.summary}`);
          return EXIT.flagged;
        }
        return EXIT.ok;
      });
    }));
}
