import { z } from 'zod';
import { Severity } from '../../../src/statement/predicates.js';

/** What an inspector can find in a file. */
export const FINDING_KINDS = [
  'dangerous-import', // a pickle imports a callable that runs code, touches files, the network or the process
  'suspicious-import', // a pickle imports something neither dangerous nor on the allow-list
  'unresolved-import', // a pickle imports something no static walk can name (computed names, extension codes)
  'malformed', // the bytes break the format's rules (truncated, lying sizes, out-of-file offsets)
  'path-escape', // an external-data path leaves the model's directory
  'embedded-code', // code the loader runs, not as a pickle: a Keras Lambda layer's marshalled bytecode
  'zip-bomb', // an archive member that inflates far more than a model file does
  'limit', // inspection stopped at one of INSPECT_LIMITS: what follows was not inspected
  'unreadable', // the file could not be read as a regular file
  'not-inspected', // a format or part this scanner does not read: nothing is known of it (high when that format can carry code)
  'template-code', // a Jinja chat template reaching Python internals (__class__, __globals__…): a sandbox escape
  'dangerous-op', // a graph operation that runs code or touches files: TF PyFunc/ReadFile/WriteFile, an ONNX custom-op domain
  'signature-invalid', // a model signature (OpenSSF model signing) that does not verify, or a file that does not match it
] as const;

export const FindingSchema = z.object({
  kind: z.enum(FINDING_KINDS),
  severity: Severity,
  /** Where inside the file: an archive member (`archive/data.pkl`, `a.zip!inner/data.pkl`). */
  path: z.string().optional(),
  /** Byte offset of the finding inside `path` (or the file), when known. */
  offset: z.number().int().nonnegative().optional(),
  detail: z.string(),
});
/** One thing inspection found, with how much it matters. */
export type Finding = z.infer<typeof FindingSchema>;
export type FindingKind = Finding['kind'];
export type { Severity };

export const ImportClassSchema = z.enum(['dangerous', 'allowed', 'suspicious']);
/** How a pickle import is judged. */
export type ImportClass = z.infer<typeof ImportClassSchema>;

export const PickleImportSchema = z.object({
  module: z.string(),
  name: z.string(),
  class: ImportClassSchema,
  /** Opcode that imported it first: GLOBAL, INST or STACK_GLOBAL. */
  opcode: z.string(),
  /** Offset of its first import. */
  offset: z.number().int().nonnegative(),
  /** Times it was imported. */
  count: z.number().int().positive(),
  /** Opcodes that called or instantiated it (REDUCE, OBJ, NEWOBJ, NEWOBJ_EX, INST). */
  calledBy: z.array(z.string()),
});
/** One import a pickle makes, resolved statically. */
export type PickleImport = z.infer<typeof PickleImportSchema>;

export const PickleMetaSchema = z.object({
  /** Highest PROTO seen (0 when none). */
  protocol: z.number().int(),
  pickles: z.number().int(),
  opcodes: z.number().int(),
  bytes: z.number().int(),
  imports: z.array(PickleImportSchema),
  /** Persistent ids (PERSID/BINPERSID): PyTorch's storages. */
  persistentIds: z.number().int(),
});
export type PickleMeta = z.infer<typeof PickleMetaSchema>;

export const ArchiveMemberSchema = z.object({
  path: z.string(),
  /** What the member was inspected as. */
  format: z.enum(['pickle', 'zip', 'npy', 'keras-config']),
  meta: PickleMetaSchema.optional(),
});

export const ZipMetaSchema = z.object({
  entries: z.number().int(),
  /** Members holding a pickle: `data.pkl` and friends. */
  pickles: z.array(z.string()),
  /** Members inspected (pickles, nested archives), with what each import is. */
  members: z.array(ArchiveMemberSchema),
});
export type ZipMeta = z.infer<typeof ZipMetaSchema>;

export const TarMetaSchema = z.object({
  entries: z.number().int(),
  /** It has the storages, tensors and pickle members of the first torch.save format. */
  torch: z.boolean(),
  /** Members torch.load unpickles, with what each import is. */
  members: z.array(ArchiveMemberSchema),
});
export type TarMeta = z.infer<typeof TarMetaSchema>;

