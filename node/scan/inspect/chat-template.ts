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
const quote = (text: string): string => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);

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
  for (const match of template.matchAll(re)) {
    names.add(match[0]);
    if (names.size >= 8) break;
  }
  if (names.size === 0) return [];
  return [{ kind: 'template-code', severity: 'high', ...at, detail: `${what} names Python internals (${[...names].join(', ')}): the way out of a Jinja sandbox` }];
}

/** JavaScript's `\s`, which the lexer uses. */
function isSpace(charCode: number): boolean {
  if (charCode < 128) return charCode === 32 || (charCode >= 9 && charCode <= 13);
  return charCode === 0xa0 || charCode === 0x1680 || (charCode >= 0x2000 && charCode <= 0x200a) || charCode === 0x2028 || charCode === 0x2029 || charCode === 0x202f || charCode === 0x205f || charCode === 0x3000 || charCode === 0xfeff;
}

/** Cuts whitespace runs to MAX_WHITESPACE_RUN characters: code means the same, and lexing stays linear. */
function boundWhitespace(text: string): string {
  let run = 0;
  let long = false;
  for (let i = 0; i < text.length; i++) {
    run = isSpace(text.charCodeAt(i)) ? run + 1 : 0;
    if (run > MAX_WHITESPACE_RUN) { long = true; break; }
  }
  if (!long) return text;
  const out: string[] = [];
  let start = 0;
  run = 0;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) {
      run++;
      if (run === MAX_WHITESPACE_RUN + 1) { out.push(text.slice(start, i)); }
      continue;
    }
    if (run > MAX_WHITESPACE_RUN) start = i;
    run = 0;
  }
  if (run <= MAX_WHITESPACE_RUN) out.push(text.slice(start));
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

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
const node = (ast: Node, key: string): Node | undefined => (isNode(ast[key]) ? (ast[key] as Node) : undefined);
const nodes = (ast: Node, key: string): Node[] => (Array.isArray(ast[key]) ? (ast[key] as unknown[]).filter(isNode) : []);
const str = (ast: Node | undefined): string | undefined => (ast !== undefined && typeof ast.value === 'string' ? ast.value : undefined);
const ident = (ast: Node | undefined): string | undefined => (ast?.type === 'Identifier' ? str(ast) : undefined);
const operator = (ast: Node): string => String((ast.operator as { value?: unknown } | undefined)?.value ?? '');

/** Where a child sits: in a statement list (template text is a StringLiteral there) or in code. */
type Role = 'body' | 'code';

/** A node's children, each with its role; undefined for a node type the walker does not know. */
function childrenOf(ast: Node): [Node, Role][] | undefined {
  const code = (...xs: (Node | undefined)[]): [Node, Role][] => xs.filter((child): child is Node => child !== undefined).map((child) => [child, 'code']);
  const body = (...lists: Node[][]): [Node, Role][] => lists.flat().map((child) => [child, 'body']);
  switch (ast.type) {
    case 'Program': return body(nodes(ast, 'body'));
    case 'If': return [...code(node(ast, 'test')), ...body(nodes(ast, 'body'), nodes(ast, 'alternate'))];
    case 'For': return [...code(node(ast, 'loopvar'), node(ast, 'iterable')), ...body(nodes(ast, 'body'), nodes(ast, 'defaultBlock'))];
    // A set block's text is a value, not output.
    case 'Set': return code(node(ast, 'assignee'), node(ast, 'value'), ...nodes(ast, 'body'));
    case 'Macro': return [...code(node(ast, 'name'), ...nodes(ast, 'args')), ...body(nodes(ast, 'body'))];
    case 'CallStatement': return [...code(node(ast, 'call'), ...nodes(ast, 'callerArgs')), ...body(nodes(ast, 'body'))];
    case 'FilterStatement': return [...code(node(ast, 'filter')), ...body(nodes(ast, 'body'))];
    case 'Break': case 'Continue': case 'Comment':
    case 'Identifier': case 'StringLiteral': case 'IntegerLiteral': case 'FloatLiteral':
      return [];
    case 'MemberExpression': return code(node(ast, 'object'), node(ast, 'property'));
    case 'CallExpression': return code(node(ast, 'callee'), ...nodes(ast, 'args'));
    case 'ArrayLiteral': case 'TupleLiteral': return code(...nodes(ast, 'value'));
    case 'ObjectLiteral': return ast.value instanceof Map ? code(...[...(ast.value as Map<unknown, unknown>)].flat().filter(isNode)) : [];
    case 'BinaryExpression': return code(node(ast, 'left'), node(ast, 'right'));
    case 'FilterExpression': return code(node(ast, 'operand'), node(ast, 'filter'));
    case 'SelectExpression': return code(node(ast, 'lhs'), node(ast, 'test'));
    case 'TestExpression': return code(node(ast, 'operand'), node(ast, 'test'));
    case 'UnaryExpression': case 'SpreadExpression': case 'KeywordSpreadExpression': return code(node(ast, 'argument'));
    case 'SliceExpression': return code(node(ast, 'start'), node(ast, 'stop'), node(ast, 'step'));
    case 'KeywordArgumentExpression': return code(node(ast, 'key'), node(ast, 'value'));
    case 'Ternary': return code(node(ast, 'condition'), node(ast, 'trueExpr'), node(ast, 'falseExpr'));
    default: return undefined;
  }
}

