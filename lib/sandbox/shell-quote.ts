// POSIX sh single-quoting, for the mount script the sandbox generates.
export function shellQuote(word: string): string {
  if (word.includes("\0")) throw new Error(`path contains a NUL byte: ${JSON.stringify(word)}`);
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
