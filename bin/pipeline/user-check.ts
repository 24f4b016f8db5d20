// The run's user (`--user`, or the image's USER) checked against the image's
// accounts before a VM is booted for it: guest-init would refuse a name the
// image lacks only after the boot (seconds here, and a wasted VM anywhere).
// The rules are guest-init's (guest-init/user.c, resolve_user); what the host
// cannot know (accounts null or not recorded) is left to the guest.
import { isAccountId, type ImageAccounts } from "../../stages/mkrootfs/accounts.js";

/** guest-init's buffer for the user part (a name of 256 bytes or more is refused). */
const MAX_USER_BYTES = 255;

/** Why guest-init would refuse `spec` ("name", "uid", "name:group", "uid:gid") in this image, or undefined. */
export function userSpecProblem(spec: string, accounts: ImageAccounts | undefined): string | undefined {
  if (spec === "") return undefined; // root
  const colon = spec.indexOf(":");
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? undefined : spec.slice(colon + 1);
  if (group === "") return "empty group after ':'";
  if (Buffer.byteLength(user) > MAX_USER_BYTES) return "name too long";
  // The image's files are compared byte for byte, as guest-init compares them (names are stored as latin1 text).
  const bytes = (name: string) => Buffer.from(name, "utf8").toString("latin1");
  if (user !== "" && !isAccountId(user) && accounts?.users && !accounts.users.includes(bytes(user))) {
    return `no such user ${JSON.stringify(user)} in the image's /etc/passwd`;
  }
  if (group !== undefined && !isAccountId(group) && accounts?.groups && !accounts.groups.includes(bytes(group))) {
    return `no such group ${JSON.stringify(group)} in the image's /etc/group`;
  }
  return undefined;
}
