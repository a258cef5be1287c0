import type { Finding } from './types.js';

/**
 * Judges a Jinja chat template (GGUF `tokenizer.chat_template`, a tokenizer_config.json's
 * `chat_template`) without rendering it: placeholder until the parser lands.
 */
export function inspectChatTemplate(template: string, path?: string): Finding[] {
  void template;
  void path;
  return [];
}