/** The call a filter node makes: `attr('x')` inside `attr('x')()` or `attr('x').y`. */
function filterCall(expr: Node): { name: string; args: Node[] } | undefined {
  let cur: Node | undefined = expr;
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
const positional = (args: Node[]): Node[] => args.filter((arg) => arg.type !== 'KeywordArgumentExpression');
const keyword = (args: Node[], name: string): Node | undefined => {
  const kw = args.find((arg) => arg.type === 'KeywordArgumentExpression' && ident(node(arg, 'key')) === name);
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
const pending = (folded: Folded): boolean => !folded.unknown && folded.vals.length === 0;

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
    const char = fmt[i] as string;
    if (char !== '%') { out += char; continue; }
    const spec = fmt[++i];
    if (spec === '%') { out += '%'; continue; }
    const arg = args[k++];
    if (arg === undefined) return undefined;
    if (spec === 's') out += String(arg);
    else if ((spec === 'd' || spec === 'i') && typeof arg === 'number') out += String(Math.trunc(arg));
    else if (spec === 'c') out += typeof arg === 'number' ? String.fromCodePoint(arg) : arg;
    else return undefined;
  }
  return k === args.length ? out : undefined;
}

/** Python's `'{}'.format(…)` with positional fields only. */
function braceFormat(fmt: string, args: Value[]): string | undefined {
  let next = 0;
  let failed = false;
  const out = fmt.replace(/\{\{|\}\}|\{(\d*)\}|\{[^}]*\}/g, (token, idx: string | undefined) => {
    if (token === '{{') return '{';
    if (token === '}}') return '}';
    if (idx === undefined) { failed = true; return ''; }
    const arg = args[idx === '' ? next++ : Number(idx)];
    if (arg === undefined) failed = true;
    return String(arg ?? '');
  });
  return failed ? undefined : out;
}

/** Python's slice of a string. */
function pySlice(text: string, start: number | undefined, stop: number | undefined, step: number | undefined): string | undefined {
  const st = step ?? 1;
  if (st === 0 || !Number.isInteger(st)) return undefined;
  const len = text.length;
  const norm = (index: number | undefined, dflt: number, lo: number, hi: number): number => {
    if (index === undefined) return dflt;
    const resolved = index < 0 ? index + len : index;
    return Math.min(Math.max(resolved, lo), hi);
  };
  let out = '';
  if (st > 0) {
    const from = norm(start, 0, 0, len);
    const to = norm(stop, len, 0, len);
    for (let i = from; i < to; i += st) out += text[i];
  } else {
    const from = norm(start, len - 1, -1, len - 1);
    const to = norm(stop, -1, -1, len - 1);
    for (let i = from; i > to; i += st) out += text[i];
  }
  return out;
}

