import { z } from 'zod';
import { Envelope, Statement } from '../../src/statement/statement.js';
import { PREDICATES, PREDICATE_KINDS } from '../../src/statement/predicates.js';

const ID_BASE = 'https://chorus.dev/schemas/';

/**
 * The JSON Schemas of the wire format, generated from the zod schemas the code validates
 * with. File name -> schema. `protocol/schemas/` holds their output; a test fails on drift.
 */
export function buildSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const add = (name: string, title: string, schema: z.ZodType): void => {
    out[`${name}.schema.json`] = { $id: `${ID_BASE}${name}.schema.json`, title, ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) };
  };
  add('envelope', 'Chorus DSSE envelope (v1)', Envelope);
  add('statement', 'Chorus in-toto Statement v1 (predicate header only)', Statement);
  for (const kind of PREDICATE_KINDS) add(`predicate-${kind}`, `Chorus ${kind} predicate: ${PREDICATES[kind].type}`, PREDICATES[kind].schema);
  return out;
}
