// The one table of tar type flags: what the writer writes, the reader reads back.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TAR_TYPE_FLAGS, TAR_TYPES_BY_FLAG, type TarEntryType } from "../../../lib/oci/tar-format.js";

test("each entry type's flag reads back as that type; old and contiguous files are files; others are unknown", () => {
  for (const [type, flag] of Object.entries(TAR_TYPE_FLAGS)) assert.is(TAR_TYPES_BY_FLAG[flag], type as TarEntryType, `flag ${flag}`);
  assert.is(TAR_TYPES_BY_FLAG["\0"], "file");
  assert.is(TAR_TYPES_BY_FLAG["7"], "file");
  for (const flag of ["x", "g", "L", "K", "S", "8"]) assert.is(TAR_TYPES_BY_FLAG[flag], undefined, `flag ${flag}`);
  assert.is(Object.keys(TAR_TYPES_BY_FLAG).length, 9);
});

test.run();