/** Every combination of one value from each list, through `f`, capped. */
function product(lists: readonly (readonly Value[])[], combine: (xs: Value[]) => Value | undefined): Value[] | undefined {
  let acc: Value[][] = [[]];
  for (const list of lists) {
    const next: Value[][] = [];
    for (const prefix of acc) for (const value of list) { if (next.length < MAX_VALUES) next.push([...prefix, value]); }
    acc = next;
  }
  const out: Value[] = [];
  for (const xs of acc) {
    const result = combine(xs);
    if (result === undefined) return undefined;
    out.push(result);
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
    for (const finding of sorted) {
      if (finding.kind === 'template-code' && ++code > MAX_FINDINGS) more++;
      else out.push(finding);
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

  private bind(name: string, binding: Binding): void {
    const list = this.bindings.get(name);
    if (list === undefined) this.bindings.set(name, [binding]);
    else if (list.length < 64) list.push(binding);
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
      targets.forEach((each, i) => this.bindTarget(each, vals?.[i] !== undefined && vals.length === targets.length ? { expr: vals[i] as Node } : { unknown: true }));
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
      const [ast, role] = stack.pop() as [Node, Role];
      if (this.order.length >= this.lim.chatTemplateNodes) {
        this.flag('high', `chat template has more than ${this.lim.chatTemplateNodes} syntax nodes: the rest was not inspected and could reach Python internals`, 'limit');
        return;
      }
      this.order.push(ast);
      const kids = childrenOf(ast);
      if (kids === undefined) {
        if (++unknownTypes <= 3) this.flag('high', `chat template holds a ${ast.type} node this inspector does not know: it was not inspected`, 'not-inspected');
        continue;
      }
      this.visit(ast, role);
      this.kids.set(ast, kids.map(([child]) => child));
      for (let i = kids.length - 1; i >= 0; i--) {
        const [child, childRole] = kids[i] as [Node, Role];
        this.parent.set(child, ast);
        stack.push([child, childRole]);
      }
    }
  }

  private visit(ast: Node, role: Role): void {
    switch (ast.type) {
      case 'Identifier': {
        const name = str(ast) ?? '';
        if (isInternalName(name)) {
          const parent = this.parent.get(ast);
          const asAttr = parent?.type === 'MemberExpression' && parent.computed !== true && node(parent, 'property') === ast;
          this.flag('critical', asAttr
            ? `attribute .${name} reaches Python internals: a Jinja sandbox escape (CVE-2024-34359)`
            : `name ${name} reaches Python internals: a Jinja sandbox escape (CVE-2024-34359)`);
        }
        return;
      }
      case 'StringLiteral': {
        const text = str(ast) ?? '';
        const match = INTERNALS_IN_TEXT.exec(text);
        if (match === null) return;
        if (role === 'body') this.flag('info', `chat template text mentions ${match[0]} (printed, not run)`);
        else if (!this.sinkLiterals.has(ast)) this.flag('critical', `string ${quote(text)} names Python internals (${match[0]}): a Jinja sandbox escape`);
        return;
      }
      case 'Comment': {
        const match = INTERNALS_IN_TEXT.exec(str(ast) ?? '');
        if (match !== null) this.flag('info', `chat template comment mentions ${match[0]}`);
        return;
      }
      case 'MemberExpression': {
        const object = node(ast, 'object');
        const property = node(ast, 'property');
        const objectName = ident(object);
        if (objectName !== undefined && JINJA_GLOBALS.has(objectName)) this.globalUses.push({ name: objectName, call: false });
        if (ast.computed === true && property !== undefined && property.type !== 'SliceExpression') {
          this.sinks.push({ kind: 'key', at: property, via: 'subscript' });
          if (property.type === 'StringLiteral') this.sinkLiterals.add(property);
        }
        return;
      }
      case 'CallExpression': {
        const callee = node(ast, 'callee');
        const name = ident(callee);
        if (name !== undefined) {
          if (JINJA_GLOBALS_NEVER_CALLED.has(name)) this.globalUses.push({ name, call: true });
          this.identCalls.push({ name, at: ast });
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
        const filter = node(ast, 'filter');
        const call = filter === undefined ? undefined : filterCall(filter);
        if (call !== undefined) this.filterSinks(call.name, call.args);
        return;
      }
      case 'Set': {
        const value = node(ast, 'value');
        const body = nodes(ast, 'body');
        const assignee = node(ast, 'assignee');
        if (value !== undefined) {
          this.bindTarget(assignee, { expr: value });
          // {% set ns = namespace(k='…') %}: ns.k
          const name = ident(assignee);
          if (name !== undefined && value.type === 'CallExpression' && ident(node(value, 'callee')) === 'namespace') {
            for (const arg of nodes(value, 'args')) {
              const key = ident(node(arg, 'key'));
              const argValue = node(arg, 'value');
              if (arg.type === 'KeywordArgumentExpression' && key !== undefined && argValue !== undefined) this.bind(`${name}.${key}`, { expr: argValue });
            }
          }
        } else {
          this.bindTarget(assignee, body.every((piece) => piece.type === 'StringLiteral') ? { text: body.map((piece) => str(piece) ?? '').join('') } : { unknown: true });
        }
        return;
      }
      case 'For': {
        const loopvar = node(ast, 'loopvar');
        const iterable = node(ast, 'iterable');
        if (loopvar?.type === 'Identifier' && iterable !== undefined) this.bindTarget(loopvar, { elementOf: iterable });
        else if (loopvar !== undefined) for (const target of [loopvar, ...nodes(loopvar, 'value')]) if (target.type === 'Identifier') this.bindTarget(target, { unknown: true });
        return;
      }
      case 'Macro':
      case 'CallStatement': {
        const name = ident(node(ast, 'name'));
        if (name !== undefined) this.bind(name, { unknown: true });
        for (const arg of [...nodes(ast, 'args'), ...nodes(ast, 'callerArgs')]) {
          if (arg.type === 'Identifier') this.bindTarget(arg, { unknown: true });
          else if (arg.type === 'KeywordArgumentExpression') {
            const value = node(arg, 'value');
            this.bindTarget(node(arg, 'key'), { unknown: true });
            if (value !== undefined) this.bindTarget(node(arg, 'key'), { expr: value });
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
    const add = (kind: Sink['kind'], arg: Node | undefined): void => {
      if (arg === undefined) return;
      this.sinks.push({ kind, at: arg, via: `|${name}` });
      if (arg.type === 'StringLiteral') this.sinkLiterals.add(arg);
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
        const ast = this.order[i] as Node;
        const before = this.memo.get(ast);
        const after = this.evaluate(ast);
        this.memo.set(ast, after);
        if (before === undefined || before.unknown !== after.unknown || before.taint !== after.taint || before.vals.length !== after.vals.length) changed = true;
      }
      if (!changed) break;
    }
    // Whatever is still pending after the last pass is not known.
    for (const [ast, folded] of this.memo) if (pending(folded)) this.memo.set(ast, unknownOf(folded.taint));
    this.names.clear();
  }

  private get(ast: Node | undefined): Folded {
    return ast === undefined ? UNKNOWN : (this.memo.get(ast) ?? PENDING);
  }

  /** Values of a name, from its bindings as folded so far (once per pass). */
  private nameValue(name: string): Folded {
    let folded = this.names.get(name);
    if (folded === undefined) {
      folded = this.computeNameValue(name);
      this.names.set(name, folded);
    }
    return folded;
  }

  private computeNameValue(name: string): Folded {
    const taintSource = TOKEN_VARIABLES.has(name);
    const bs = this.bindings.get(name);
    if (bs === undefined) return { vals: [], unknown: true, taint: taintSource };
    const vals: Value[] = [];
    let unknown = false;
    let taint = taintSource;
    for (const binding of bs) {
      let folded: Folded;
      if ('expr' in binding) folded = this.get(binding.expr);
      else if ('text' in binding) folded = binding.text.length <= MAX_STRING ? known([binding.text]) : UNKNOWN;
      else if ('elementOf' in binding) {
        const elems = this.listOf(binding.elementOf);
        folded = elems === undefined ? unknownOf(this.get(binding.elementOf).taint) : this.union(elems);
      } else folded = UNKNOWN;
      unknown ||= folded.unknown;
      taint ||= folded.taint;
      for (const value of folded.vals) if (vals.length < MAX_VALUES && !vals.includes(value)) vals.push(value);
    }
    return { vals, unknown, taint };
  }

  private union(fs: readonly Folded[]): Folded {
    const vals: Value[] = [];
    let unknown = false;
    let taint = false;
    for (const folded of fs) {
      unknown ||= folded.unknown;
      taint ||= folded.taint;
      for (const value of folded.vals) if (vals.length < MAX_VALUES && !vals.includes(value)) vals.push(value);
    }
    return { vals, unknown, taint };
  }

  /** A string value, or unknown when too long to keep (checked for internals first). */
  private keep(vals: Value[] | undefined, taint: boolean): Folded {
    if (vals === undefined || vals.length === 0) return unknownOf(taint);
    for (const value of vals) {
      if (typeof value === 'string' && value.length > MAX_STRING) {
        const match = INTERNALS_IN_TEXT.exec(value);
        if (match !== null) this.flag('critical', `an expression builds a string naming Python internals (${match[0]}) from constant parts: a Jinja sandbox escape`);
        return unknownOf(taint);
      }
    }
    return known(vals, taint);
  }

  /** The elements of a list-like expression, when known. */
  private listOf(ast: Node, depth = 0): Folded[] | undefined {
    if (depth > 8) return undefined;
    switch (ast.type) {
      case 'ArrayLiteral':
      case 'TupleLiteral':
        return nodes(ast, 'value').map((element) => this.get(element));
      case 'Identifier': {
        const bs = this.bindings.get(str(ast) ?? '');
        if (bs?.length !== 1) return undefined;
        const binding = bs[0] as Binding;
        return 'expr' in binding ? this.listOf(binding.expr, depth + 1) : undefined;
      }
      case 'FilterExpression': {
        const call = filterCall(node(ast, 'filter') ?? ast);
        const operand = node(ast, 'operand');
        if (call === undefined || operand === undefined) return undefined;
        if (call.name === 'reverse') return this.listOf(operand, depth + 1)?.slice().reverse();
        if (call.name === 'list') {
          const inner = this.listOf(operand, depth + 1);
          if (inner !== undefined) return inner;
          const folded = this.get(operand);
          const single = folded.vals[0];
          return !folded.unknown && folded.vals.length === 1 && typeof single === 'string' ? [...single].map((char) => known([char], folded.taint)) : undefined;
        }
        return undefined;
      }
      case 'CallExpression': {
        const callee = node(ast, 'callee');
        if (callee?.type !== 'MemberExpression' || callee.computed === true || ident(node(callee, 'property')) !== 'split') return undefined;
        const recv = this.get(node(callee, 'object'));
        const args = nodes(ast, 'args').map((arg) => this.get(arg));
        const single = recv.vals[0];
        const sep = args[0]?.vals[0];
        if (recv.unknown || recv.vals.length !== 1 || typeof single !== 'string' || args.some((arg) => arg.unknown) || (sep !== undefined && typeof sep !== 'string')) return undefined;
        const parts = sep === undefined ? single.split(/\s+/).filter((part) => part !== '') : single.split(sep);
        return parts.map((part) => known([part], recv.taint));
      }
      default:
        return undefined;
    }
  }

  /** Containers an expression may be: list, tuple and dict literals, namespace(…) calls (at most 16, through 8 names). */
  private containersOf(ast: Node | undefined): Node[] {
    const out: Node[] = [];
    const seen = new Set<string>();
    const todo: Node[] = ast === undefined ? [] : [ast];
    while (todo.length > 0 && out.length < 16) {
      const current = todo.pop() as Node;
      if (current.type === 'ArrayLiteral' || current.type === 'TupleLiteral' || current.type === 'ObjectLiteral') out.push(current);
      else if (current.type === 'CallExpression' && ident(node(current, 'callee')) === 'namespace') out.push(current);
      const name = ident(current);
      if (name === undefined || seen.has(name) || seen.size >= 8) continue;
      seen.add(name);
      for (const binding of this.bindings.get(name) ?? []) if ('expr' in binding) todo.push(binding.expr);
    }
    return out;
  }

  private evaluate(ast: Node): Folded {
    let taint = false;
    for (const child of this.kids.get(ast) ?? []) taint ||= this.get(child).taint;
    switch (ast.type) {
      case 'StringLiteral': {
        const text = str(ast) ?? '';
        return text.length <= MAX_STRING ? known([text]) : UNKNOWN;
      }
      case 'IntegerLiteral':
      case 'FloatLiteral':
        return typeof ast.value === 'number' ? known([ast.value]) : UNKNOWN;
      case 'Identifier': {
        const parent = this.parent.get(ast);
        // An attribute's name or a keyword argument's key is not a variable.
        if (parent?.type === 'MemberExpression' && parent.computed !== true && node(parent, 'property') === ast) return UNKNOWN;
        if (parent?.type === 'KeywordArgumentExpression' && node(parent, 'key') === ast) return UNKNOWN;
        return this.nameValue(str(ast) ?? '');
      }
      case 'UnaryExpression': {
        const argument = this.get(node(ast, 'argument'));
        if (pending(argument)) return pendingOf(taint);
        if (operator(ast) === '-' && !argument.unknown && argument.vals.every((num) => typeof num === 'number')) return known(argument.vals.map((num) => -num), taint);
        if (operator(ast) === '+' && !argument.unknown && argument.vals.every((num) => typeof num === 'number')) return known([...argument.vals], taint);
        return unknownOf(taint);
      }
      case 'Ternary':
        return this.union([this.get(node(ast, 'trueExpr')), this.get(node(ast, 'falseExpr'))]);
      case 'BinaryExpression':
        return this.binary(ast, taint);
      case 'FilterExpression':
        return this.filter(ast, taint);
      case 'CallExpression':
        return this.method(ast, taint);
      case 'MemberExpression':
        return this.member(ast, taint);
      default:
        return unknownOf(taint);
    }
  }

  private binary(ast: Node, taint: boolean): Folded {
    const op = operator(ast);
    const lhs = this.get(node(ast, 'left'));
    const rhs = this.get(node(ast, 'right'));
    if (op === 'or' || op === 'and') return this.union([lhs, rhs]);
    if (op === '%') {
      const right = node(ast, 'right');
      const args = right?.type === 'TupleLiteral' || right?.type === 'ArrayLiteral' ? nodes(right, 'value').map((element) => this.get(element)) : [rhs];
      if (lhs.unknown || args.some((arg) => arg.unknown)) return unknownOf(taint);
      if (pending(lhs) || args.some(pending)) return pendingOf(taint);
      return this.keep(product([lhs.vals, ...args.map((arg) => arg.vals)], ([fmt, ...xs]) => (typeof fmt === 'string' ? percentFormat(fmt, xs) : undefined)), taint);
    }
    if (lhs.unknown || rhs.unknown) return unknownOf(taint);
    if (pending(lhs) || pending(rhs)) return pendingOf(taint);
    const pair = (combineVals: (leftVal: Value, rightVal: Value) => Value | undefined): Folded => this.keep(product([lhs.vals, rhs.vals], ([leftVal, rightVal]) => combineVals(leftVal as Value, rightVal as Value)), taint);
    switch (op) {
      case '~':
        return pair((leftVal, rightVal) => `${leftVal}${rightVal}`);
      case '+':
        return pair((leftVal, rightVal) => (typeof leftVal === 'string' && typeof rightVal === 'string' ? leftVal + rightVal : typeof leftVal === 'number' && typeof rightVal === 'number' ? leftVal + rightVal : undefined));
      case '*':
        return pair((leftVal, rightVal) => {
          if (typeof leftVal === 'number' && typeof rightVal === 'number') return leftVal * rightVal;
          const [text, times] = typeof leftVal === 'string' ? [leftVal, rightVal] : [rightVal, leftVal];
          if (typeof text !== 'string' || typeof times !== 'number' || !Number.isInteger(times)) return undefined;
          return times <= 0 ? '' : text.length * times > MAX_STRING * 2 ? text.repeat(Math.ceil((MAX_STRING * 2) / Math.max(text.length, 1))) : text.repeat(times);
        });
      case '-':
        return pair((leftVal, rightVal) => (typeof leftVal === 'number' && typeof rightVal === 'number' ? leftVal - rightVal : undefined));
      default:
        return unknownOf(taint);
    }
  }

  private filter(ast: Node, taint: boolean): Folded {
    const operand = node(ast, 'operand');
    const call = filterCall(node(ast, 'filter') ?? ast);
    if (operand === undefined || call === undefined) return unknownOf(taint);
    const input = this.get(operand);
    const args = positional(call.args).map((arg) => this.get(arg));
    if (args.some((arg) => arg.unknown)) return unknownOf(taint);
    if (pending(input) || args.some(pending)) return pendingOf(taint);
    const strings = (apply: (text: string) => string | undefined): Folded =>
      input.unknown || !input.vals.every((value) => typeof value === 'string') ? unknownOf(taint) : this.keep(product([input.vals], ([text]) => apply(text as string)), taint);
    switch (call.name) {
      case 'lower': return strings((text) => text.toLowerCase());
      case 'upper': return strings((text) => text.toUpperCase());
      case 'trim': return strings((text) => text.trim());
      case 'string': return input.unknown ? unknownOf(taint) : this.keep(input.vals.map(String), taint);
      case 'capitalize': return strings((text) => text.charAt(0).toUpperCase() + text.slice(1).toLowerCase());
      case 'replace': {
        const [oldArg, newArg] = args;
        if (oldArg === undefined || newArg === undefined) return unknownOf(taint);
        return this.keep(product([input.vals, oldArg.vals, newArg.vals], ([text, oldText, newText]) => (typeof text === 'string' && typeof oldText === 'string' && typeof newText === 'string' ? text.split(oldText).join(newText) : undefined)), taint);
      }
      case 'format':
        return input.unknown ? unknownOf(taint) : this.keep(product([input.vals, ...args.map((arg) => arg.vals)], ([fmt, ...xs]) => (typeof fmt === 'string' ? percentFormat(fmt, xs) : undefined)), taint);
      case 'reverse': {
        if (!input.unknown && input.vals.every((value) => typeof value === 'string')) return strings((text) => [...text].reverse().join(''));
        return unknownOf(taint);
      }
      case 'join': {
        const sep = args[0] ?? known(['']);
        const items = this.listOf(operand);
        if (items !== undefined) {
          if (items.some((item) => item.unknown)) return unknownOf(taint);
          if (items.some(pending)) return pendingOf(taint);
          return this.keep(product([sep.vals, ...items.map((item) => item.vals)], ([separator, ...xs]) => xs.map(String).join(String(separator))), taint);
        }
        return strings((text) => [...text].join(String(sep.vals[0] ?? '')));
      }
      case 'first':
      case 'last': {
        const items = this.listOf(operand);
        if (items !== undefined) {
          const it = call.name === 'first' ? items[0] : items[items.length - 1];
          return it === undefined ? unknownOf(taint) : { ...it, taint: it.taint || taint };
        }
        return strings((text) => (call.name === 'first' ? text.slice(0, 1) : text.slice(-1)));
      }
      default:
        return unknownOf(taint);
    }
  }

  /** String methods on constants: `'__CLASS__'.lower()`, `'_'.join([…])`, `'{}'.format(…)`. */
  private method(ast: Node, taint: boolean): Folded {
    const callee = node(ast, 'callee');
    if (callee?.type !== 'MemberExpression' || callee.computed === true) return unknownOf(taint);
    const name = ident(node(callee, 'property'));
    const recv = this.get(node(callee, 'object'));
    const argNodes = nodes(ast, 'args');
    if (pending(recv)) return pendingOf(taint);
    if (recv.unknown || !recv.vals.every((value) => typeof value === 'string')) return unknownOf(taint);
    if (name === 'join') {
      const items = argNodes[0] === undefined ? undefined : this.listOf(argNodes[0]);
      if (items === undefined || items.some((item) => item.unknown)) return unknownOf(taint);
      if (items.some(pending)) return pendingOf(taint);
      return this.keep(product([recv.vals, ...items.map((item) => item.vals)], ([separator, ...xs]) => xs.map(String).join(String(separator))), taint);
    }
    const args = argNodes.map((arg) => this.get(arg));
    if (args.some((arg) => arg.unknown) || argNodes.some((arg) => arg.type === 'KeywordArgumentExpression')) return unknownOf(taint);
    if (args.some(pending)) return pendingOf(taint);
    const each = (apply: (text: string, xs: Value[]) => string | undefined): Folded =>
      this.keep(product([recv.vals, ...args.map((arg) => arg.vals)], ([text, ...xs]) => apply(text as string, xs)), taint);
    switch (name) {
      case 'lower': return each((text) => text.toLowerCase());
      case 'upper': return each((text) => text.toUpperCase());
      case 'swapcase': return each((text) => [...text].map((char) => (char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase())).join(''));
      case 'strip': return each((text, [chars]) => (chars === undefined ? text.trim() : undefined));
      case 'lstrip': return each((text, [chars]) => (chars === undefined ? text.trimStart() : undefined));
      case 'rstrip': return each((text, [chars]) => (chars === undefined ? text.trimEnd() : undefined));
      case 'replace': return each((text, [oldText, newText]) => (typeof oldText === 'string' && typeof newText === 'string' ? text.split(oldText).join(newText) : undefined));
      case 'format': return each((text, xs) => braceFormat(text, xs));
      default: return unknownOf(taint);
    }
  }

  /** `'…'[i]`, `'…'[a:b:c]`, `[…][i]`, `{…}['k']`, `d.k`, `ns.k`. */
  private member(ast: Node, taint: boolean): Folded {
    const object = node(ast, 'object');
    const property = node(ast, 'property');
    if (object === undefined || property === undefined) return unknownOf(taint);
    const input = this.get(object);
    if (property.type === 'SliceExpression') {
      const parts = ['start', 'stop', 'step'].map((key) => node(property, key));
      const pf = parts.map((part) => (part === undefined ? undefined : this.get(part)));
      if (pending(input) || pf.some((part) => part !== undefined && pending(part))) return pendingOf(taint);
      if (input.unknown || pf.some((part) => part !== undefined && (part.unknown || part.vals.length !== 1 || typeof part.vals[0] !== 'number'))) return unknownOf(taint);
      const [start, stop, step] = pf.map((part) => part?.vals[0] as number | undefined);
      return this.keep(input.vals.map((text) => (typeof text === 'string' ? pySlice(text, start, stop, step) : undefined)).filter((text): text is string => text !== undefined), taint);
    }
    const keys: Folded = ast.computed === true ? this.get(property) : known([ident(property) ?? (property.value as Value)]);
    if (keys.unknown) return unknownOf(taint);
    if (pending(keys)) return pendingOf(taint);
    const found: Folded[] = [];
    let missing = false;
    for (const key of keys.vals) {
      let hit = false;
      if (!input.unknown && typeof key === 'number') {
        for (const text of input.vals) if (typeof text === 'string') { const char = key < 0 ? text.at(key) : text[key]; if (char !== undefined) { found.push(known([char], input.taint)); hit = true; } }
      }
      if (typeof key === 'number') {
        const element = this.listOf(object)?.at(key);
        if (element !== undefined) { found.push(element); hit = true; }
      }
      for (const container of this.containersOf(object)) {
        if ((container.type === 'ArrayLiteral' || container.type === 'TupleLiteral') && typeof key === 'number') {
          const element = nodes(container, 'value').at(key);
          if (element !== undefined) { found.push(this.get(element)); hit = true; }
        } else if (container.type === 'ObjectLiteral' && container.value instanceof Map) {
          for (const [entryKey, entryValue] of container.value as Map<unknown, unknown>) {
            if (isNode(entryKey) && isNode(entryValue) && this.get(entryKey).vals.includes(key)) { found.push(this.get(entryValue)); hit = true; }
          }
        } else if (container.type === 'CallExpression') {
          for (const arg of nodes(container, 'args')) {
            const value = node(arg, 'value');
            if (arg.type === 'KeywordArgumentExpression' && ident(node(arg, 'key')) === key && value !== undefined) { found.push(this.get(value)); hit = true; }
          }
        }
      }
      const name = ident(object);
      if (name !== undefined && typeof key === 'string' && this.bindings.has(`${name}.${key}`)) { found.push(this.nameValue(`${name}.${key}`)); hit = true; }
      missing ||= !hit;
    }
    const union = this.union(found);
    return { vals: union.vals, unknown: union.unknown || missing, taint: taint || union.taint };
  }

  // -------------------------------------------------------------------------------------------
  // Phase 3: judge the sinks with what folding learned
  // -------------------------------------------------------------------------------------------

  private shadowed(name: string): boolean {
    return this.bindings.has(name);
  }

  /** A subscript key that is a number in any template that means it (`loop.index0 - 1`, `i`…). */
  private numeric(ast: Node | undefined, depth = 0): boolean {
    if (ast === undefined || depth > 32) return false;
    const cached = this.numericMemo.get(ast);
    if (cached !== undefined) return cached;
    const folded = this.get(ast);
    let result = false;
    if (!folded.unknown && folded.vals.length > 0) result = folded.vals.every((value) => typeof value === 'number');
    else if (ast.type === 'IntegerLiteral' || ast.type === 'FloatLiteral' || ast.type === 'UnaryExpression') result = true;
    else if (ast.type === 'BinaryExpression') result = ['-', '*', '/', '//', '%', '**', '+'].includes(operator(ast)) && (this.numeric(node(ast, 'left'), depth + 1) || this.numeric(node(ast, 'right'), depth + 1));
    else if (ast.type === 'MemberExpression') result = ident(node(ast, 'object')) === 'loop';
    else if (ast.type === 'FilterExpression') result = ['length', 'int', 'count', 'abs', 'round'].includes(filterCall(node(ast, 'filter') ?? ast)?.name ?? '');
    this.numericMemo.set(ast, result);
    return result;
  }

  private judge(): void {
    for (const sink of this.sinks) this.judgeSink(sink);

    for (const callee of this.dynamicCalls) {
      const key = node(callee, 'property');
      if (key !== undefined && this.get(key).unknown && !this.numeric(key)) {
        this.flag('high', 'a method is called by a name chosen at run time (x[name]()): how sandbox escapes reach functions without naming them');
      }
    }
    for (const { name } of this.identCalls) {
      for (const binding of this.bindings.get(name) ?? []) {
        if ('expr' in binding && binding.expr.type === 'MemberExpression' && binding.expr.computed === true) {
          const key = node(binding.expr, 'property');
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
    for (const ast of this.order) {
      if (ast.type !== 'BinaryExpression' || !['~', '+'].includes(operator(ast)) || !this.get(ast).unknown) continue;
      const pieces = [this.get(node(ast, 'left')), this.get(node(ast, 'right'))].flatMap((folded) => folded.vals);
      const half = pieces.find((value) => typeof value === 'string' && value.length >= 2 && (value.startsWith('__') || value.endsWith('__')) && value !== '__');
      if (half !== undefined) this.flag('medium', `a name is built at run time from ${quote(String(half))}: a way to spell a dunder without writing it`);
    }

    // Constants built from parts (checked where each chain of string operations ends).
    for (const ast of this.order) {
      if (!['BinaryExpression', 'FilterExpression', 'CallExpression', 'MemberExpression'].includes(ast.type)) continue;
      const parent = this.parent.get(ast);
      if (parent !== undefined && ['BinaryExpression', 'FilterExpression', 'CallExpression', 'MemberExpression'].includes(parent.type)) continue;
      for (const value of this.get(ast).vals) {
        const match = typeof value === 'string' ? INTERNALS_IN_TEXT.exec(value) : null;
        if (match === null) continue;
        this.flag('critical', `an expression builds a string naming Python internals (${match[0]}) from constant parts: a Jinja sandbox escape`);
        break;
      }
    }
  }

  private judgeSink(sink: Sink): void {
    const folded = this.get(sink.at);
    const names = folded.vals.filter((value): value is string => typeof value === 'string');
    const bad = (name: string): boolean => (sink.kind === 'attribute-arg' ? name.split('.').some(isInternalName) : isInternalName(name)) || (sink.kind === 'format' && INTERNALS_IN_TEXT.test(name));
    const hit = names.find(bad);
    const where = sink.kind === 'key' ? 'subscript' : sink.kind === 'format' ? `format string of ${sink.via}` : `argument of ${sink.via}`;
    if (hit !== undefined) {
      this.flag('critical', `${where} ${quote(hit)} reaches Python internals: a Jinja sandbox escape (CVE-2024-34359)`);
      return;
    }
    if (folded.taint) {
      this.flag('high', `${where} is built from a token string the model file supplies (bos_token, eos_token…): the file can name any attribute`);
      return;
    }
    if (!folded.unknown) return;
    if (sink.kind === 'attr' || sink.kind === 'attribute-arg') {
      if (this.numeric(sink.at)) return;
      this.flag('high', `${where} names an attribute chosen at run time: it can reach Python internals`);
    } else if (sink.kind === 'format') {
      this.flag('medium', `${sink.via} on a format string chosen at run time: format fields read attributes ({0.__class__})`);
    } else if (sink.kind === 'key' && !this.numeric(sink.at)) {
      // x[a][b] with both names unknown: two attribute steps nobody wrote down.
      const object = this.parent.get(sink.at);
      const inner = object === undefined ? undefined : node(object, 'object');
      const innerKey = inner?.type === 'MemberExpression' && inner.computed === true ? node(inner, 'property') : undefined;
      if (innerKey !== undefined && innerKey.type !== 'SliceExpression' && this.get(innerKey).unknown && !this.numeric(innerKey)) {
        this.flag('medium', 'two attributes in a row are named at run time (x[a][b]): the shape of an escape whose names come from outside');
      }
    }
  }
}
