import type { ImportClass } from './types.js';

/** Modules whose every attribute is dangerous: they run programs, code, I/O or the network. */
const DANGEROUS_MODULES = [
  'os', 'posix', 'nt', 'subprocess', 'pty', 'commands', 'popen2', 'runpy', 'importlib', 'pkgutil',
  'pip', 'setuptools', 'distutils', 'socket', 'ssl', 'shutil', 'sys', 'webbrowser', 'ctypes', 'cffi',
  'multiprocessing', 'threading', '_thread', 'thread', 'signal', 'asyncio', 'code', 'codeop', 'pdb',
  'bdb', 'timeit', 'cProfile', 'profile', 'trace', 'marshal', 'pickle', '_pickle', 'cPickle', 'dill',
  'cloudpickle', 'joblib', 'shelve', 'urllib', 'urllib2', 'urllib3', 'requests', 'httpx', 'http',
  'httplib', 'ftplib', 'telnetlib', 'smtplib', 'poplib', 'imaplib', 'xmlrpc', 'socketserver', 'io',
  '_io', 'tempfile', 'fileinput', 'zipimport', 'types', 'inspect', 'gc', 'platform',
  'venv', 'ensurepip', 'site', 'sysconfig', 'linecache', 'operator',
  '_operator', 'torch.hub', 'torch.jit', 'torch.package', 'torch.utils.cpp_extension',
  'torch.distributed', 'torch._dynamo', 'torch._inductor', 'numpy.testing', 'numpy.distutils',
  'numpy.f2py', 'numpy.lib.npyio', 'keras', 'tensorflow', 'IPython', 'jinja2', 'yaml',
];

/** Single callables that are dangerous in otherwise harmless modules. */
const DANGEROUS_CALLABLES = new Set([
  'builtins.eval', 'builtins.exec', 'builtins.execfile', 'builtins.compile', 'builtins.getattr',
  'builtins.setattr', 'builtins.delattr', 'builtins.__import__', 'builtins.open', 'builtins.apply',
  'builtins.input', 'builtins.raw_input', 'builtins.breakpoint', 'builtins.globals', 'builtins.locals',
  'builtins.vars', 'builtins.file', 'builtins.reload', 'builtins.help', 'builtins.exit', 'builtins.quit',
  'torch.load', 'torch.serialization.load', 'torch.serialization._load', 'torch.save',
  'torch.serialization.save', 'numpy.load', 'numpy.save', 'numpy.fromfile', 'numpy.tofile',
  'numpy.loadtxt', 'numpy.savetxt', 'numpy.memmap', 'pandas.read_pickle', 'pandas.read_csv',
]);

/** Attribute names that walk from any object to builtins, a module, or code. */
const DANGEROUS_ATTRIBUTES = new Set([
  '__builtins__', '__globals__', '__import__', '__subclasses__', '__class__', '__bases__', '__base__',
  '__mro__', '__dict__', '__code__', '__closure__', '__loader__', '__spec__', '__getattribute__',
  '__reduce__', '__reduce_ex__', '__init__', '__new__', '__call__', '__func__', '__self__',
  '__module__', 'system', 'popen', 'spawn',
]);

const TORCH_NAMES = new RegExp(
  '^(?:(?:u?int(?:8|16|32|64)|float(?:16|32|64)|bfloat16|complex(?:32|64|128)|bool|half|float|double|long|int|short|' +
  'cfloat|cdouble|chalf|q(?:u?int(?:8|32)|uint[24]x[24])|float8_\\w+|bits\\w+|uint(?:1|2|3|4|5|6|7))|' +
  'strided|sparse_coo|sparse_csr|sparse_csc|sparse_bsr|sparse_bsc|_mkldnn|jagged|' +
  'contiguous_format|channels_last(?:_3d)?|preserve_format|per_tensor_affine|per_channel_affine(?:_float_qparams)?|' +
  'per_tensor_symmetric|per_channel_symmetric|Size|device|dtype|layout|memory_format|qscheme|Tensor|' +
  '\\w*Storage|_\\w*Storage|[A-Z]\\w*Tensor)$',
);

