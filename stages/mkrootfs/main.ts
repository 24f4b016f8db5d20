// The mkrootfs stage executable: one request in, one image out (see mkrootfs.ts).
import { runStage } from "../../lib/ipc/stage.js";
import { mkrootfs } from "./mkrootfs.js";
import { parseMkrootfsRequest } from "./request.js";

runStage("mkrootfs", parseMkrootfsRequest, mkrootfs);
