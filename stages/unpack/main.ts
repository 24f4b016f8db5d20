// The unpack stage executable: one request in, one result out (lib/ipc).
import { runStage } from "../../lib/ipc/stage.js";
import { parseUnpackRequest } from "./request.js";
import { unpack } from "./unpack.js";

runStage("unpack", parseUnpackRequest, unpack);
