// bencher-run collect: the host side of the guest protocol (stage not built yet).
import { defineCommand } from "citty";
import { commonArgs } from "../cli/common-args.js";
import { notBuiltYet } from "../cli/command-error.js";

export default defineCommand({
  meta: { name: "collect", description: "Collect a finished guest's results (stdout, stderr, exit code, files, timings) over virtio-vsock" },
  args: {
    vsock: { type: "string", description: "Base path of the VM's vsock Unix sockets", valueHint: "path" },
    out: { type: "string", description: "Directory for the collected results", valueHint: "dir" },
    ...commonArgs,
  },
  run() {
    notBuiltYet("collect");
  },
});
