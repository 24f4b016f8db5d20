// Under a root runner, stages write as an unprivileged uid; files a command
// hands to the user are given back to the user who ran it.
import { execa } from "execa";

export async function reclaim(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await execa("chown", ["-R", "--no-dereference", `${process.getuid!()}:${process.getgid!()}`, "--", path]);
}
