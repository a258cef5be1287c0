import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { ChorusError } from '../../../src/errors.js';
import { parseDigest } from '../../../src/digest/parse-digest.js';
import { buildStatement } from '../../../src/statement/build.js';
import { signStatement } from '../../../src/statement/sign.js';
import { PREDICATES, type PredicateKind } from '../../../src/statement/predicates.js';
import { endorsementSubject } from '../../../src/statement/endorsement-subject.js';
import { loadIdentity } from '../../home/identity.js';
import type { Statement, Subject } from '../../../src/statement/statement.js';
import { action, collect, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { resolveSubject } from '../subjects.js';

interface CommonOpts {
  subject?: string[];
  predicate?: string;
  expires?: string;
  json?: boolean;
  dryRun?: boolean;
  allowSymlinks?: boolean;
}

/** "90d", "12h", "30m" or an RFC 3339 time. */
export function parseExpiry(text: string, now: Date): Date {
  const match = /^(\d+)([dhm])$/.exec(text);
  if (match) {
    const count = Number(match[1]);
    const unit = match[2] === 'd' ? 86_400_000 : match[2] === 'h' ? 3_600_000 : 60_000;
    return new Date(now.getTime() + count * unit);
  }
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new ChorusError('bad_input', `--expires: expected a duration like 90d/12h/30m or an RFC 3339 time, got "${text}"`);
  return new Date(time);
}

function nameVersion(flag: string, value: string | undefined): { name: string; version: string } | undefined {
  if (value === undefined) return undefined;
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) throw new ChorusError('bad_input', `${flag}: expected NAME@VERSION, got "${value}"`);
  return { name: value.slice(0, at), version: value.slice(at + 1) };
}

function metrics(list: string[] | undefined): Record<string, number> | undefined {
  if (!list) return undefined;
  const out: Record<string, number> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    const value = Number(kv.slice(eq + 1));
    if (eq <= 0 || kv.slice(eq + 1).trim() === '' || !Number.isFinite(value)) throw new ChorusError('bad_input', `--metric: expected KEY=NUMBER, got "${kv}"`);
    out[kv.slice(0, eq)] = value;
  }
  return out;
}

/** Drops undefined values so optional fields stay absent rather than null. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined && !(typeof value === 'object' && value !== null && Object.keys(value).length === 0 && !Array.isArray(value))));
}

type Opts = CommonOpts & Record<string, unknown>;

/** Kinds a person signs by hand; provenance is signed only by `chorus scan --attest` after it verified a signature. */
type HandKind = Exclude<PredicateKind, 'provenance'>;

