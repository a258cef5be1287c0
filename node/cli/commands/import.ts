import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { action, intOption, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function importCommand(cli: Cli): Command {
  return new Command('import')
    .description('import attestations from a JSON Lines file of DSSE envelopes (as `chorus export` writes), through the same checks as every other input')
    .argument('<file>', 'the file, or - for standard input')
    .option('--json', 'print the summary as JSON')
    .option('--show <n>', 'list at most this many problem lines', intOption('--show'), 20)
    .addHelpText('after', '\nBlank lines are skipped. Good lines land even when others are bad.\nExit status: 0 when no line was rejected, 5 when some were (they are listed with their line numbers).')
    .action(action(async (file: string, opts: { json?: boolean; show: number }) => {
      let stream: Readable;
      if (file === '-') stream = process.stdin;
      else {
        try {
          const st = await stat(file);
          if (!st.isFile()) throw new ChorusError('bad_input', `${file} is not a file`);
        } catch (e) {
          if (e instanceof ChorusError) throw e;
          throw new ChorusError('not_found', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
        }
        stream = createReadStream(file, { highWaterMark: 1 << 20 });
      }
      const tty = process.stderr.isTTY;
      let lastReport = 0;
      const t = await cli.withClient((client) => client.importLines(stream, {
        show: opts.show,
        onProgress: (tally, done) => {
          // Reported only after the chunk is on disk: these counts are acknowledged.
          if (tty) process.stderr.write(`\rimported ${done} lines: ${tally.accepted} accepted, ${tally.ignored} ignored, ${tally.rejected} rejected`);
          else if (done - lastReport >= 10_000) {
            lastReport = done;
            cli.err(`progress: ${done} lines committed, ${tally.accepted} accepted`);
          }
        },
      }));
      if (tty && t.lines > 0) process.stderr.write('\n');
      if (opts.json) cli.json(t);
      else {
        for (const p of t.problems) cli.err(`line ${p.line}: ${p.outcome === 'reject' ? 'rejected' : 'ignored'} ${p.code}: ${p.message}`);
        const shown = t.problems.length;
        if (t.ignored + t.rejected > shown) cli.err(`… and ${t.ignored + t.rejected - shown} more (--show N lists more)`);
        const codes = Object.entries(t.byCode).map(([c, n]) => `${c}: ${n}`).join(', ');
        cli.out(`${t.lines} lines: ${t.accepted} accepted, ${t.ignored} ignored, ${t.rejected} rejected${codes ? ` (${codes})` : ''}`);
      }
      return t.rejected > 0 ? EXIT.rejected : EXIT.ok;
    }));
}