/** What real checkpoints import: tensor rebuilders, storages, containers, numpy arrays. */
const ALLOWED: Record<string, RegExp> = {
  torch: TORCH_NAMES,
  'torch._utils': /^_rebuild_\w+$/,
  // Legacy (tar-format) checkpoints name CUDA storage and tensor types.
  'torch.cuda': /^[A-Z]\w*(?:Storage|Tensor)$/,
  'torch._tensor': /^_rebuild_from_type(?:_v2)?$/,
  // Not _load_from_bytes: it runs torch.load(weights_only=False) on bytes the pickle carries.
  'torch.storage': /^(?:UntypedStorage|TypedStorage|_TypedStorage|_UntypedStorage)$/,
  'torch.serialization': /^_get_layout$/,
  'torch.nn.parameter': /^(?:Parameter|UninitializedParameter|Buffer)$/,
  'torch._C': /^_nn\.gelu$/,
  collections: /^(?:OrderedDict|defaultdict|Counter|deque)$/,
  builtins: /^(?:set|frozenset|bytearray|bytes|complex|slice|range|dict|list|tuple|int|float|bool|str|object|NoneType|Ellipsis|NotImplemented)$/,
  copyreg: /^_reconstructor$/,
  _codecs: /^encode$/,
  'numpy.core.multiarray': /^(?:_reconstruct|scalar)$/,
  'numpy._core.multiarray': /^(?:_reconstruct|scalar)$/,
  'numpy.core.numeric': /^_frombuffer$/,
  'numpy._core.numeric': /^_frombuffer$/,
  numpy: /^(?:ndarray|dtype|core\.multiarray\._reconstruct|u?int(?:8|16|32|64)|float(?:16|32|64|128)|complex(?:64|128|256)|bool_?|object_|str_|bytes_|void|half|single|double|longdouble|intc|uintc|intp|uintp|longlong|ulonglong)$/,
  'numpy.dtypes': /^\w+DType$/,
  'numpy.random': /^__RandomState_ctor$/,
  'numpy.random._pickle': /^(?:__randomstate_ctor|__bit_generator_ctor|__generator_ctor)$/,
  datetime: /^(?:datetime|date|time|timedelta|timezone)$/,
  decimal: /^Decimal$/,
  fractions: /^Fraction$/,
};

function normaliseModule(module: string): string {
  if (module === '__builtin__' || module === '__builtins__' || module === 'exceptions') return 'builtins';
  if (module === 'copy_reg') return 'copyreg';
  return module;
}

function isDangerousPath(parts: readonly string[]): boolean {
  const dotted = parts.join('.');
  if (DANGEROUS_CALLABLES.has(dotted)) return true;
  return DANGEROUS_MODULES.some((m) => dotted === m || dotted.startsWith(`${m}.`));
}

/**
 * Judges one import by its module and (possibly dotted) name. A dotted name is an attribute
 * walk (`torch` + `os.system` is `torch.os.system`), so every suffix of the walk is checked
 * against the dangerous lists, and any dunder on the way is dangerous.
 */
export function classifyImport(rawModule: string, name: string): ImportClass {
  const module = normaliseModule(rawModule);
  const nameParts = name.split('.');
  if (nameParts.some((p) => DANGEROUS_ATTRIBUTES.has(p))) return 'dangerous';
  const parts = [...module.split('.'), ...nameParts];
  const moduleParts = module.split('.').length;
  for (let i = 0; i < parts.length; i++) {
    // Only an attribute walk can start a new path mid-way; a module path is what it says.
    if (i > 0 && i < moduleParts) continue;
    if (isDangerousPath(parts.slice(i))) return 'dangerous';
  }
  if (module.split('.').includes('__builtins__')) return 'dangerous';
  const allowed = ALLOWED[module];
  if (allowed && allowed.test(name)) return 'allowed';
  return 'suspicious';
}
