// The boot stage executable: one request in, one result out (lib/ipc).
import { runStage } from "../../lib/ipc/stage.js";
import { boot } from "./boot.js";
import { parseBootRequest } from "./request.js";

runStage("boot", parseBootRequest, boot);
