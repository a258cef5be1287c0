import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectChatTemplate } from '../../node/scan/inspect/chat-template.js';
import { bufferSource, INSPECT_LIMITS, inspectFile, inspectSource, type Finding } from '../../node/scan/inspect/index.js';
import { writeGguf, type GgufValue } from '../fixtures/scan/builders.js';
import {
  BENIGN_TEMPLATES, CVE_2024_34359_POC, HOSTILE_TEMPLATES, LLAMA_3_INSTRUCT, QWEN_2_5_INSTRUCT, UNPARSEABLE_TEMPLATES,
} from '../fixtures/scan/chat-templates.js';

const PATH = 'tokenizer.chat_template';
const aboveInfo = (fs: Finding[]): Finding[] => fs.filter((f) => f.severity !== 'info');
const alarming = (fs: Finding[]): Finding[] => fs.filter((f) => f.severity === 'critical' || f.severity === 'high');
const codeFindings = (fs: Finding[], severity?: Finding['severity']): Finding[] =>
  fs.filter((f) => f.kind === 'template-code' && (severity === undefined || f.severity === severity));

describe('chat templates: benign', () => {
  for (const [name, template] of Object.entries(BENIGN_TEMPLATES)) {
    it(`${name}: nothing above info`, () => {
      expect(aboveInfo(inspectChatTemplate(template, PATH))).toEqual([]);
    });
  }

  it('namespace(…), cycler(…), joiner(…), lipsum(…) and range(…) calls are how templates use them: not flagged', () => {
    const t = "{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% endfor %}"
      + "{% set c = cycler('odd', 'even') %}{% set j = joiner(', ') %}{% for i in range(3) %}{{ j() }}{{ c.next() }}{{ messages[i]['content'] }}{% endfor %}"
      + '{{ lipsum(1) }}{{ ns.found }}{{ ns.n }}{{ dict(a=1)|tojson }}';
    expect(aboveInfo(inspectChatTemplate(t, PATH))).toEqual([]);
  });

  it('a macro parameter or loop variable named like a jinja2 global is the template’s own', () => {
    const t = '{% macro show(cycler) %}{{ cycler.name }}{% endmacro %}{% for request in messages %}{{ request.content }}{{ show(request) }}{% endfor %}';
    expect(aboveInfo(inspectChatTemplate(t, PATH))).toEqual([]);
  });

  it('numeric, constant and loop-variable subscripts are plain data access', () => {
    const t = "{% for m in messages %}{{ messages[loop.index0 - 1]['role'] }}{{ m['content'][:10] }}{{ messages[-1].content }}"
      + '{% for k, v in m.items() %}{{ m[k] }}{% endfor %}{% endfor %}{{ tools[0]["function"]["name"] }}{{ "{}: {}".format(1, 2) }}';
    expect(aboveInfo(inspectChatTemplate(t, PATH))).toEqual([]);
  });

  it('Python internals in template text or comments are info only: printed, never run', () => {
    const fs = inspectChatTemplate('{# never touch __class__ #}System: explain what __init__ does.{{ messages[0].content }}', PATH);
    expect(fs.length).toBeGreaterThan(0);
    expect(aboveInfo(fs)).toEqual([]);
  });

  it('an empty template is fine', () => {
    expect(inspectChatTemplate('')).toEqual([]);
  });
});

