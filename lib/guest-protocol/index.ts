// What guest-init and the host share of their protocol (guest-init/PROTOCOL.md):
// message types and constants, the frame MAC, the host's JOB and ACK frames,
// and the Docker rules that decide the JOB's command. The host's reading of
// guest frames (verification, console fallback, result) is the collect stage.
export * from "./messages.js";
export * from "./frame-mac.js";
export * from "./job.js";
export * from "./resolve-command.js";
