// How many guest boots the benchmarks may still make (--boots; --quick
// allows two), and whether any can be made here at all.

/**
 * A budget of `boots` guest boots. The function it returns grants `count`
 * (undefined, and takes them) or says why not: `noKvm` when set, else that
 * the count is over what is left (and takes nothing).
 */
export function bootBudget(boots: number, noKvm?: string): (count: number) => string | undefined {
  let left = boots;
  return (count) => {
    if (noKvm) return noKvm;
    if (count > left) return `skipped: needs ${count} boot${count === 1 ? "" : "s"}, over the boot budget`;
    left -= count;
    return undefined;
  };
}
