// Numbers from the virtio 1.2 specification shared by the transport, the
// virtqueue and the devices. Device-specific numbers live with each device.

/** Device status bits (virtio 1.2 §2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

/** Reserved feature bits (virtio 1.2 §6) as bigint masks over the 64 feature bits. */
export const F_RING_INDIRECT_DESC = 1n << 28n;
export const F_RING_EVENT_IDX = 1n << 29n;
export const F_VERSION_1 = 1n << 32n;

/** Split virtqueue descriptor flags (§2.7.5). */
export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
/** Driver → device: "don't interrupt me" (§2.7.7). */
export const AVAIL_F_NO_INTERRUPT = 1;

/** Bits of the virtio-mmio InterruptStatus register (§4.2.2). */
export const INTERRUPT_USED_BUFFER = 1;
export const INTERRUPT_CONFIG_CHANGE = 2;

/** Device IDs (§5). */
export const DEVICE_ID_BLOCK = 2;
export const DEVICE_ID_VSOCK = 19;

/** The largest queue we offer: bounds the work one hostile notification can cause. */
export const MAX_QUEUE_SIZE = 256;
