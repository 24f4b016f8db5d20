// Test helper: the StageError a stage call rejects with.
import * as assert from "uvu/assert";
import { StageError } from "../../../lib/ipc/errors.js";

export async function rejection(p: Promise<unknown>): Promise<StageError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, StageError);
    return err as StageError;
  }
  throw new Error("expected a rejection");
}
