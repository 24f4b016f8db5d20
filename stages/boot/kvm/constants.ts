// KVM ioctl numbers and exit reasons from <linux/kvm.h> (x86_64), checked
// against the header with a C program when written.

export const KVM_API_VERSION = 12;

export const ioctls = {
  GET_API_VERSION: 0xae00,
  CREATE_VM: 0xae01,
  CHECK_EXTENSION: 0xae03,
  GET_VCPU_MMAP_SIZE: 0xae04,
  GET_SUPPORTED_CPUID: 0xc008ae05,
  CREATE_VCPU: 0xae41,
  SET_USER_MEMORY_REGION: 0x4020ae46,
  SET_TSS_ADDR: 0xae47,
  SET_IDENTITY_MAP_ADDR: 0x4008ae48,
  CREATE_IRQCHIP: 0xae60,
  IRQ_LINE: 0x4008ae61,
  IRQFD: 0x4020ae76,
  CREATE_PIT2: 0x4040ae77,
  REINJECT_CONTROL: 0xae71, // _IO, yet it takes a struct kvm_reinject_control pointer
  IOEVENTFD: 0x4040ae79,
  RUN: 0xae80,
  GET_REGS: 0x8090ae81,
  SET_REGS: 0x4090ae82,
  GET_SREGS: 0x8138ae83,
  SET_SREGS: 0x4138ae84,
  TRANSLATE: 0xc018ae85,
  GET_MSRS: 0xc008ae88,
  SET_MSRS: 0x4008ae89,
  GET_FPU: 0x81a0ae8c,
  SET_FPU: 0x41a0ae8d,
  GET_LAPIC: 0x8400ae8e,
  SET_LAPIC: 0x4400ae8f,
  SET_CPUID2: 0x4008ae90,
  GET_CPUID2: 0xc008ae91,
  GET_MP_STATE: 0x8004ae98,
  SET_MP_STATE: 0x4004ae99,
  GET_VCPU_EVENTS: 0x8040ae9f,
  SET_VCPU_EVENTS: 0x4040aea0,
  GET_XSAVE: 0x9000aea4,
  SET_XSAVE: 0x5000aea5,
  GET_XCRS: 0x8188aea6,
} as const;

export const caps = {
  NR_MEMSLOTS: 0x0a,
  IRQFD: 0x20,
  IOEVENTFD: 0x24,
  IMMEDIATE_EXIT: 0x88,
} as const;

export const exitReasons = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
} as const;

export function exitReasonName(reason: number): string {
  for (const [name, value] of Object.entries(exitReasons)) if (value === reason) return name;
  return `exit ${reason}`;
}

export const systemEvents = { SHUTDOWN: 1, RESET: 2, CRASH: 3 } as const;

export const KVM_MP_STATE_RUNNABLE = 0;