/** Per-kind flags and how they become predicate fields. */
const KINDS: Record<HandKind, { summary: string; options: Option[]; fields: (opts: Opts) => Record<string, unknown> }> = {
  audit: {
    summary: 'publish the result of an evaluation or audit run',
    options: [
      new Option('--harness <name@version>', 'the evaluation harness').makeOptionMandatory(),
      new Option('--harness-digest <digest>', 'sha256 of the harness itself'),
      new Option('--verdict <verdict>', 'overall result').choices(['pass', 'warn', 'fail']).makeOptionMandatory(),
      new Option('--metric <key=number>', 'a measured metric (repeatable)').argParser(collect),
      new Option('--summary <text>', 'what was found, in a sentence or two'),
      new Option('--reproduce <command>', 'command that reproduces the run'),
      new Option('--dataset <name>', 'dataset the run used'),
      new Option('--uri <uri>', 'where the full report is'),
    ],
    fields: (opts) => defined({
      harness: defined({ ...nameVersion('--harness', opts['harness'] as string), digest: opts['harnessDigest'] ? { sha256: parseDigest(opts['harnessDigest'] as string) } : undefined }),
      verdict: opts['verdict'],
      metrics: metrics(opts['metric'] as string[] | undefined) ?? {},
      summary: opts['summary'],
      reproduce: defined({ command: opts['reproduce'], dataset: opts['dataset'], uri: opts['uri'] }),
    }),
  },
  dealignment: {
    summary: 'mark the subject as a known de-aligned variant of a base model',
    options: [
      new Option('--base <digest>', 'digest of the aligned base model').makeOptionMandatory(),
      new Option('--method <method>', 'how alignment was removed').choices(['lora', 'full-finetune', 'abliteration', 'steering', 'merge', 'prompt-injection', 'other']).makeOptionMandatory(),
      new Option('--evidence <text>', 'what shows it').makeOptionMandatory(),
      new Option('--evidence-uri <uri>', 'where the evidence is'),
    ],
    fields: (opts) => ({
      baseModel: { sha256: parseDigest(opts['base'] as string) },
      method: opts['method'],
      evidence: defined({ description: opts['evidence'], uri: opts['evidenceUri'] }),
    }),
  },
  license: {
    summary: 'publish a license finding',
    options: [
      new Option('--declared <spdx>', 'SPDX expression the publisher declares ("none" if none)').makeOptionMandatory(),
      new Option('--detected <spdx>', 'SPDX expression found in the artifact (repeatable)').argParser(collect),
      new Option('--verdict <verdict>', 'compliance').choices(['compliant', 'noncompliant', 'unknown']).makeOptionMandatory(),
      new Option('--notes <text>', 'notes'),
    ],
    fields: (opts) => defined({
      declared: opts['declared'] === 'none' ? null : opts['declared'],
      detected: (opts['detected'] as string[] | undefined) ?? [],
      verdict: opts['verdict'],
      notes: opts['notes'],
    }),
  },
  payload: {
    summary: 'publish a malicious or suspicious content finding (or a clean scan)',
    options: [
      new Option('--scanner <name@version>', 'the scanner').makeOptionMandatory(),
      new Option('--finding <kind>', 'what was found').choices(['malicious-code', 'pickle-exec', 'backdoor', 'suspicious', 'clean']).makeOptionMandatory(),
      new Option('--severity <level>', 'severity').choices(['info', 'low', 'medium', 'high', 'critical']).makeOptionMandatory(),
      new Option('--description <text>', 'what the finding is'),
      new Option('--summary <text>', 'the same as --description (as the other kinds call it)').conflicts('description'),
      new Option('--path <file>', 'file inside the model where it was found'),
    ],
    fields: (opts) => ({
      scanner: nameVersion('--scanner', opts['scanner'] as string),
      finding: defined({ kind: opts['finding'], description: (opts['description'] ?? opts['summary'] ?? '') as string, path: opts['path'] }),
      severity: opts['severity'],
    }),
  },
  lineage: {
    summary: 'record what the subject was derived from',
    options: [
      new Option('--from <digest>', 'digest of a parent model (repeatable)').argParser(collect).makeOptionMandatory(),
      new Option('--relation <relation>', 'how it was derived').choices(['quantized', 'fine-tuned', 'merged', 'converted', 'distilled', 'pruned']).makeOptionMandatory(),
      new Option('--notes <text>', 'notes'),
    ],
    fields: (opts) => defined({
      derivedFrom: (opts['from'] as string[]).map((digest) => ({ digest: { sha256: parseDigest(digest) }, relation: opts['relation'] })),
      notes: opts['notes'],
    }),
  },
  retraction: {
    summary: 'withdraw one of your own earlier attestations',
    options: [
      new Option('--target <id>', 'id of the attestation to withdraw (or a unique prefix of at least 8 hex)').makeOptionMandatory(),
      new Option('--reason <text>', 'why'),
    ],
    fields: (opts) => defined({ target: String(opts['target']).toLowerCase(), reason: opts['reason'] }),
  },
  endorsement: {
    summary: 'vouch for another issuer',
    options: [
      new Option('--endorsed <did>', "the issuer's did:key").makeOptionMandatory(),
      new Option('--scope <kinds>', 'comma-separated predicate kinds, or *').default('*'),
      new Option('--weight <number>', 'how much their word counts, 0..1').default('1'),
      new Option('--note <text>', 'note'),
    ],
    fields: (opts) => defined({
      endorsed: opts['endorsed'],
      scope: String(opts['scope']).split(',').map((part) => part.trim()).filter(Boolean),
      weight: Number(opts['weight']),
      note: opts['note'],
    }),
  },
  approval: {
    summary: 'approve a model for use (an allowlist entry for `chorus check` in allowlist mode)',
    options: [
      new Option('--name <name>', 'the name it is pinned as, e.g. llama3:8b').makeOptionMandatory(),
      new Option('--model-version <version>', 'the version it is pinned as'),
      new Option('--license <spdx>', 'the license it was approved under'),
      new Option('--note <text>', 'note'),
    ],
    fields: (opts) => defined({ name: opts['name'], version: opts['modelVersion'], license: opts['license'], note: opts['note'] }),
  },
};

