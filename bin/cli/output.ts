// What a command prints on stdout: a JSON manifest with --json (one line, for
// scripts), else a few human lines.
export function printResult(json: boolean, manifest: Record<string, unknown>, human: string[]): void {
  if (json) process.stdout.write(JSON.stringify(manifest) + "\n");
  else for (const line of human) process.stdout.write(line + "\n");
}
