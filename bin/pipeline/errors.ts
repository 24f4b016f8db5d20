// A failure of the runner itself (bad options, bad image, no KVM, boot
// failure), as opposed to anything the guest's command did. `docker run`
// reports these with exit status 125; so does `bencher-run pipeline`.
export class PipelineError extends Error {
  override name = "PipelineError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}
