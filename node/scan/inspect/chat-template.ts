import { parse, tokenize } from '@huggingface/jinja';
import { INSPECT_LIMITS, type InspectLimits } from './constants.js';
import type { Finding, Severity } from './types.js';

/**
 * Static judgement of a Jinja chat template (GGUF `tokenizer.chat_template`, a
 * tokenizer_config.json's `chat_template`): the template is parsed with @huggingface/jinja and
 * its syntax tree walked, never rendered.
 *
 * The threat is CVE-2024-34359: llama-cpp-python rendered the template a model file carries with
 * an unsandboxed jinja2 Environment, where `cycler.__init__.__globals__.os.popen(…)` runs a
 * command. Every escape goes through Python attribute names no chat template needs (`__class__`,
 * `__globals__`, `__subclasses__`…) or through the functions jinja2 hands every template
 * (`cycler`, `joiner`, `namespace`, `lipsum`, `self`…), so the walk flags:
 * - critical: a dunder or Python-internals name as a variable, an attribute (`.x`), a constant
 *   subscript (`['x']`), an `|attr('x')` or `|map(attribute='x')`-style argument; a string
 *   constant naming Python internals (`'{0.__class__}'`); such a name built from constant parts
 *   (`'__cla' ~ 'ss__'`, `['__cla','ss__']|join`, `'__CLASS__'|lower`, `'__ssalc__'[::-1]`, a
 *   `{% set %}` variable, a dict or namespace holding the parts); an attribute of a jinja2 global
 *   function itself (`cycler.x`, `lipsum[x]`; `namespace(…)` calls are fine);
 * - high: `|attr` (or an attribute-name filter argument) whose name is chosen at run time; a
 *   method called by a name chosen at run time (`x[a][b]()`); an attribute named by a token
 *   string the model file itself supplies (`x[eos_token]`); a call of `self`, `config`,
 *   `request`…; a template this parser cannot read (jinja2 may still render it) or one past
 *   the limits;
 * - medium: two attribute names chosen at run time in a row; `str.format` on a format string
 *   chosen at run time; a name built at run time from a piece that starts or ends with `__`;
 * - info: Python-internals names in the template's text or comments (printed, not run).
 */

type Limits = Pick<InspectLimits, 'chatTemplateBytes' | 'chatTemplateNodes'>;

/** An @huggingface/jinja AST node, by its `type` (the package exports the classes as types only). */
interface Node {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Python attribute names (not dunders) that lead to frames, code, globals or builtins. */
const INTERNAL_NAMES = new Set([
  'mro', 'func_globals', 'func_code', 'func_closure', 'func_defaults', 'func_dict',
  'f_globals', 'f_locals', 'f_builtins', 'f_back', 'f_code', 'gi_frame', 'gi_code',
  'cr_frame', 'cr_code', 'ag_frame', 'ag_code', 'tb_frame', 'tb_next', 'co_code',
  'im_func', 'im_self', 'im_class', '_module', '_TemplateReference__context',
]);
/** Python internals worth flagging wherever a string constant names them (`'{0.__class__}'.format`). */
const INTERNALS_IN_TEXT = /__(?:class|base|bases|mro|subclasses|globals|builtins|import|init|dict|code|closure|func|self|getattribute|reduce|reduce_ex|loader|spec|subclasshook)__|_TemplateReference__context|func_globals|f_globals|f_builtins|gi_frame/;
/** Functions jinja2 puts in every template's globals (and Flask's, where a template may be rendered). */
const JINJA_GLOBALS = new Set(['cycler', 'joiner', 'namespace', 'lipsum', 'range', 'dict', 'self', 'config', 'request', 'session', 'g', 'url_for', 'get_flashed_messages']);
/** Of those, the ones no chat template has a reason to call. */
const JINJA_GLOBALS_NEVER_CALLED = new Set(['self', 'config', 'request', 'session', 'g', 'url_for', 'get_flashed_messages']);
/** Variables a loader fills from the model file itself (its vocabulary): an attacker's strings. */
const TOKEN_VARIABLES = new Set(['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token', 'additional_special_tokens']);
/** Identifiers the parser keeps as words but that are operators: `in ()` is not a call of `in`. */
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'elif']);
/** Filters whose argument names an attribute to read (jinja2's make_attrgetter). */
const ATTRIBUTE_FILTERS = new Set(['map', 'selectattr', 'rejectattr', 'sort', 'groupby', 'sum', 'unique', 'min', 'max']);
/** Folded string values are kept up to this length (names are short); longer ones are unknown. */
const MAX_STRING = 256;
/** Possible values kept per expression. */
const MAX_VALUES = 16;
/** Passes over the tree to carry constants through `{% set %}` chains. */
const MAX_PASSES = 6;
/** Template-code findings reported one by one; the rest are counted. */
const MAX_FINDINGS = 32;
/** Longest whitespace run handed to the lexer (its preprocessing regex is quadratic in a run's length). */
const MAX_WHITESPACE_RUN = 64;

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

/** A Python special name (`__class__`), not a run of underscores. */
function isDunder(name: string): boolean {
  return name.length > 4 && name.startsWith('__') && name.endsWith('__') && /[A-Za-z0-9]/.test(name);
}
/** A name whose attribute is a way into Python internals. */
function isInternalName(name: string): boolean {
  return isDunder(name) || INTERNAL_NAMES.has(name) || /^_[A-Za-z][A-Za-z0-9]*__[A-Za-z0-9_]+$/.test(name);
}
const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/**
 * Judges a chat template without rendering it; see the file comment for what is flagged. Never
 * throws: a template the parser rejects is `not-inspected` (high), one longer than
 * `chatTemplateBytes` or with more than `chatTemplateNodes` syntax nodes is a `limit` (high).
 */
export function inspectChatTemplate(template: string, path?: string, lim: Limits = INSPECT_LIMITS): Finding[] {
  const at = path === undefined ? {} : { path };
  try {
    const bytes = Buffer.byteLength(template, 'utf8');
    if (bytes > lim.chatTemplateBytes) {
      return [
        { kind: 'limit', severity: 'high', ...at, detail: `chat template is ${bytes} bytes, more than the ${lim.chatTemplateBytes} inspected: it was not parsed` },
        ...mentions(template, at, 'the uninspected chat template'),
      ];
    }
    let program: Node;
    try {
      const tokens = tokenize(boundWhitespace(template), { lstrip_blocks: true, trim_blocks: true });
      rewriteEmptyTuples(tokens);
      program = parse(tokens) as unknown as Node;
    } catch (e) {
      const why = e instanceof RangeError ? 'it nests deeper than the parser follows' : String((e as Error)?.message ?? e).slice(0, 200);
      return [
        { kind: 'not-inspected', severity: 'high', ...at, detail: `chat template does not parse: ${why} (jinja2 may still render it)` },
        ...mentions(template, at, 'the unparsed chat template'),
      ];
    }
    return new Walk(lim, at).run(program);
  } catch (e) {
    return [{ kind: 'not-inspected', severity: 'high', ...at, detail: `chat template not inspected: ${String((e as Error)?.message ?? e).slice(0, 200)}` }];
  }
}