describe('chat templates: hostile', () => {
  for (const [name, template] of Object.entries(HOSTILE_TEMPLATES)) {
    it(`${name}: a critical or high template-code finding`, () => {
      const fs = inspectChatTemplate(template, PATH);
      expect(alarming(codeFindings(fs))).not.toEqual([]);
      expect(fs.every((f) => f.path === PATH)).toBe(true);
    });
  }

  it('every escape that names Python internals, directly or from constant parts, is critical', () => {
    const critical = [
      'CVE-2024-34359 PoC (subclasses → catch_warnings)', 'self.__init__.__globals__', 'for-loop over __subclasses__()',
      'cycler.__init__.__globals__', 'joiner.__init__.__globals__', 'namespace.__init__.__globals__', 'lipsum.__globals__',
      'lipsum.__globals__ inside an otherwise benign template', 'request.application.__globals__', 'self._TemplateReference__context',
      'subscripts instead of dots', 'subscript on a jinja2 global', 'concatenated dunder in a subscript',
      'concatenated dunder through variables', 'dunder built by |join', 'dunder built by |lower', 'dunder built by slicing a reversed string',
      'dunder built by % formatting', 'dunder from a dict literal', 'dunder from a set block', 'dunder from a namespace attribute',
      '|attr with dunders', '|map(attribute=…) with a dunder', 'str.format reaching attributes', 'hex escapes spelling __class__',
      'mro() instead of __mro__',
    ];
    for (const name of critical) {
      expect(codeFindings(inspectChatTemplate(HOSTILE_TEMPLATES[name] as string, PATH), 'critical'), name).not.toEqual([]);
    }
  });

  it('names the attribute that escapes', () => {
    const details = inspectChatTemplate(CVE_2024_34359_POC, PATH).map((f) => f.detail).join('\n');
    expect(details).toMatch(/__subclasses__/);
    expect(details).toMatch(/__builtins__/);
    expect(details).toMatch(/__import__/);
    expect(inspectChatTemplate("{{ ()['__cla' ~ 'ss__'] }}").map((f) => f.detail).join('\n')).toMatch(/"__class__"/);
  });

  it('attributes of the jinja2 globals themselves are flagged even without a dunder in sight', () => {
    for (const t of ['{{ cycler.reset }}', '{{ lipsum[name] }}', '{{ self.foo }}', '{{ namespace.x }}']) {
      expect(codeFindings(inspectChatTemplate(t), 'critical'), t).not.toEqual([]);
    }
    expect(codeFindings(inspectChatTemplate("{{ url_for('index') }}"), 'high')).not.toEqual([]);
  });

  it('|attr with a run-time name, and subscripts named by the file’s own token strings, are high', () => {
    expect(codeFindings(inspectChatTemplate('{{ x|attr(y) }}'), 'high')).not.toEqual([]);
    expect(codeFindings(inspectChatTemplate("{{ x|selectattr(name, 'equalto', 1)|list }}"), 'high')).not.toEqual([]);
    expect(codeFindings(inspectChatTemplate('{{ x[eos_token] }}'), 'high')).not.toEqual([]);
    expect(codeFindings(inspectChatTemplate("{% set f = x[a] %}{{ f('id') }}"), 'high')).not.toEqual([]);
  });

  it('a name spelled at run time from half a dunder is at least medium', () => {
    const fs = inspectChatTemplate("{{ x['__cla' ~ y] }}");
    expect(codeFindings(fs, 'medium')).not.toEqual([]);
  });

  it('`()` stays a call where it is one, and an empty tuple elsewhere', () => {
    expect(aboveInfo(inspectChatTemplate("{{ m.content.strip() }}{{ raise_exception('x') }}{{ (x)() }}{{ f()() }}"))).toEqual([]);
    expect(codeFindings(inspectChatTemplate('{% for c in ().__class__.__mro__ %}{% endfor %}'), 'critical')).not.toEqual([]);
    expect(codeFindings(inspectChatTemplate('{{ x if y else ().__class__ }}'), 'critical')).not.toEqual([]);
  });
});

