// The few libc calls the VMM needs, through koffi. Every wrapper throws a
// one-line error naming the call and errno, so callers never check -1.
import koffi from "koffi";
import { libc as loadLibc, SyscallError } from "../../../lib/native/libc.js";

export { SyscallError };

const libc = loadLibc();
const c = {
  open: libc.func("int open(const char *path, int flags, int mode)"),
  close: libc.func("int close(int fd)"),
  ioctlPtr: libc.func("int ioctl(int fd, unsigned long request, void *arg)"),
  ioctlInt: libc.func("int ioctl(int fd, unsigned long request, unsigned long arg)"),
  mmap: libc.func("void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)"),
  munmap: libc.func("int munmap(void *addr, size_t len)"),
  madvise: libc.func("int madvise(void *addr, size_t len, int advice)"),
  eventfd: libc.func("int eventfd(unsigned int initval, int flags)"),
  read: libc.func("int64_t read(int fd, void *buf, size_t count)"),
  write: libc.func("int64_t write(int fd, const void *buf, size_t count)"),
  poll: libc.func("int poll(void *fds, unsigned long nfds, int timeout)"),
  pthreadSelf: libc.func("unsigned long pthread_self(void)"),
  pthreadKill: libc.func("int pthread_kill(unsigned long thread, int sig)"),
  getrandom: libc.func("int64_t getrandom(void *buf, size_t len, unsigned int flags)"),
};

export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MADV_HUGEPAGE = 14;
export const EINTR = 4;
export const EAGAIN = 11;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

function check(call: string, rc: number): number {
  if (rc < 0) throw new SyscallError(call, koffi.errno());
  return rc;
}

/**
 * How long an ioctl that signals keep interrupting is made again.
 * KVM_CREATE_VM fails with EINTR whenever a handled signal is pending while
 * it takes all of the process's memory-map locks (mm_take_all_locks, for the
 * MMU notifier): a profiler's SIGPROF is enough. Nothing was done then, so
 * the call is made again, as QEMU, Firecracker and Cloud Hypervisor do; the
 * bound keeps a never-ending storm of signals from spinning here for ever.
 */
const INTERRUPTED_RETRY_MS = 1000;

/** `call()` again while it fails with EINTR, for at most INTERRUPTED_RETRY_MS; its last result. */
function unlessInterrupted(call: () => number): number {
  let rc = call();
  if (rc >= 0 || koffi.errno() !== EINTR) return rc;
  const giveUpAt = performance.now() + INTERRUPTED_RETRY_MS;
  do rc = call();
  while (rc < 0 && koffi.errno() === EINTR && performance.now() < giveUpAt);
  return rc;
}

export function openDevice(path: string): number {
  return check(`open ${path}`, c.open(path, O_RDWR | O_CLOEXEC, 0));
}

export function close(fd: number): void {
  c.close(fd);
}

/** ioctl with a pointer argument (a buffer the kernel reads and/or fills); made again if a signal interrupts it. */
export function ioctl(fd: number, request: number, arg: Uint8Array | null, what: string): number {
  return check(what, unlessInterrupted(() => c.ioctlPtr(fd, request, arg)));
}

/** ioctl with an integer argument; made again if a signal interrupts it. */
export function ioctlValue(fd: number, request: number, arg: number, what: string): number {
  return check(what, unlessInterrupted(() => c.ioctlInt(fd, request, arg)));
}

/**
 * ioctl on a libuv thread, for a slow one the caller need not wait on. On
 * failure it is repeated here, in the foreground, for the errno (the
 * background call cannot report it): so only for idempotent requests.
 */
export function ioctlInBackground(fd: number, request: number, arg: Uint8Array, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    c.ioctlPtr.async(fd, request, arg, (err: unknown, rc: number) => {
      if (err) reject(err);
      else resolve(rc);
    });
  }).then((rc) => (rc < 0 ? ioctl(fd, request, arg, what) : rc));
}

/** ioctl that returns -errno instead of throwing (for KVM_RUN's EINTR). */
export function ioctlRaw(fd: number, request: number, arg: number): number {
  const rc = c.ioctlInt(fd, request, arg);
  return rc < 0 ? -koffi.errno() : rc;
}

/** Maps memory and returns its address (a bigint, so other threads can view it too). */
export function mmap(len: number, prot: number, flags: number, fd: number, what: string): bigint {
  const ptr = c.mmap(null, len, prot, flags, fd, 0);
  const addr = ptr === null ? 0n : koffi.address(ptr);
  if (addr === 0n || addr === 0xffffffffffffffffn) throw new SyscallError(`mmap ${what}`, koffi.errno());
  return addr;
}

export function munmap(addr: bigint, len: number): void {
  c.munmap(koffi.as(addr, "void *") as unknown, len);
}

export function madvise(addr: bigint, len: number, advice: number, what: string): void {
  check(`madvise ${what}`, c.madvise(koffi.as(addr, "void *") as unknown, len, advice));
}

/** A view of mapped memory at `addr`; aliases it (no copy). */
export function view(addr: bigint, len: number): Uint8Array {
  return new Uint8Array(koffi.view(addr, len));
}

export function eventfd(flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  return check("eventfd", c.eventfd(0, flags));
}

export function readFd(fd: number, buf: Uint8Array): number {
  const rc = c.read(fd, buf, buf.length);
  return rc < 0 ? -koffi.errno() : Number(rc);
}

export function writeFd(fd: number, buf: Uint8Array): number {
  const rc = c.write(fd, buf, buf.length);
  return rc < 0 ? -koffi.errno() : Number(rc);
}

/**
 * poll(2) on `fds`, an array of struct pollfd (8 bytes each: int fd, short
 * events, short revents); returns the number ready or -errno. Blocks the
 * calling thread: for worker threads only.
 */
export function poll(fds: Uint8Array, timeoutMs: number): number {
  const rc = c.poll(fds, fds.length / 8, timeoutMs);
  return rc < 0 ? -koffi.errno() : rc;
}

export function pthreadSelf(): bigint {
  return BigInt(c.pthreadSelf());
}

export function pthreadKill(thread: bigint, signal: number): void {
  c.pthreadKill(thread, signal);
}

/**
 * `length` random bytes from the kernel (getrandom(2); at most 256 in one
 * call, which is never cut short). Not node:crypto: loading it costs ~7 ms
 * of the VMM's start-up for one 32-byte seed.
 */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 256) throw new Error(`randomBytes: ${length} is not a whole number from 0 to 256`);
  const bytes = new Uint8Array(length);
  const got = check("getrandom", unlessInterrupted(() => Number(c.getrandom(bytes, length, 0))));
  if (got !== length) throw new Error(`getrandom returned ${got} of ${length} bytes`);
  return bytes;
}