/** Python-internals names anywhere in text that was not parsed: high, since it may well be code. */
function mentions(template: string, at: { path?: string }, what: string): Finding[] {
  const names = new Set<string>();
  const re = new RegExp(INTERNALS_IN_TEXT.source, 'g');
  for (const m of template.matchAll(re)) {
    names.add(m[0]);
    if (names.size >= 8) break;
  }
  if (names.size === 0) return [];
  return [{ kind: 'template-code', severity: 'high', ...at, detail: `${what} names Python internals (${[...names].join(', ')}): the way out of a Jinja sandbox` }];
}

/** JavaScript's `\s`, which the lexer uses. */
function isSpace(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Cuts whitespace runs to MAX_WHITESPACE_RUN characters: code means the same, and lexing stays linear. */
function boundWhitespace(s: string): string {
  let run = 0;
  let long = false;
  for (let i = 0; i < s.length; i++) {
    run = isSpace(s.charCodeAt(i)) ? run + 1 : 0;
    if (run > MAX_WHITESPACE_RUN) { long = true; break; }
  }
  if (!long) return s;
  const out: string[] = [];
  let start = 0;
  run = 0;
  for (let i = 0; i < s.length; i++) {
    if (isSpace(s.charCodeAt(i))) {
      run++;
      if (run === MAX_WHITESPACE_RUN + 1) { out.push(s.slice(start, i)); }
      continue;
    }
    if (run > MAX_WHITESPACE_RUN) start = i;
    run = 0;
  }
  if (run <= MAX_WHITESPACE_RUN) out.push(s.slice(start));
  return out.join('');
}

type Token = ReturnType<typeof tokenize>[number];

/**
 * jinja2 reads `()` as the empty tuple, @huggingface/jinja rejects it, and sandbox escapes start
 * with `().__class__`: an empty pair of parentheses that is not a call becomes `[]`, an empty
 * container just the same for this walk.
 */
function rewriteEmptyTuples(tokens: Token[]): void {
  for (let i = 0; i + 1 < tokens.length; i++) {
    const open = tokens[i] as Token;
    const close = tokens[i + 1] as Token;
    if (open.type !== 'OpenParen' || close.type !== 'CloseParen') continue;
    const prev = tokens[i - 1];
    const callable = prev !== undefined && (
      (prev.type === 'Identifier' && !KEYWORDS.has(prev.value))
      || prev.type === 'CloseParen' || prev.type === 'CloseSquareBracket' || prev.type === 'CloseCurlyBracket'
      || prev.type === 'StringLiteral' || prev.type === 'NumericLiteral');
    if (callable) continue;
    open.type = 'OpenSquareBracket';
    open.value = '[';
    close.type = 'CloseSquareBracket';
    close.value = ']';
  }
}

// ---------------------------------------------------------------------------------------------
// AST access
// ---------------------------------------------------------------------------------------------

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}
const node = (n: Node, k: string): Node | undefined => (isNode(n[k]) ? (n[k] as Node) : undefined);
const nodes = (n: Node, k: string): Node[] => (Array.isArray(n[k]) ? (n[k] as unknown[]).filter(isNode) : []);
const str = (n: Node | undefined): string | undefined => (n !== undefined && typeof n.value === 'string' ? n.value : undefined);
const ident = (n: Node | undefined): string | undefined => (n?.type === 'Identifier' ? str(n) : undefined);
const operator = (n: Node): string => String((n.operator as { value?: unknown } | undefined)?.value ?? '');

/** Where a child sits: in a statement list (template text is a StringLiteral there) or in code. */
type Role = 'body' | 'code';

/** A node's children, each with its role; undefined for a node type the walker does not know. */
function childrenOf(n: Node): [Node, Role][] | undefined {
  const code = (...xs: (Node | undefined)[]): [Node, Role][] => xs.filter((x): x is Node => x !== undefined).map((x) => [x, 'code']);
  const body = (...lists: Node[][]): [Node, Role][] => lists.flat().map((x) => [x, 'body']);
  switch (n.type) {
    case 'Program': return body(nodes(n, 'body'));
    case 'If': return [...code(node(n, 'test')), ...body(nodes(n, 'body'), nodes(n, 'alternate'))];
    case 'For': return [...code(node(n, 'loopvar'), node(n, 'iterable')), ...body(nodes(n, 'body'), nodes(n, 'defaultBlock'))];
    // A set block's text is a value, not output.
    case 'Set': return code(node(n, 'assignee'), node(n, 'value'), ...nodes(n, 'body'));
    case 'Macro': return [...code(node(n, 'name'), ...nodes(n, 'args')), ...body(nodes(n, 'body'))];
    case 'CallStatement': return [...code(node(n, 'call'), ...nodes(n, 'callerArgs')), ...body(nodes(n, 'body'))];
    case 'FilterStatement': return [...code(node(n, 'filter')), ...body(nodes(n, 'body'))];
    case 'Break': case 'Continue': case 'Comment':
    case 'Identifier': case 'StringLiteral': case 'IntegerLiteral': case 'FloatLiteral':
      return [];
    case 'MemberExpression': return code(node(n, 'object'), node(n, 'property'));
    case 'CallExpression': return code(node(n, 'callee'), ...nodes(n, 'args'));
    case 'ArrayLiteral': case 'TupleLiteral': return code(...nodes(n, 'value'));
    case 'ObjectLiteral': return n.value instanceof Map ? code(...[...(n.value as Map<unknown, unknown>)].flat().filter(isNode)) : [];
    case 'BinaryExpression': return code(node(n, 'left'), node(n, 'right'));
    case 'FilterExpression': return code(node(n, 'operand'), node(n, 'filter'));
    case 'SelectExpression': return code(node(n, 'lhs'), node(n, 'test'));
    case 'TestExpression': return code(node(n, 'operand'), node(n, 'test'));
    case 'UnaryExpression': case 'SpreadExpression': case 'KeywordSpreadExpression': return code(node(n, 'argument'));
    case 'SliceExpression': return code(node(n, 'start'), node(n, 'stop'), node(n, 'step'));
    case 'KeywordArgumentExpression': return code(node(n, 'key'), node(n, 'value'));
    case 'Ternary': return code(node(n, 'condition'), node(n, 'trueExpr'), node(n, 'falseExpr'));
    default: return undefined;
  }
}

