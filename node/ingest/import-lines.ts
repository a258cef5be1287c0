import type { Readable } from 'node:stream';
import { ChorusError } from '../../src/errors.js';
import type { Decision } from '../../src/ingest/decide.js';
import { readLines } from './read-lines.js';
import type { Ingestor } from './ingestor.js';

export interface ImportProblem {
  readonly line: number;
  readonly outcome: string;
  readonly code: string;
  readonly message: string;
}

/** What an import did, line by line where it went wrong. */
export interface ImportTally {
  lines: number;
  accepted: number;
  ignored: number;
  rejected: number;
  byCode: Record<string, number>;
  /** The first `show` lines that were not accepted. */
  problems: ImportProblem[];
}

export interface ImportOptions {
  readonly maxEnvelopeBytes: number;
  /** Most bytes the whole stream may carry. */
  readonly maxTotalBytes?: number;
  /** How many problem lines to keep. */
  readonly show?: number;
  /** Hears the running tally after each chunk is durably written (acknowledged counts). */
  readonly onProgress?: (tally: Readonly<ImportTally>, linesCommitted: number) => void;
}

/**
 * Runs a JSON Lines stream of envelopes through the one ingest path. Blank lines are
 * skipped; an over-long line is rejected without being held in memory; good lines land
 * whatever the bad ones are.
 */
export async function importLines(ingestor: Ingestor, stream: Readable, opts: ImportOptions): Promise<ImportTally> {
  const show = opts.show ?? 20;
  const t: ImportTally = { lines: 0, accepted: 0, ignored: 0, rejected: 0, byCode: {}, problems: [] };
  const note = (line: number, d: Decision | ImportProblem): void => {
    if (d.outcome === 'accept') {
      t.accepted++;
      return;
    }
    if (d.outcome === 'ignore') t.ignored++;
    else t.rejected++;
    t.byCode[d.code] = (t.byCode[d.code] ?? 0) + 1;
    if (t.problems.length < show) t.problems.push({ line, outcome: d.outcome, code: d.code, message: 'message' in d ? d.message : '' });
  };
  const cap = opts.maxEnvelopeBytes;
  const total = opts.maxTotalBytes ?? Infinity;
  let received = 0;
  const lineNumbers: number[] = [];
  async function* envelopes(): AsyncGenerator<Buffer> {
    // cap + 1 so a line at the cap still fits with a CRLF ending; the ingest path applies the cap.
    for await (const line of readLines(stream, cap + 1)) {
      received += line.length + 1;
      if (received > total) throw new ChorusError('too_large', `import exceeds ${total} bytes; split it`);
      if (line.bytes !== undefined && line.bytes.toString('latin1').trim() === '') continue;
      t.lines++;
      if (line.bytes === undefined) {
        note(line.number, { line: line.number, outcome: 'reject', code: 'too_large', message: `line is ${line.length} bytes; the limit is ${cap}` });
        continue;
      }
      lineNumbers.push(line.number);
      yield line.bytes;
    }
  }
  let done = 0;
  await ingestor.ingestMany(envelopes(), (ds) => {
    for (const d of ds) note(lineNumbers[done++] ?? 0, d);
    opts.onProgress?.(t, done);
  });
  return t;
}