async function predicateJson(arg: string | undefined): Promise<Record<string, unknown>> {
  if (arg === undefined) return {};
  let text = arg;
  if (arg.startsWith('@')) {
    try {
      text = await readFile(arg.slice(1), 'utf8');
    } catch (e) {
      throw new ChorusError('bad_input', `--predicate: cannot read ${arg.slice(1)}: ${(e as Error).message}`);
    }
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ChorusError('bad_input', `--predicate: expected a JSON object: ${(e as Error).message}`);
  }
}

export function attestCommand(cli: Cli): Command {
  const attest = new Command('attest').description('sign an attestation about a model with this node\'s key and store it');
  for (const kind of Object.keys(KINDS) as HandKind[]) {
    const def = KINDS[kind];
    const sub = attest
      .command(kind)
      .description(`${def.summary} (${PREDICATES[kind].type})`)
      .option('--subject <digest|path>', 'model digest (sha256:<hex>) or a model file/directory to hash (repeatable)', collect)
      .option('--predicate <json|@file>', 'extra predicate fields as JSON (flags win)')
      .option('--expires <when>', 'expiry: a duration (90d, 12h, 30m) or an RFC 3339 time')
      .option('--allow-symlinks', 'follow symbolic links when hashing a directory subject')
      .option('--dry-run', 'print the signed envelope and store nothing')
      .option('--json', 'print the result as JSON');
    // Required options are checked after commander's own checks, so a mistyped flag
    // (--verdikt) is reported as unknown, not as a missing --verdict.
    const required = def.options.filter((option) => option.mandatory);
    for (const option of required) option.mandatory = false;
    for (const option of def.options) sub.addOption(option);
    sub.action(action(async (opts: Opts) => {
      for (const option of required) {
        if (opts[option.attributeName()] === undefined) sub.error(`error: required option '${option.flags}' not specified`, { exitCode: 2, code: 'commander.missingMandatoryOptionValue' });
      }
      const identity = await loadIdentity(cli.home().key);
      const now = new Date();
      let subjects: Subject[] = [];
      for (const subject of opts.subject ?? []) subjects.push(await resolveSubject(subject, { allowSymlinks: opts.allowSymlinks ?? false }));
      const fields = { ...(await predicateJson(opts.predicate)), ...def.fields(opts) };
      return cli.withClient(async (client) => {
        if (kind === 'retraction' && (subjects.length === 0 || !/^[0-9a-f]{64}$/.test(String(fields['target'])))) {
          // A short id (as query and list print it) names the stored attestation it starts.
          const target = await client.get(String(fields['target']));
          if (!target) throw new ChorusError('bad_input', 'retraction: the target is not in the store; give its full id and --subject with its digest');
          fields['target'] = target.id;
          if (subjects.length === 0) subjects = (target.statement as unknown as Statement).subject.map((subject) => ({ name: subject.name, digest: { sha256: subject.digest.sha256 } }));
        }
        if (subjects.length === 0 && kind === 'endorsement') {
          const did = String(fields['endorsed']);
          subjects = [{ name: did, digest: { sha256: endorsementSubject(did) } }];
        }
        if (subjects.length === 0) throw new ChorusError('bad_input', '--subject is required: a model digest or a path to hash');
        const statement = buildStatement({
          kind,
          subjects,
          fields,
          issuer: identity.did,
          issuedAt: now,
          ...(opts.expires === undefined ? {} : { expiresAt: parseExpiry(opts.expires, now) }),
        });
        const envelope = signStatement(statement, identity.secretKey);
        if (opts.dryRun) {
          cli.json(envelope);
          return EXIT.ok;
        }
        const decision = await client.publish(envelope);
        if (opts.json) cli.json({ outcome: decision.outcome, code: decision.code, id: decision.id, ...(decision.outcome === 'accept' ? {} : { message: decision.message }), statement });
        else if (decision.outcome === 'accept') {
          cli.out(`stored ${kind} attestation ${decision.id}`);
          // Without a running node nothing went to the network yet: say so, and when it will.
          if (client.mode === 'local') cli.err('chorus: no node is running, so it was not gossiped yet: peers get it when the node runs (chorus start) and syncs with them');
        }
        else cli.err(`chorus: ${decision.outcome === 'ignore' ? 'ignored' : 'rejected'} (${decision.code}): ${decision.message ?? ''}`);
        return decision.outcome === 'accept' || decision.code === 'duplicate' ? EXIT.ok : EXIT.rejected;
      });
    }));
  }
  return attest;
}