/** The call a filter node makes: `attr('x')` inside `attr('x')()` or `attr('x').y`. */
function filterCall(f: Node): { name: string; args: Node[] } | undefined {
  let cur: Node | undefined = f;
  for (let i = 0; cur !== undefined && i < 10_000; i++) {
    if (cur.type === 'Identifier') return { name: str(cur) ?? '', args: [] };
    if (cur.type === 'CallExpression') {
      const callee = node(cur, 'callee');
      const name = ident(callee);
      if (name !== undefined) return { name, args: nodes(cur, 'args') };
      cur = callee;
    } else if (cur.type === 'MemberExpression') cur = node(cur, 'object');
    else return undefined;
  }
  return undefined;
}
const positional = (args: Node[]): Node[] => args.filter((a) => a.type !== 'KeywordArgumentExpression');
const keyword = (args: Node[], name: string): Node | undefined => {
  const kw = args.find((a) => a.type === 'KeywordArgumentExpression' && ident(node(a, 'key')) === name);
  return kw === undefined ? undefined : node(kw, 'value');
};

// ---------------------------------------------------------------------------------------------
// Constant folding
// ---------------------------------------------------------------------------------------------

type Value = string | number;
/** What an expression may evaluate to: some constants, maybe something else, and whether a token string reaches it. */
interface Folded {
  readonly vals: readonly Value[];
  readonly unknown: boolean;
  readonly taint: boolean;
}
const UNKNOWN: Folded = { vals: [], unknown: true, taint: false };
const UNKNOWN_TAINTED: Folded = { vals: [], unknown: true, taint: true };
const unknownOf = (taint: boolean): Folded => (taint ? UNKNOWN_TAINTED : UNKNOWN);
/** Not computed yet: the fixed point starts here, so a `{% set x = x ~ … %}` cycle keeps its constants. */
const PENDING: Folded = { vals: [], unknown: false, taint: false };
const PENDING_TAINTED: Folded = { vals: [], unknown: false, taint: true };
const pendingOf = (taint: boolean): Folded => (taint ? PENDING_TAINTED : PENDING);
const known = (vals: Value[], taint = false): Folded => ({ vals, unknown: false, taint });
const pending = (f: Folded): boolean => !f.unknown && f.vals.length === 0;

/** What a name may hold, from the places the template binds it. */
type Binding =
  | { readonly expr: Node }
  | { readonly elementOf: Node }
  | { readonly text: string }
  | { readonly unknown: true };

/** Python's str.format/`%` of constants, or undefined when the spec is beyond `%s %d %i %c %%`. */
function percentFormat(fmt: string, args: Value[]): string | undefined {
  let out = '';
  let k = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i] as string;
    if (c !== '%') { out += c; continue; }
    const spec = fmt[++i];
    if (spec === '%') { out += '%'; continue; }
    const a = args[k++];
    if (a === undefined) return undefined;
    if (spec === 's') out += String(a);
    else if ((spec === 'd' || spec === 'i') && typeof a === 'number') out += String(Math.trunc(a));
    else if (spec === 'c') out += typeof a === 'number' ? String.fromCodePoint(a) : a;
    else return undefined;
  }
  return k === args.length ? out : undefined;
}

/** Python's `'{}'.format(…)` with positional fields only. */
function braceFormat(fmt: string, args: Value[]): string | undefined {
  let next = 0;
  let failed = false;
  const out = fmt.replace(/\{\{|\}\}|\{(\d*)\}|\{[^}]*\}/g, (m, idx: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    if (idx === undefined) { failed = true; return ''; }
    const a = args[idx === '' ? next++ : Number(idx)];
    if (a === undefined) failed = true;
    return String(a ?? '');
  });
  return failed ? undefined : out;
}

/** Python's slice of a string. */
function pySlice(s: string, start: number | undefined, stop: number | undefined, step: number | undefined): string | undefined {
  const st = step ?? 1;
  if (st === 0 || !Number.isInteger(st)) return undefined;
  const len = s.length;
  const norm = (v: number | undefined, dflt: number, lo: number, hi: number): number => {
    if (v === undefined) return dflt;
    const x = v < 0 ? v + len : v;
    return Math.min(Math.max(x, lo), hi);
  };
  let out = '';
  if (st > 0) {
    const a = norm(start, 0, 0, len);
    const b = norm(stop, len, 0, len);
    for (let i = a; i < b; i += st) out += s[i];
  } else {
    const a = norm(start, len - 1, -1, len - 1);
    const b = norm(stop, -1, -1, len - 1);
    for (let i = a; i > b; i += st) out += s[i];
  }
  return out;
}