describe('chat templates: what is not inspected says so', () => {
  for (const [name, template] of Object.entries(UNPARSEABLE_TEMPLATES)) {
    it(`${name}: not-inspected, high`, () => {
      const fs = inspectChatTemplate(template, PATH);
      const ni = fs.filter((f) => f.kind === 'not-inspected');
      expect(ni).toHaveLength(1);
      expect(ni[0]).toMatchObject({ severity: 'high', path: PATH });
      expect(ni[0]?.detail).toMatch(/^chat template does not parse: /);
    });
  }

  it('an unparsed template that names Python internals gets a template-code finding too', () => {
    const fs = inspectChatTemplate(UNPARSEABLE_TEMPLATES['{% raw %} block'] as string, PATH);
    expect(codeFindings(fs, 'high')).not.toEqual([]);
  });

  it('a template longer than chatTemplateBytes is a high limit, with its Python internals still named', () => {
    const lim = { chatTemplateBytes: 1000, chatTemplateNodes: INSPECT_LIMITS.chatTemplateNodes };
    const big = `${QWEN_2_5_INSTRUCT}{{ cycler.__init__.__globals__ }}`;
    const fs = inspectChatTemplate(big, PATH, lim);
    expect(fs.find((f) => f.kind === 'limit')).toMatchObject({ severity: 'high', path: PATH });
    expect(codeFindings(fs, 'high')).not.toEqual([]);
    expect(inspectChatTemplate(QWEN_2_5_INSTRUCT, PATH, lim).map((f) => f.kind)).toEqual(['limit']);
    // Bytes, not characters.
    expect(inspectChatTemplate('é'.repeat(600), PATH, lim).map((f) => f.kind)).toEqual(['limit']);
  });

  it('more syntax nodes than chatTemplateNodes is a high limit', () => {
    const fs = inspectChatTemplate(QWEN_2_5_INSTRUCT, PATH, { chatTemplateBytes: INSPECT_LIMITS.chatTemplateBytes, chatTemplateNodes: 50 });
    expect(fs.find((f) => f.kind === 'limit')).toMatchObject({ severity: 'high' });
  });

  it('caps the template-code findings it lists, keeping the most severe', () => {
    const t = `{# __class__ #}${Array.from({ length: 60 }, (_, i) => `{{ x.__a${i}__ }}`).join('')}`;
    const fs = inspectChatTemplate(t, PATH);
    expect(codeFindings(fs, 'critical')).toHaveLength(32);
    expect(fs.at(-1)).toMatchObject({ kind: 'template-code', severity: 'info', detail: '29 more findings in the chat template not listed' });
  });

  it('never throws, whatever it is given', () => {
    const inputs = [
      `{{ ${'('.repeat(20_000)}x${')'.repeat(20_000)} }}`,
      `{{ ${'['.repeat(20_000)} }}`,
      '{{', '{%', '{#', '}}', '{{ "unterminated', '{% if %}', '{% for %}{% endfor %}', '{{ x[] }}', '{{ a.1.2.b }}',
      `{{ x${'.a'.repeat(50_000)} }}`,
      `{{ 'a'${" ~ 'a'".repeat(50_000)} }}`,
      `{% set a = b %}${'{% set b = a ~ b %}'.repeat(2_000)}{{ x[a] }}`,
      ' \t\n'.repeat(200_000),
      '\u0000\uffff\ud800',
    ];
    for (const t of inputs) {
      let fs: Finding[] = [];
      expect(() => { fs = inspectChatTemplate(t, PATH); }).not.toThrow();
      expect(Array.isArray(fs)).toBe(true);
    }
    expect(inspectChatTemplate(inputs[0] as string, PATH)[0]).toMatchObject({ kind: 'not-inspected', severity: 'high' });
  });

  it('parsing a 1 MiB hostile-ish template (timing reported, not asserted)', () => {
    const unit = `${QWEN_2_5_INSTRUCT}{% set n = '__glo' ~ 'bals__' %}{{ lipsum[n]['os'] }}${' '.repeat(300)}`;
    const t = unit.repeat(Math.floor(INSPECT_LIMITS.chatTemplateBytes / unit.length));
    const started = performance.now();
    const fs = inspectChatTemplate(t, PATH);
    const ms = performance.now() - started;
    console.info(`chat template: ${t.length} bytes inspected in ${ms.toFixed(0)} ms, ${fs.length} findings (${fs.map((f) => `${f.kind}/${f.severity}`).filter((v, i, a) => a.indexOf(v) === i).join(', ')})`);
    expect(codeFindings(fs, 'critical')).not.toEqual([]);
  });
});

