// The host side of the guest<->host protocol (guest-init/PROTOCOL.md).
export * from "./messages.js";
export * from "./job.js";
export * from "./frame-verifier.js";
export * from "./stream-decoder.js";
export * from "./serial-scanner.js";
export * from "./result-collector.js";
export * from "./guest-session.js";
export * from "./resolve-command.js";
