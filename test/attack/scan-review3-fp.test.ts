/**
 * Security review, round 3: false positives on benign, real-shaped model repositories.
 */
import { describe, expect, test } from 'vitest';
import { writeSafetensors } from '../fixtures/scan/builders.js';
import { judge, seen } from './scan-review-support.js';

describe('scan review 3: benign repositories', () => {
  /**
   * F1. A Hugging Face repo with safetensors weights, a config.json without `auto_map`, and
   * a helper script (`convert_to_safetensors.py`, as many repos ship). coverage.ts names
   * `.py` in CODE_NAME, so the script — content "in no format this scanner reads" — makes
   * the gate deny the whole model.
   *
   * Real loader: transformers imports repo .py files only when config.json (or
   * tokenizer_config.json) has an `auto_map` entry naming them AND the caller passes
   * trust_remote_code=True; a script no auto_map names is never imported by from_pretrained.
   * Denying it is a false positive on a common benign layout (severity: low, usability —
   * it trains users to override the gate). Suggested fix: deny a .py only when an auto_map /
   * custom_pipelines entry names its module (E1 of round 2 covers that case), or report
   * unreferenced scripts as `not-inspected` with codeCapable false (informational).
   */
  test('F1 a repo with a helper .py no auto_map names is allowed', async () => {
    const v = await judge('f1', {
      'config.json': Buffer.from(JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama' })),
      'model.safetensors': writeSafetensors({ 'w': { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 16),
      'convert_to_safetensors.py': Buffer.from('import torch\nfrom safetensors.torch import save_file\n'),
    });
    expect(v.denials, seen(v)).toEqual([]);
  });
});