/** Every combination of one value from each list, through `f`, capped. */
function product(lists: readonly (readonly Value[])[], f: (xs: Value[]) => Value | undefined): Value[] | undefined {
  let acc: Value[][] = [[]];
  for (const l of lists) {
    const next: Value[][] = [];
    for (const a of acc) for (const v of l) { if (next.length < MAX_VALUES) next.push([...a, v]); }
    acc = next;
  }
  const out: Value[] = [];
  for (const xs of acc) {
    const v = f(xs);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

/** A place where a run-time value picks an attribute name. */
interface Sink {
  readonly kind: 'key' | 'attr' | 'attribute-arg' | 'format';
  readonly at: Node;
  /** The filter or method that takes it, for the finding's wording. */
  readonly via: string;
}

class Walk {
  private readonly findings: Finding[] = [];
  private readonly seen = new Set<string>();
  /** Every node walked, in pre-order (parents before children). */
  private readonly order: Node[] = [];
  private readonly parent = new Map<Node, Node>();
  /** Each walked node's children (phase 2 reads them on every pass). */
  private readonly kids = new Map<Node, Node[]>();
  private readonly bindings = new Map<string, Binding[]>();
  private readonly sinks: Sink[] = [];
  /** Constant strings a sink reports more precisely than the generic string check. */
  private readonly sinkLiterals = new Set<Node>();
  private readonly globalUses: { name: string; call: boolean }[] = [];
  private readonly dynamicCalls: Node[] = [];
  private readonly identCalls: { name: string; at: Node }[] = [];
  private readonly memo = new Map<Node, Folded>();
  /** Values of names (`x`, `ns.k`) in the current pass. */
  private readonly names = new Map<string, Folded>();
  private readonly numericMemo = new Map<Node, boolean>();

  constructor(private readonly lim: Limits, private readonly at: { path?: string }) {}

  run(program: Node): Finding[] {
    this.collect(program);
    this.fold();
    this.judge();
    // The most severe first; template-code findings past MAX_FINDINGS are only counted.
    const sorted = [...this.findings].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
    const out: Finding[] = [];
    let code = 0;
    let more = 0;
    for (const f of sorted) {
      if (f.kind === 'template-code' && ++code > MAX_FINDINGS) more++;
      else out.push(f);
    }
    if (more > 0) out.push({ kind: 'template-code', severity: 'info', ...this.at, detail: `${more} more findings in the chat template not listed` });
    return out;
  }

  private flag(severity: Severity, detail: string, kind: Finding['kind'] = 'template-code'): void {
    const key = `${severity}\0${detail}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.findings.push({ kind, severity, ...this.at, detail });
  }

  private bind(name: string, b: Binding): void {
    const list = this.bindings.get(name);
    if (list === undefined) this.bindings.set(name, [b]);
    else if (list.length < 64) list.push(b);
    else list[63] = { unknown: true };
  }

  /** Binds the names an assignment target introduces to what is assigned. */
  private bindTarget(target: Node | undefined, value: Binding): void {
    if (target === undefined) return;
    const name = ident(target);
    if (name !== undefined) { this.bind(name, value); return; }
    if (target.type === 'TupleLiteral' || target.type === 'ArrayLiteral') {
      const targets = nodes(target, 'value');
      const vals = 'expr' in value && (value.expr.type === 'TupleLiteral' || value.expr.type === 'ArrayLiteral') ? nodes(value.expr, 'value') : undefined;
      targets.forEach((t, i) => this.bindTarget(t, vals?.[i] !== undefined && vals.length === targets.length ? { expr: vals[i] as Node } : { unknown: true }));
      return;
    }
    if (target.type === 'MemberExpression') {
      // {% set ns.key = … %}
      const obj = ident(node(target, 'object'));
      const prop = target.computed === true ? str(node(target, 'property')) : ident(node(target, 'property'));
      if (obj !== undefined && prop !== undefined) this.bind(`${obj}.${prop}`, value);
    }
  }

  /** Phase 1: walk the tree iteratively, flag names, record bindings and sinks. */
  private collect(program: Node): void {
    const stack: [Node, Role][] = [[program, 'body']];
    let unknownTypes = 0;
    while (stack.length > 0) {
      const [n, role] = stack.pop() as [Node, Role];
      if (this.order.length >= this.lim.chatTemplateNodes) {
        this.flag('high', `chat template has more than ${this.lim.chatTemplateNodes} syntax nodes: the rest was not inspected and could reach Python internals`, 'limit');
        return;
      }
      this.order.push(n);
      const kids = childrenOf(n);
      if (kids === undefined) {
        if (++unknownTypes <= 3) this.flag('high', `chat template holds a ${n.type} node this inspector does not know: it was not inspected`, 'not-inspected');
        continue;
      }
      this.visit(n, role);
      this.kids.set(n, kids.map(([k]) => k));
      for (let i = kids.length - 1; i >= 0; i--) {
        const [k, r] = kids[i] as [Node, Role];
        this.parent.set(k, n);
        stack.push([k, r]);
      }
    }
  }

  private visit(n: Node, role: Role): void {
    switch (n.type) {
      case 'Identifier': {
        const name = str(n) ?? '';
        if (isInternalName(name)) {
          const p = this.parent.get(n);
          const asAttr = p?.type === 'MemberExpression' && p.computed !== true && node(p, 'property') === n;
          this.flag('critical', asAttr
            ? `attribute .${name} reaches Python internals: a Jinja sandbox escape (CVE-2024-34359)`
            : `name ${name} reaches Python internals: a Jinja sandbox escape (CVE-2024-34359)`);
        }
        return;
      }
      case 'StringLiteral': {
        const s = str(n) ?? '';
        const m = INTERNALS_IN_TEXT.exec(s);
        if (m === null) return;
        if (role === 'body') this.flag('info', `chat template text mentions ${m[0]} (printed, not run)`);
        else if (!this.sinkLiterals.has(n)) this.flag('critical', `string ${quote(s)} names Python internals (${m[0]}): a Jinja sandbox escape`);
        return;
      }
      case 'Comment': {
        const m = INTERNALS_IN_TEXT.exec(str(n) ?? '');
        if (m !== null) this.flag('info', `chat template comment mentions ${m[0]}`);
        return;
      }
      case 'MemberExpression': {
        const object = node(n, 'object');
        const property = node(n, 'property');
        const g = ident(object);
        if (g !== undefined && JINJA_GLOBALS.has(g)) this.globalUses.push({ name: g, call: false });
        if (n.computed === true && property !== undefined && property.type !== 'SliceExpression') {
          this.sinks.push({ kind: 'key', at: property, via: 'subscript' });
          if (property.type === 'StringLiteral') this.sinkLiterals.add(property);
        }
        return;
      }
      case 'CallExpression': {
        const callee = node(n, 'callee');
        const name = ident(callee);
        if (name !== undefined) {
          if (JINJA_GLOBALS_NEVER_CALLED.has(name)) this.globalUses.push({ name, call: true });
          this.identCalls.push({ name, at: n });
        } else if (callee?.type === 'MemberExpression') {
          const method = callee.computed === true ? undefined : ident(node(callee, 'property'));
          if (callee.computed === true && node(callee, 'property')?.type !== 'SliceExpression') this.dynamicCalls.push(callee);
          const receiver = node(callee, 'object');
          if ((method === 'format' || method === 'format_map') && receiver !== undefined) this.sinks.push({ kind: 'format', at: receiver, via: `.${method}()` });
        }
        return;
      }
      case 'FilterExpression':
      case 'FilterStatement': {
        const filter = node(n, 'filter');
        const call = filter === undefined ? undefined : filterCall(filter);
        if (call !== undefined) this.filterSinks(call.name, call.args);
        return;
      }
      case 'Set': {
        const value = node(n, 'value');
        const body = nodes(n, 'body');
        const assignee = node(n, 'assignee');
        if (value !== undefined) {
          this.bindTarget(assignee, { expr: value });
          // {% set ns = namespace(k='…') %}: ns.k
          const name = ident(assignee);
          if (name !== undefined && value.type === 'CallExpression' && ident(node(value, 'callee')) === 'namespace') {
            for (const a of nodes(value, 'args')) {
              const k = ident(node(a, 'key'));
              const v = node(a, 'value');
              if (a.type === 'KeywordArgumentExpression' && k !== undefined && v !== undefined) this.bind(`${name}.${k}`, { expr: v });
            }
          }
        } else {
          this.bindTarget(assignee, body.every((b) => b.type === 'StringLiteral') ? { text: body.map((b) => str(b) ?? '').join('') } : { unknown: true });
        }
        return;
      }
      case 'For': {
        const loopvar = node(n, 'loopvar');
        const iterable = node(n, 'iterable');
        if (loopvar?.type === 'Identifier' && iterable !== undefined) this.bindTarget(loopvar, { elementOf: iterable });
        else if (loopvar !== undefined) for (const t of [loopvar, ...nodes(loopvar, 'value')]) if (t.type === 'Identifier') this.bindTarget(t, { unknown: true });
        return;
      }
      case 'Macro':
      case 'CallStatement': {
        const name = ident(node(n, 'name'));
        if (name !== undefined) this.bind(name, { unknown: true });
        for (const a of [...nodes(n, 'args'), ...nodes(n, 'callerArgs')]) {
          if (a.type === 'Identifier') this.bindTarget(a, { unknown: true });
          else if (a.type === 'KeywordArgumentExpression') {
            const v = node(a, 'value');
            this.bindTarget(node(a, 'key'), { unknown: true });
            if (v !== undefined) this.bindTarget(node(a, 'key'), { expr: v });
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /** `|attr(x)`, `|map(attribute=x)`, `|selectattr(x, …)`…: an attribute named by an argument. */
  private filterSinks(name: string, args: Node[]): void {
    const pos = positional(args);
    const add = (kind: Sink['kind'], a: Node | undefined): void => {
      if (a === undefined) return;
      this.sinks.push({ kind, at: a, via: `|${name}` });
      if (a.type === 'StringLiteral') this.sinkLiterals.add(a);
    };
    if (name === 'attr') { add('attr', pos[0]); return; }
    if (!ATTRIBUTE_FILTERS.has(name)) return;
    add('attribute-arg', keyword(args, 'attribute'));
    if (name === 'selectattr' || name === 'rejectattr' || name === 'groupby') add('attribute-arg', pos[0]);
    if (name === 'sort') add('attribute-arg', pos[2]);
    if (name === 'map' && str(pos[0]) === 'attr') add('attr', pos[1]);
  }

  // -------------------------------------------------------------------------------------------
  // Phase 2: constants, carried bottom-up, then through bindings until nothing changes
  // -------------------------------------------------------------------------------------------

  private fold(): void {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      let changed = false;
      this.names.clear();
      for (let i = this.order.length - 1; i >= 0; i--) {
        const n = this.order[i] as Node;
        const before = this.memo.get(n);
        const after = this.evaluate(n);
        this.memo.set(n, after);
        if (before === undefined || before.unknown !== after.unknown || before.taint !== after.taint || before.vals.length !== after.vals.length) changed = true;
      }
      if (!changed) break;
    }
    // Whatever is still pending after the last pass is not known.
    for (const [n, f] of this.memo) if (pending(f)) this.memo.set(n, unknownOf(f.taint));
    this.names.clear();
  }

  private get(n: Node | undefined): Folded {
    return n === undefined ? UNKNOWN : (this.memo.get(n) ?? PENDING);
  }

  /** Values of a name, from its bindings as folded so far (once per pass). */
  private nameValue(name: string): Folded {
    let f = this.names.get(name);
    if (f === undefined) {
      f = this.computeNameValue(name);
      this.names.set(name, f);
    }
    return f;
  }

  private computeNameValue(name: string): Folded {
    const taintSource = TOKEN_VARIABLES.has(name);
    const bs = this.bindings.get(name);
    if (bs === undefined) return { vals: [], unknown: true, taint: taintSource };
    const vals: Value[] = [];
    let unknown = false;
    let taint = taintSource;
    for (const b of bs) {
      let f: Folded;
      if ('expr' in b) f = this.get(b.expr);
      else if ('text' in b) f = b.text.length <= MAX_STRING ? known([b.text]) : UNKNOWN;
      else if ('elementOf' in b) {
        const elems = this.listOf(b.elementOf);
        f = elems === undefined ? unknownOf(this.get(b.elementOf).taint) : this.union(elems);
      } else f = UNKNOWN;
      unknown ||= f.unknown;
      taint ||= f.taint;
      for (const v of f.vals) if (vals.length < MAX_VALUES && !vals.includes(v)) vals.push(v);
    }
    return { vals, unknown, taint };
  }

  private union(fs: readonly Folded[]): Folded {
    const vals: Value[] = [];
    let unknown = false;
    let taint = false;
    for (const f of fs) {
      unknown ||= f.unknown;
      taint ||= f.taint;
      for (const v of f.vals) if (vals.length < MAX_VALUES && !vals.includes(v)) vals.push(v);
    }
    return { vals, unknown, taint };
  }

  /** A string value, or unknown when too long to keep (checked for internals first). */
  private keep(vals: Value[] | undefined, taint: boolean): Folded {
    if (vals === undefined || vals.length === 0) return unknownOf(taint);
    for (const v of vals) {
      if (typeof v === 'string' && v.length > MAX_STRING) {
        const m = INTERNALS_IN_TEXT.exec(v);
        if (m !== null) this.flag('critical', `an expression builds a string naming Python internals (${m[0]}) from constant parts: a Jinja sandbox escape`);
        return unknownOf(taint);
      }
    }
    return known(vals, taint);
  }

  /** The elements of a list-like expression, when known. */
  private listOf(n: Node, depth = 0): Folded[] | undefined {
    if (depth > 8) return undefined;
    switch (n.type) {
      case 'ArrayLiteral':
      case 'TupleLiteral':
        return nodes(n, 'value').map((e) => this.get(e));
      case 'Identifier': {
        const bs = this.bindings.get(str(n) ?? '');
        if (bs?.length !== 1) return undefined;
        const b = bs[0] as Binding;
        return 'expr' in b ? this.listOf(b.expr, depth + 1) : undefined;
      }
      case 'FilterExpression': {
        const call = filterCall(node(n, 'filter') ?? n);
        const operand = node(n, 'operand');
        if (call === undefined || operand === undefined) return undefined;
        if (call.name === 'reverse') return this.listOf(operand, depth + 1)?.slice().reverse();
        if (call.name === 'list') {
          const inner = this.listOf(operand, depth + 1);
          if (inner !== undefined) return inner;
          const f = this.get(operand);
          const s = f.vals[0];
          return !f.unknown && f.vals.length === 1 && typeof s === 'string' ? [...s].map((c) => known([c], f.taint)) : undefined;
        }
        return undefined;
      }
      case 'CallExpression': {
        const callee = node(n, 'callee');
        if (callee?.type !== 'MemberExpression' || callee.computed === true || ident(node(callee, 'property')) !== 'split') return undefined;
        const recv = this.get(node(callee, 'object'));
        const args = nodes(n, 'args').map((a) => this.get(a));
        const s = recv.vals[0];
        const sep = args[0]?.vals[0];
        if (recv.unknown || recv.vals.length !== 1 || typeof s !== 'string' || args.some((a) => a.unknown) || (sep !== undefined && typeof sep !== 'string')) return undefined;
        const parts = sep === undefined ? s.split(/\s+/).filter((p) => p !== '') : s.split(sep);
        return parts.map((p) => known([p], recv.taint));
      }
      default:
        return undefined;
    }
  }

  /** Containers an expression may be: list, tuple and dict literals, namespace(…) calls (at most 16, through 8 names). */
  private containersOf(n: Node | undefined): Node[] {
    const out: Node[] = [];
    const seen = new Set<string>();
    const todo: Node[] = n === undefined ? [] : [n];
    while (todo.length > 0 && out.length < 16) {
      const x = todo.pop() as Node;
      if (x.type === 'ArrayLiteral' || x.type === 'TupleLiteral' || x.type === 'ObjectLiteral') out.push(x);
      else if (x.type === 'CallExpression' && ident(node(x, 'callee')) === 'namespace') out.push(x);
      const name = ident(x);
      if (name === undefined || seen.has(name) || seen.size >= 8) continue;
      seen.add(name);
      for (const b of this.bindings.get(name) ?? []) if ('expr' in b) todo.push(b.expr);
    }
    return out;
  }

  private evaluate(n: Node): Folded {
    let taint = false;
    for (const k of this.kids.get(n) ?? []) taint ||= this.get(k).taint;
    switch (n.type) {
      case 'StringLiteral': {
        const s = str(n) ?? '';
        return s.length <= MAX_STRING ? known([s]) : UNKNOWN;
      }
      case 'IntegerLiteral':
      case 'FloatLiteral':
        return typeof n.value === 'number' ? known([n.value]) : UNKNOWN;
      case 'Identifier': {
        const p = this.parent.get(n);
        // An attribute's name or a keyword argument's key is not a variable.
        if (p?.type === 'MemberExpression' && p.computed !== true && node(p, 'property') === n) return UNKNOWN;
        if (p?.type === 'KeywordArgumentExpression' && node(p, 'key') === n) return UNKNOWN;
        return this.nameValue(str(n) ?? '');
      }
      case 'UnaryExpression': {
        const a = this.get(node(n, 'argument'));
        if (pending(a)) return pendingOf(taint);
        if (operator(n) === '-' && !a.unknown && a.vals.every((v) => typeof v === 'number')) return known(a.vals.map((v) => -v), taint);
        if (operator(n) === '+' && !a.unknown && a.vals.every((v) => typeof v === 'number')) return known([...a.vals], taint);
        return unknownOf(taint);
      }
      case 'Ternary':
        return this.union([this.get(node(n, 'trueExpr')), this.get(node(n, 'falseExpr'))]);
      case 'BinaryExpression':
        return this.binary(n, taint);
      case 'FilterExpression':
        return this.filter(n, taint);
      case 'CallExpression':
        return this.method(n, taint);
      case 'MemberExpression':
        return this.member(n, taint);
      default:
        return unknownOf(taint);
    }
  }

  private binary(n: Node, taint: boolean): Folded {
    const op = operator(n);
    const l = this.get(node(n, 'left'));
    const r = this.get(node(n, 'right'));
    if (op === 'or' || op === 'and') return this.union([l, r]);
    if (op === '%') {
      const right = node(n, 'right');
      const args = right?.type === 'TupleLiteral' || right?.type === 'ArrayLiteral' ? nodes(right, 'value').map((e) => this.get(e)) : [r];
      if (l.unknown || args.some((a) => a.unknown)) return unknownOf(taint);
      if (pending(l) || args.some(pending)) return pendingOf(taint);
      return this.keep(product([l.vals, ...args.map((a) => a.vals)], ([fmt, ...xs]) => (typeof fmt === 'string' ? percentFormat(fmt, xs) : undefined)), taint);
    }
    if (l.unknown || r.unknown) return unknownOf(taint);
    if (pending(l) || pending(r)) return pendingOf(taint);
    const pair = (f: (a: Value, b: Value) => Value | undefined): Folded => this.keep(product([l.vals, r.vals], ([a, b]) => f(a as Value, b as Value)), taint);
    switch (op) {
      case '~':
        return pair((a, b) => `${a}${b}`);
      case '+':
        return pair((a, b) => (typeof a === 'string' && typeof b === 'string' ? a + b : typeof a === 'number' && typeof b === 'number' ? a + b : undefined));
      case '*':
        return pair((a, b) => {
          if (typeof a === 'number' && typeof b === 'number') return a * b;
          const [s, k] = typeof a === 'string' ? [a, b] : [b, a];
          if (typeof s !== 'string' || typeof k !== 'number' || !Number.isInteger(k)) return undefined;
          return k <= 0 ? '' : s.length * k > MAX_STRING * 2 ? s.repeat(Math.ceil((MAX_STRING * 2) / Math.max(s.length, 1))) : s.repeat(k);
        });
      case '-':
        return pair((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : undefined));
      default:
        return unknownOf(taint);
    }
  }

  private filter(n: Node, taint: boolean): Folded {
    const operand = node(n, 'operand');
    const call = filterCall(node(n, 'filter') ?? n);
    if (operand === undefined || call === undefined) return unknownOf(taint);
    const o = this.get(operand);
    const args = positional(call.args).map((a) => this.get(a));
    if (args.some((a) => a.unknown)) return unknownOf(taint);
    if (pending(o) || args.some(pending)) return pendingOf(taint);
    const strings = (f: (s: string) => string | undefined): Folded =>
      o.unknown || !o.vals.every((v) => typeof v === 'string') ? unknownOf(taint) : this.keep(product([o.vals], ([s]) => f(s as string)), taint);
    switch (call.name) {
      case 'lower': return strings((s) => s.toLowerCase());
      case 'upper': return strings((s) => s.toUpperCase());
      case 'trim': return strings((s) => s.trim());
      case 'string': return o.unknown ? unknownOf(taint) : this.keep(o.vals.map(String), taint);
      case 'capitalize': return strings((s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase());
      case 'replace': {
        const [a, b] = args;
        if (a === undefined || b === undefined) return unknownOf(taint);
        return this.keep(product([o.vals, a.vals, b.vals], ([s, x, y]) => (typeof s === 'string' && typeof x === 'string' && typeof y === 'string' ? s.split(x).join(y) : undefined)), taint);
      }
      case 'format':
        return o.unknown ? unknownOf(taint) : this.keep(product([o.vals, ...args.map((a) => a.vals)], ([fmt, ...xs]) => (typeof fmt === 'string' ? percentFormat(fmt, xs) : undefined)), taint);
      case 'reverse': {
        if (!o.unknown && o.vals.every((v) => typeof v === 'string')) return strings((s) => [...s].reverse().join(''));
        return unknownOf(taint);
      }
      case 'join': {
        const sep = args[0] ?? known(['']);
        const items = this.listOf(operand);
        if (items !== undefined) {
          if (items.some((i) => i.unknown)) return unknownOf(taint);
          if (items.some(pending)) return pendingOf(taint);
          return this.keep(product([sep.vals, ...items.map((i) => i.vals)], ([s, ...xs]) => xs.map(String).join(String(s))), taint);
        }
        return strings((s) => [...s].join(String(sep.vals[0] ?? '')));
      }
      case 'first':
      case 'last': {
        const items = this.listOf(operand);
        if (items !== undefined) {
          const it = call.name === 'first' ? items[0] : items[items.length - 1];
          return it === undefined ? unknownOf(taint) : { ...it, taint: it.taint || taint };
        }
        return strings((s) => (call.name === 'first' ? s.slice(0, 1) : s.slice(-1)));
      }
      default:
        return unknownOf(taint);
    }
  }

  /** String methods on constants: `'__CLASS__'.lower()`, `'_'.join([…])`, `'{}'.format(…)`. */
  private method(n: Node, taint: boolean): Folded {
    const callee = node(n, 'callee');
    if (callee?.type !== 'MemberExpression' || callee.computed === true) return unknownOf(taint);
    const name = ident(node(callee, 'property'));
    const recv = this.get(node(callee, 'object'));
    const argNodes = nodes(n, 'args');
    if (pending(recv)) return pendingOf(taint);
    if (recv.unknown || !recv.vals.every((v) => typeof v === 'string')) return unknownOf(taint);
    if (name === 'join') {
      const items = argNodes[0] === undefined ? undefined : this.listOf(argNodes[0]);
      if (items === undefined || items.some((i) => i.unknown)) return unknownOf(taint);
      if (items.some(pending)) return pendingOf(taint);
      return this.keep(product([recv.vals, ...items.map((i) => i.vals)], ([s, ...xs]) => xs.map(String).join(String(s))), taint);
    }
    const args = argNodes.map((a) => this.get(a));
    if (args.some((a) => a.unknown) || argNodes.some((a) => a.type === 'KeywordArgumentExpression')) return unknownOf(taint);
    if (args.some(pending)) return pendingOf(taint);
    const each = (f: (s: string, xs: Value[]) => string | undefined): Folded =>
      this.keep(product([recv.vals, ...args.map((a) => a.vals)], ([s, ...xs]) => f(s as string, xs)), taint);
    switch (name) {
      case 'lower': return each((s) => s.toLowerCase());
      case 'upper': return each((s) => s.toUpperCase());
      case 'swapcase': return each((s) => [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''));
      case 'strip': return each((s, [c]) => (c === undefined ? s.trim() : undefined));
      case 'lstrip': return each((s, [c]) => (c === undefined ? s.trimStart() : undefined));
      case 'rstrip': return each((s, [c]) => (c === undefined ? s.trimEnd() : undefined));
      case 'replace': return each((s, [a, b]) => (typeof a === 'string' && typeof b === 'string' ? s.split(a).join(b) : undefined));
      case 'format': return each((s, xs) => braceFormat(s, xs));
      default: return unknownOf(taint);
    }
  }

  /** `'…'[i]`, `'…'[a:b:c]`, `[…][i]`, `{…}['k']`, `d.k`, `ns.k`. */
  private member(n: Node, taint: boolean): Folded {
    const object = node(n, 'object');
    const property = node(n, 'property');
    if (object === undefined || property === undefined) return unknownOf(taint);
    const o = this.get(object);
    if (property.type === 'SliceExpression') {
      const parts = ['start', 'stop', 'step'].map((k) => node(property, k));
      const pf = parts.map((p) => (p === undefined ? undefined : this.get(p)));
      if (pending(o) || pf.some((p) => p !== undefined && pending(p))) return pendingOf(taint);
      if (o.unknown || pf.some((p) => p !== undefined && (p.unknown || p.vals.length !== 1 || typeof p.vals[0] !== 'number'))) return unknownOf(taint);
      const [a, b, c] = pf.map((p) => p?.vals[0] as number | undefined);
      return this.keep(o.vals.map((s) => (typeof s === 'string' ? pySlice(s, a, b, c) : undefined)).filter((s): s is string => s !== undefined), taint);
    }
    const keys: Folded = n.computed === true ? this.get(property) : known([ident(property) ?? (property.value as Value)]);
    if (keys.unknown) return unknownOf(taint);
    if (pending(keys)) return pendingOf(taint);
    const found: Folded[] = [];
    let missing = false;
    for (const key of keys.vals) {
      let hit = false;
      if (!o.unknown && typeof key === 'number') {
        for (const s of o.vals) if (typeof s === 'string') { const c = key < 0 ? s.at(key) : s[key]; if (c !== undefined) { found.push(known([c], o.taint)); hit = true; } }
      }
      if (typeof key === 'number') {
        const e = this.listOf(object)?.at(key);
        if (e !== undefined) { found.push(e); hit = true; }
      }
      for (const c of this.containersOf(object)) {
        if ((c.type === 'ArrayLiteral' || c.type === 'TupleLiteral') && typeof key === 'number') {
          const e = nodes(c, 'value').at(key);
          if (e !== undefined) { found.push(this.get(e)); hit = true; }
        } else if (c.type === 'ObjectLiteral' && c.value instanceof Map) {
          for (const [k, v] of c.value as Map<unknown, unknown>) {
            if (isNode(k) && isNode(v) && this.get(k).vals.includes(key)) { found.push(this.get(v)); hit = true; }
          }
        } else if (c.type === 'CallExpression') {
          for (const a of nodes(c, 'args')) {
            const v = node(a, 'value');
            if (a.type === 'KeywordArgumentExpression' && ident(node(a, 'key')) === key && v !== undefined) { found.push(this.get(v)); hit = true; }
          }
        }
      }
      const name = ident(object);
      if (name !== undefined && typeof key === 'string' && this.bindings.has(`${name}.${key}`)) { found.push(this.nameValue(`${name}.${key}`)); hit = true; }
      missing ||= !hit;
    }
    const u = this.union(found);
    return { vals: u.vals, unknown: u.unknown || missing, taint: taint || u.taint };
  }

  // -------------------------------------------------------------------------------------------
  // Phase 3: judge the sinks with what folding learned
  // -------------------------------------------------------------------------------------------

  private shadowed(name: string): boolean {
    return this.bindings.has(name);
  }

  /** A subscript key that is a number in any template that means it (`loop.index0 - 1`, `i`…). */
  private numeric(n: Node | undefined, depth = 0): boolean {
    if (n === undefined || depth > 32) return false;
    const cached = this.numericMemo.get(n);
    if (cached !== undefined) return cached;
    const f = this.get(n);
    let r = false;
    if (!f.unknown && f.vals.length > 0) r = f.vals.every((v) => typeof v === 'number');
    else if (n.type === 'IntegerLiteral' || n.type === 'FloatLiteral' || n.type === 'UnaryExpression') r = true;
    else if (n.type === 'BinaryExpression') r = ['-', '*', '/', '//', '%', '**', '+'].includes(operator(n)) && (this.numeric(node(n, 'left'), depth + 1) || this.numeric(node(n, 'right'), depth + 1));
    else if (n.type === 'MemberExpression') r = ident(node(n, 'object')) === 'loop';
    else if (n.type === 'FilterExpression') r = ['length', 'int', 'count', 'abs', 'round'].includes(filterCall(node(n, 'filter') ?? n)?.name ?? '');
    this.numericMemo.set(n, r);
    return r;
  }

  private judge(): void {
    for (const s of this.sinks) this.judgeSink(s);

    for (const callee of this.dynamicCalls) {
      const key = node(callee, 'property');
      if (key !== undefined && this.get(key).unknown && !this.numeric(key)) {
        this.flag('high', 'a method is called by a name chosen at run time (x[name]()): how sandbox escapes reach functions without naming them');
      }
    }
    for (const { name } of this.identCalls) {
      for (const b of this.bindings.get(name) ?? []) {
        if ('expr' in b && b.expr.type === 'MemberExpression' && b.expr.computed === true) {
          const key = node(b.expr, 'property');
          if (key !== undefined && key.type !== 'SliceExpression' && this.get(key).unknown && !this.numeric(key)) {
            this.flag('high', `${name}() calls an attribute whose name is chosen at run time: how sandbox escapes reach functions without naming them`);
          }
        }
      }
    }
    for (const { name, call } of this.globalUses) {
      if (this.shadowed(name)) continue;
      if (call) this.flag('high', `calls the jinja2/Flask global ${name}(): no chat template needs it`);
      else this.flag('critical', `reads an attribute of the jinja2 global ${name} itself: the first step of CVE-2024-34359 payloads (cycler.__init__.__globals__.os…)`);
    }

    // Names built at run time from a piece that looks like half a dunder.
    for (const n of this.order) {
      if (n.type !== 'BinaryExpression' || !['~', '+'].includes(operator(n)) || !this.get(n).unknown) continue;
      const pieces = [this.get(node(n, 'left')), this.get(node(n, 'right'))].flatMap((f) => f.vals);
      const half = pieces.find((v) => typeof v === 'string' && v.length >= 2 && (v.startsWith('__') || v.endsWith('__')) && v !== '__');
      if (half !== undefined) this.flag('medium', `a name is built at run time from ${quote(String(half))}: a way to spell a dunder without writing it`);
    }

    // Constants built from parts (checked where each chain of string operations ends).
    for (const n of this.order) {
      if (!['BinaryExpression', 'FilterExpression', 'CallExpression', 'MemberExpression'].includes(n.type)) continue;
      const p = this.parent.get(n);
      if (p !== undefined && ['BinaryExpression', 'FilterExpression', 'CallExpression', 'MemberExpression'].includes(p.type)) continue;
      for (const v of this.get(n).vals) {
        const m = typeof v === 'string' ? INTERNALS_IN_TEXT.exec(v) : null;
        if (m === null) continue;
        this.flag('critical', `an expression builds a string naming Python internals (${m[0]}) from constant parts: a Jinja sandbox escape`);
        break;
      }
    }
  }

  private judgeSink(s: Sink): void {
    const f = this.get(s.at);
    const names = f.vals.filter((v): v is string => typeof v === 'string');
    const bad = (name: string): boolean => (s.kind === 'attribute-arg' ? name.split('.').some(isInternalName) : isInternalName(name)) || (s.kind === 'format' && INTERNALS_IN_TEXT.test(name));
    const hit = names.find(bad);
    const where = s.kind === 'key' ? 'subscript' : s.kind === 'format' ? `format string of ${s.via}` : `argument of ${s.via}`;
    if (hit !== undefined) {
      this.flag('critical', `${where} ${quote(hit)} reaches Python internals: a Jinja sandbox escape (CVE-2024-34359)`);
      return;
    }
    if (f.taint) {
      this.flag('high', `${where} is built from a token string the model file supplies (bos_token, eos_token…): the file can name any attribute`);
      return;
    }
    if (!f.unknown) return;
    if (s.kind === 'attr' || s.kind === 'attribute-arg') {
      if (this.numeric(s.at)) return;
      this.flag('high', `${where} names an attribute chosen at run time: it can reach Python internals`);
    } else if (s.kind === 'format') {
      this.flag('medium', `${s.via} on a format string chosen at run time: format fields read attributes ({0.__class__})`);
    } else if (s.kind === 'key' && !this.numeric(s.at)) {
      // x[a][b] with both names unknown: two attribute steps nobody wrote down.
      const object = this.parent.get(s.at);
      const inner = object === undefined ? undefined : node(object, 'object');
      const innerKey = inner?.type === 'MemberExpression' && inner.computed === true ? node(inner, 'property') : undefined;
      if (innerKey !== undefined && innerKey.type !== 'SliceExpression' && this.get(innerKey).unknown && !this.numeric(innerKey)) {
        this.flag('medium', 'two attributes in a row are named at run time (x[a][b]): the shape of an escape whose names come from outside');
      }
    }
  }
}
