/**
 * Every limit the static inspectors enforce, in one place. A file that needs more than a limit
 * allows is not inspected further and gets a `limit` finding: inspection fails closed.
 */
const KiB = 1024;

/**
 * Bumped whenever an inspector judges some file differently (a new format, a new rule):
 * inspections cached by an earlier revision are done again.
 * 2: NumPy .npy and .npz, Keras archive configs, tar-format torch checkpoints.
 * 3: not-inspected as its own outcome; HDF5, SavedModel, chat templates, 7z, compressed
 *    streams; every concatenated pickle; bytes handed to torch's _load_from_bytes.
 */
export const INSPECTOR_REVISION = 3;
const MiB = 1024 * KiB;

export const INSPECT_LIMITS = {
  /** Bytes of a raw pickle read into memory; a longer one is inspected up to here. */
  pickleBytes: 64 * MiB,
  /** Opcodes walked in one pickle stream (all its pickles together). */
  pickleOpcodes: 20_000_000,
  /** Values on the simulated pickle stack, marks included. */
  pickleStack: 1_000_000,
  /** Entries remembered in the simulated pickle memo. */
  pickleMemo: 1_000_000,
  /** Longest string kept as a value (module and attribute names are short). */
  pickleString: 4 * KiB,
  /** Concatenated pickles walked in one stream (legacy torch.save writes five). */
  picklesPerStream: 8,
  /** Distinct imports recorded per pickle stream. */
  pickleImports: 10_000,

  /** Entries in one zip central directory. */
  zipEntries: 200_000,
  /** Bytes of a zip central directory. */
  zipDirectoryBytes: 64 * MiB,
  /** Uncompressed bytes of one archive member read for inspection (pickles, nested zips). */
  zipMemberBytes: 64 * MiB,
  /** Declared uncompressed / compressed size above which a member is a zip bomb. */
  zipRatio: 200,
  /** Members of one archive opened to look inside (storages and directories are never opened). */
  zipMembersOpened: 10_000,
  /** Uncompressed bytes of all the members of one archive (nested ones included) read and walked. */
  zipTotalBytes: 128 * MiB,
  /** Archives inside archives followed this deep (the file itself is depth 0). */
  zipDepth: 2,

  /** Bytes of a GGUF header (metadata and tensor infos) read into memory. */
  ggufHeaderBytes: 64 * MiB,
  /** Metadata key/value pairs in one GGUF header. */
  ggufKeys: 1_000_000,
  /** Tensor infos in one GGUF header. */
  ggufTensors: 1_000_000,
  /** Bytes of one GGUF string (key or value). */
  ggufString: 16 * MiB,
  /** Elements of one GGUF metadata array. */
  ggufArray: 16_000_000,
  /** Nesting of GGUF arrays of arrays. */
  ggufArrayDepth: 4,
  /** Dimensions of one GGUF tensor. */
  ggufDims: 8,

  /** Bytes of a safetensors JSON header (the format's own limit). */
  safetensorsHeaderBytes: 100_000_000,

  /** Nesting of ONNX messages (graphs inside attributes inside nodes…). */
  onnxDepth: 64,
  /** Protobuf fields walked in one ONNX file. */
  onnxFields: 50_000_000,
  /** Bytes of one ONNX string read (names, external-data keys and values). */
  onnxString: 64 * KiB,
  /** Window of file bytes the ONNX walker holds at once. */
  onnxWindow: 1 * MiB,

  /** Bytes of a NumPy .npy header (numpy's own default limit is 10,000). */
  npyHeaderBytes: 1 * MiB,

  /** Entries of a tar archive read. */
  tarEntries: 100_000,
  /** Storage or tensor records walked in one member of a tar-format torch checkpoint. */
  tarRecords: 200_000,

  /** Bytes of a Keras archive's config.json parsed (a parse holds about 50 times that). */
  kerasConfigBytes: 4 * MiB,
  /** Nesting of a Keras config walked (layers inside models inside layers…). */
  kerasConfigDepth: 256,

  /** Bytes of one chat template parsed (GGUF `tokenizer.chat_template`); a longer one is a limit. */
  chatTemplateBytes: 1 * MiB,
  /** AST nodes of one chat template walked. */
  chatTemplateNodes: 200_000,

  /** Bytes of an HDF5 file read to find its Keras config (the reader holds what it reads). */
  hdf5Bytes: 64 * MiB,
  /** Milliseconds the HDF5 library may run on one file (in a worker thread it is ended past this: a corrupt heap can make it spin). */
  hdf5TimeMs: 10_000,

  /** Bytes of a TensorFlow SavedModel protobuf walked. */
  savedModelBytes: 256 * MiB,

  /** Bytes a compressed stream or 7z archive is unpacked to for inspection, all members together. */
  compressedBytes: 64 * MiB,
  /** Bytes of a 7z archive or a bz2/xz/lzma stream read to unpack it (7-Zip holds them in memory). */
  sevenZipBytes: 128 * MiB,
  /** Members of a 7z archive listed. */
  sevenZipEntries: 10_000,
  /** Milliseconds 7-Zip (in a worker thread) may run on one file. */
  sevenZipTimeMs: 10_000,

  /** Bytes read to recognise a file's format. */
  sniffBytes: 64 * KiB,
} as const;

/** The limits as a type, so callers can override some of them. */
export type InspectLimits = { -readonly [K in keyof typeof INSPECT_LIMITS]: number };
