/** Whether an error from a write is the file system (or a quota) running out of space. */
export function isNoSpace(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x !== undefined && x !== null && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    const { code, message } = x as { code?: unknown; message?: unknown };
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (typeof message === 'string' && /ENOSPC|EDQUOT|No space left|quota exceeded/i.test(message)) return true;
  }
  return false;
}
