import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import type { Decision } from '../../../src/ingest/decide.js';
import { action, intOption, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { readLines } from '../read-lines.js';

interface Tally {
  lines: number;
  accepted: number;
  ignored: number;
  rejected: number;
  byCode: Record<string, number>;
  problems: { line: number; outcome: string; code: string; message: string }[];
}

export function importCommand(cli: Cli): Command {
  return new Command('import')
    .description('import attestations from a JSON Lines file of DSSE envelopes (as `chorus export` writes), through the same checks as every other input')
    .argument('<file>', 'the file, or - for standard input')
    .option('--json', 'print the summary as JSON')
    .option('--show <n>', 'list at most this many problem lines', intOption('--show'), 20)
    .addHelpText('after', '\nBlank lines are skipped. Good lines land even when others are bad.\nExit status: 0 when no line was rejected, 5 when some were (they are listed with their line numbers).')
    .action(action(async (file: string, opts: { json?: boolean; show: number }) => {
      let stream: NodeJS.ReadableStream & import('node:stream').Readable;
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
      return cli.withNode(async (node) => {
        const t: Tally = { lines: 0, accepted: 0, ignored: 0, rejected: 0, byCode: {}, problems: [] };
        const note = (line: number, d: Decision | { outcome: 'reject'; code: string; message: string }): void => {
          if (d.outcome === 'accept') t.accepted++;
          else {
            if (d.outcome === 'ignore') t.ignored++;
            else t.rejected++;
            t.byCode[d.code] = (t.byCode[d.code] ?? 0) + 1;
            if (t.problems.length < opts.show) t.problems.push({ line, outcome: d.outcome, code: d.code, message: 'message' in d ? d.message : '' });
          }
        };
        const lineNumbers: number[] = [];
        const cap = node.limits.maxEnvelopeBytes;
        async function* envelopes(): AsyncGenerator<Buffer> {
          // +1 so a line at the cap still fits with a CRLF ending; the ingest path applies the cap.
          for await (const line of readLines(stream, cap + 1)) {
            if (line.bytes !== undefined && line.bytes.toString('latin1').trim() === '') continue;
            t.lines++;
            if (line.bytes === undefined) {
              note(line.number, { outcome: 'reject', code: 'too_large', message: `line is ${line.length} bytes; the limit is ${cap}` });
              continue;
            }
            lineNumbers.push(line.number);
            yield line.bytes;
          }
        }
        const tty = process.stderr.isTTY;
        let done = 0;
        let lastReport = 0;
        await node.ingestor.ingestMany(envelopes(), (ds) => {
          for (const d of ds) note(lineNumbers[done++] ?? 0, d);
          // Reported only after the chunk is on disk: these counts are acknowledged.
          if (tty) process.stderr.write(`\rimported ${done} lines: ${t.accepted} accepted, ${t.ignored} ignored, ${t.rejected} rejected`);
          else if (done - lastReport >= 10_000) {
            lastReport = done;
            cli.err(`progress: ${done} lines committed, ${t.accepted} accepted`);
          }
        });
        if (tty && done > 0) process.stderr.write('\n');
        if (opts.json) cli.json(t);
        else {
          for (const p of t.problems) cli.err(`line ${p.line}: ${p.outcome === 'reject' ? 'rejected' : 'ignored'} ${p.code}: ${p.message}`);
          const shown = t.problems.length;
          if (t.ignored + t.rejected > shown) cli.err(`… and ${t.ignored + t.rejected - shown} more (--show N lists more)`);
          const codes = Object.entries(t.byCode).map(([c, n]) => `${c}: ${n}`).join(', ');
          cli.out(`${t.lines} lines: ${t.accepted} accepted, ${t.ignored} ignored, ${t.rejected} rejected${codes ? ` (${codes})` : ''}`);
        }
        return t.rejected > 0 ? EXIT.rejected : EXIT.ok;
      });
    }));
}
