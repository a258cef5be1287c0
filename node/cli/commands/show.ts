import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import type { Statement } from '../../../src/statement/statement.js';
import { action, type Cli } from '../context.js';

export function showCommand(cli: Cli): Command {
  return new Command('show')
    .description('show one stored attestation')
    .argument('<id>', 'attestation id: 64 hex, or a unique prefix of at least 8 (as query and list print)')
    .option('--envelope', 'print only the signed DSSE envelope')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, opts: { envelope?: boolean; json?: boolean }) => {
      const want = id.trim().toLowerCase();
      if (!/^[0-9a-f]{8,64}$/.test(want)) throw new ChorusError('bad_input', `not an attestation id: "${id.slice(0, 80)}" (expected 8 to 64 hex characters)`);
      return cli.withClient(async (client) => {
        const a = await client.get(want);
        if (!a) throw new ChorusError('not_found', `no attestation ${want} in this node's store`);
        if (opts.envelope) return void cli.json(a.envelope);
        const { envelope: _e, ...info } = a;
        if (opts.json) return void cli.json(info);
        const statement = a.statement as unknown as Statement;
        cli.out(`id:          ${a.id}\nkind:        ${a.kind ?? `(not scored) ${a.predicateType}`}\nissuer:      ${a.issuer}`);
        cli.out(`received:    ${a.receivedAt} (arrival #${a.seq})${a.retractedBy.length ? `\nretracted by: ${a.retractedBy.join(', ')}` : ''}`);
        cli.out(`subjects:    ${statement.subject.map((s) => `sha256:${s.digest.sha256}${s.name ? ` (${s.name})` : ''}`).join('\n             ')}`);
        cli.out(`predicate:   ${JSON.stringify(statement.predicate, null, 2).replaceAll('\n', '\n             ')}`);
      });
    }));
}
