// A failure of the runner itself (bad options, bad image, no KVM, boot
// failure), as opposed to anything the guest's command did. `docker run`
// reports these with exit status 125; so does `bencher-run pipeline`.
export class PipelineError extends Error {
  override name = "PipelineError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/**
 * An option the caller got wrong. The message names the option as the API
 * spells it ("memoryMiB 10: ..."); the command line says it in its own words
 * ("--memory 10: ...") from `option`, `value` and `problem`.
 */
export class PipelineOptionError extends PipelineError {
  override name = "PipelineOptionError";
  constructor(readonly option: string, readonly value: string | undefined, readonly problem: string) {
    super(`${option}${value === undefined ? "" : ` ${value}`}: ${problem}`);
  }
}
