// One pipeline run for the benchmarks, in its own process:
//   node dist/bench/lib/pipeline-child.js '<PipelineOptions as JSON>'
// prints one JSON line (PipelineOutcome) with the guest command's exit code
// and output and the pipeline's own timings. Exit status 1 with a one-line message on failure.
import { PIPELINE_MODULE, type PipelineOptions, type PipelineOutcome } from "./pipeline.js";

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  return "";
}

/** The guest command's exit code, wherever the result keeps it. */
function exitCodeOf(result: Record<string, unknown>): number | null {
  if (typeof result.exitCode === "number") return result.exitCode;
  const exit = result.exit as { how?: number; value?: number } | null | undefined;
  if (exit && exit.how === 0 && typeof exit.value === "number") return exit.value;
  return null;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? "") as PipelineOptions;
  const { runPipeline } = (await import(PIPELINE_MODULE)) as { runPipeline: (o: PipelineOptions) => Promise<Record<string, unknown>> };
  const result = await runPipeline(options);
  const image = result.image as { cached?: unknown } | undefined;
  const outcome: PipelineOutcome = {
    exitCode: exitCodeOf(result),
    stdout: text(result.stdout),
    stderr: text(result.stderr),
    ...(result.error !== undefined ? { error: String(result.error) } : {}),
    ...(typeof image?.cached === "boolean" ? { cached: image.cached } : {}),
    ...(typeof result.metrics === "object" && result.metrics !== null ? { metrics: result.metrics as Record<string, unknown> } : {}),
  };
  process.stdout.write(JSON.stringify(outcome) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`pipeline: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