export const GgufMetaSchema = z.object({
  version: z.number().int(),
  littleEndian: z.boolean(),
  kvCount: z.number(),
  tensorCount: z.number(),
  architecture: z.string().optional(),
  name: z.string().optional(),
  license: z.string().optional(),
  /** `general.base_model.N.*` entries, by N. */
  baseModels: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))),
  hasChatTemplate: z.boolean(),
  alignment: z.number().int(),
  /** Scalar `general.*` entries (strings cut at 1 KiB). */
  general: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  /** Where the tensor data starts, and the last byte any tensor claims. */
  dataOffset: z.number().optional(),
  dataEnd: z.number().optional(),
});
export type GgufMeta = z.infer<typeof GgufMetaSchema>;

export const SafetensorsMetaSchema = z.object({
  headerBytes: z.number().int(),
  tensorCount: z.number().int(),
  dataBytes: z.number(),
  /** `__metadata__`, passed through (string to string). */
  metadata: z.record(z.string(), z.string()).optional(),
  dtypes: z.record(z.string(), z.number().int()),
});
export type SafetensorsMeta = z.infer<typeof SafetensorsMetaSchema>;

export const NpyMetaSchema = z.object({
  /** Format version, `major.minor`. */
  version: z.string(),
  /** The dtype as the header writes it (cut at 1 KiB), when the header is a plain array's. */
  descr: z.string().optional(),
  fortranOrder: z.boolean().optional(),
  shape: z.array(z.number().int().nonnegative()).optional(),
  /** The data is read as a pickle: an array of objects (np.load needs allow_pickle=True), or a header that is not a plain array's. */
  objectDtype: z.boolean(),
  dataOffset: z.number().int(),
  /** The walk of an object array's pickle. */
  pickle: PickleMetaSchema.optional(),
});
export type NpyMeta = z.infer<typeof NpyMetaSchema>;

export const OnnxMetaSchema = z.object({
  irVersion: z.number().optional(),
  producer: z.string().optional(),
  initializers: z.number().int(),
  /** External-data locations, as written in the file. */
  externalData: z.array(z.object({ tensor: z.string(), location: z.string() })),
});
export type OnnxMeta = z.infer<typeof OnnxMetaSchema>;

const Findings = z.array(FindingSchema);
const Empty = z.object({});

export const InspectionSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('gguf'), findings: Findings, meta: GgufMetaSchema.partial() }),
  z.object({ format: z.literal('safetensors'), findings: Findings, meta: SafetensorsMetaSchema.partial() }),
  z.object({ format: z.literal('pytorch-zip'), findings: Findings, meta: ZipMetaSchema }),
  z.object({ format: z.literal('zip'), findings: Findings, meta: ZipMetaSchema }),
  z.object({ format: z.literal('pickle'), findings: Findings, meta: PickleMetaSchema }),
  z.object({ format: z.literal('onnx'), findings: Findings, meta: OnnxMetaSchema }),
  z.object({ format: z.literal('npy'), findings: Findings, meta: NpyMetaSchema.partial() }),
  z.object({ format: z.literal('tar'), findings: Findings, meta: TarMetaSchema }),
  z.object({ format: z.literal('hdf5'), findings: Findings, meta: z.record(z.string(), z.unknown()) }),
  z.object({ format: z.literal('savedmodel'), findings: Findings, meta: z.record(z.string(), z.unknown()) }),
  z.object({ format: z.literal('7z'), findings: Findings, meta: z.record(z.string(), z.unknown()) }),
  z.object({ format: z.literal('compressed'), findings: Findings, meta: z.record(z.string(), z.unknown()) }),
  z.object({ format: z.literal('unknown'), findings: Findings, meta: Empty }),
]);
/** What static inspection learned about one file: its format, findings and format facts. */
export type Inspection = z.infer<typeof InspectionSchema>;
/** The formats inspection recognises by content. */
export type ModelFormat = Inspection['format'];
