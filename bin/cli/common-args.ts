// Flags every stage subcommand shares.
export const commonArgs = {
  json: { type: "boolean", description: "Print a JSON manifest of what was made on stdout" },
  verbose: { type: "boolean", description: "Also print the stages' info logs on stderr" },
  workdir: { type: "string", description: "Root of the run work directories (default: $BENCHER_RUN_WORKDIR or ~/.cache/bencher-run/runs)", valueHint: "dir" },
  keep: { type: "boolean", description: "Keep the run's work directory (for debugging)" },
} as const;