describe('chat templates in GGUF files', () => {
  const gguf = (kv: [string, GgufValue][]): Buffer => writeGguf({ kv: [['general.architecture', { t: 'str', v: 'llama' }], ...kv] });
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'chorus-chat-template-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('a hostile tokenizer.chat_template is a template-code finding of the file (inspectFile)', async () => {
    const file = join(dir, 'evil.gguf');
    await writeFile(file, gguf([['tokenizer.chat_template', { t: 'str', v: CVE_2024_34359_POC }]]));
    const r = await inspectFile(file);
    expect(r.format).toBe('gguf');
    expect(codeFindings(r.findings, 'critical').length).toBeGreaterThan(0);
    expect(codeFindings(r.findings).every((f) => f.path === 'tokenizer.chat_template')).toBe(true);
    if (r.format === 'gguf') expect(r.meta.hasChatTemplate).toBe(true);
  });

  it('the benign Llama 3 template gives the file no finding at all (inspectSource)', async () => {
    const r = await inspectSource(bufferSource(gguf([['tokenizer.chat_template', { t: 'str', v: LLAMA_3_INSTRUCT }]])));
    expect(r.format).toBe('gguf');
    expect(r.findings).toEqual([]);
  });

  it('named templates (tokenizer.chat_template.tool_use) are inspected under their own key', async () => {
    const r = await inspectSource(bufferSource(gguf([
      ['tokenizer.chat_template', { t: 'str', v: LLAMA_3_INSTRUCT }],
      ['tokenizer.chat_templates', { t: 'strs', v: ['tool_use'] }],
      ['tokenizer.chat_template.tool_use', { t: 'str', v: HOSTILE_TEMPLATES['cycler.__init__.__globals__'] as string }],
    ])));
    const fs = codeFindings(r.findings, 'critical');
    expect(fs.length).toBeGreaterThan(0);
    expect(fs.every((f) => f.path === 'tokenizer.chat_template.tool_use')).toBe(true);
  });

  it('a chat template that is not a string is not passed silently', async () => {
    const r = await inspectSource(bufferSource(gguf([['tokenizer.chat_template', { t: 'strs', v: ['{{ cycler.__init__ }}'] }]])));
    expect(r.findings.find((f) => f.kind === 'not-inspected')).toMatchObject({ severity: 'high', path: 'tokenizer.chat_template' });
  });

  it('the chat templates of one file are parsed up to four times chatTemplateBytes together; the rest are limits', async () => {
    const kv: [string, GgufValue][] = [0, 1, 2, 3, 4].map((i) => [`tokenizer.chat_template.t${i}`, { t: 'str', v: QWEN_2_5_INSTRUCT }]);
    kv.push(['tokenizer.chat_template.t5', { t: 'str', v: `${QWEN_2_5_INSTRUCT}{{ joiner.__init__.__globals__ }}` }]);
    const r = await inspectSource(bufferSource(gguf(kv)), { limits: { chatTemplateBytes: 3000 } });
    const limits = r.findings.filter((f) => f.kind === 'limit');
    expect(limits.map((f) => f.path)).toEqual(['tokenizer.chat_template.t4', 'tokenizer.chat_template.t5']);
    expect(limits.every((f) => f.severity === 'high')).toBe(true);
    // Not parsed, yet its Python internals are named.
    expect(codeFindings(r.findings, 'high').map((f) => f.path)).toEqual(['tokenizer.chat_template.t5']);
  });

  it('a template over the limit in a GGUF is a limit finding, not a silent pass', async () => {
    const r = await inspectSource(bufferSource(gguf([['tokenizer.chat_template', { t: 'str', v: QWEN_2_5_INSTRUCT }]])), { limits: { chatTemplateBytes: 100 } });
    expect(r.findings.find((f) => f.kind === 'limit')).toMatchObject({ severity: 'high', path: 'tokenizer.chat_template' });
  });
});
