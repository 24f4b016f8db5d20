// The boot stage executable: one request in, one result out (lib/ipc).
// vCPU 0's thread starts before anything else loads, so that its start-up
// (~45 ms here: a fresh isolate, its modules, koffi) overlaps this thread's
// and the wait for the request instead of delaying the VM's first KVM_RUN.
import { VCPU_WORKER_SCRIPT } from "./thread-scripts.js";
import { prestartWorker } from "./worker-spares.js";

prestartWorker(VCPU_WORKER_SCRIPT);

const { runStage } = await import("../../lib/ipc/stage.js");
const { boot } = await import("./boot.js");
const { parseBootRequest } = await import("./request.js");
runStage("boot", parseBootRequest, boot);
