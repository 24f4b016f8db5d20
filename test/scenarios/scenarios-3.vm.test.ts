// Scenarios (scenarios/*.json) through real VMs: share 3 of 4 (see scenario-shard.ts).
import { runShard } from "./scenario-shard.js";

runShard(3);
