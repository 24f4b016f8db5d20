// A 16550A UART (the guest's ttyS0 console at 0x3f8, IRQ 4): enough of the
// chip for Linux's 8250 driver to probe it, print through it and take
// interrupts from it. What the guest writes goes to `output`.
import { InterruptLine, MirroredRegister, PioDevice, PublishRead } from "./device.js";

const RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
const LCR_DLAB = 0x80;
const IER_RDI = 0x01, IER_THRI = 0x02;
const IIR_NONE = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_FIFO = 0xc0;
const LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;
const MCR_LOOP = 0x10;
const MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_DCD = 0x80;
/**
 * The receive FIFO's size: input past it is lost, as on the chip. A guest
 * writing in loopback mode without reading must not grow our queue.
 */
const RX_FIFO_BYTES = 16;

export class Serial implements PioDevice {
  readonly name = "serial";
  private ier = 0;
  private lcr = 0x03;
  private mcr = 0x08;
  private scr = 0;
  private fifo = false;
  private dll = 0x0c;
  private dlm = 0;
  private thriPending = false;
  private readonly input: number[] = [];
  /** The line status, read before every byte the guest's console driver prints: answered by the vCPU threads. */
  private lsrMirror: MirroredRegister | undefined;

  constructor(readonly base: number, private readonly irq: InterruptLine, private readonly output: (bytes: Uint8Array) => void) {}

  publishReads(publish: PublishRead): void {
    this.lsrMirror = publish(this.base + LSR, 1);
    this.inputChanged();
  }

  /**
   * Bytes for the guest to read (host → guest console input): as many as the
   * receive FIFO has room for. Returns how many it took; the caller keeps
   * the rest until the guest has read some.
   */
  receive(bytes: Uint8Array): number {
    const taken = Math.min(bytes.length, RX_FIFO_BYTES - this.input.length);
    if (taken <= 0) return 0;
    for (let i = 0; i < taken; i++) this.input.push(bytes[i]);
    this.inputChanged();
    if (this.ier & IER_RDI) this.irq.trigger();
    return taken;
  }

  private lineStatus(): number {
    return LSR_THRE | LSR_TEMT | (this.input.length > 0 ? LSR_DR : 0);
  }

  /** The line status depends only on the input: keep its mirror current. */
  private inputChanged(): void {
    this.lsrMirror?.set(this.lineStatus());
  }

  pioRead(port: number, data: Uint8Array): void {
    data.fill(0);
    data[0] = this.read(port - this.base);
  }

  pioWrite(port: number, data: Uint8Array): void {
    this.write(port - this.base, data[0]);
  }

  private read(reg: number): number {
    switch (reg) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) return this.dll;
        {
          const byte = this.input.shift();
          if (byte === undefined) return 0;
          this.inputChanged();
          return byte;
        }
      case IER:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case IIR_FCR: {
        const fifoBits = this.fifo ? IIR_FIFO : 0;
        if (this.ier & IER_RDI && this.input.length > 0) return fifoBits | IIR_RDI;
        if (this.thriPending) {
          this.thriPending = false; // reading IIR acknowledges "transmitter empty"
          return fifoBits | IIR_THRI;
        }
        return fifoBits | IIR_NONE;
      }
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return this.lineStatus();
      case MSR:
        if (this.mcr & MCR_LOOP) {
          // Loopback: the modem outputs read back as inputs (the driver's probe checks this).
          const m = this.mcr;
          return ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
        }
        return MSR_CTS | MSR_DSR | MSR_DCD;
      case SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  private write(reg: number, value: number): void {
    switch (reg) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) {
          this.dll = value;
          return;
        }
        if (this.mcr & MCR_LOOP) {
          // Past a full FIFO the byte is lost. The chip would also set LSR's
          // overrun bit, cleared by reading LSR; this model has no LSR error
          // bits (the vCPU threads answer LSR reads from a mirror, which
          // cannot clear a bit on read), so it is only dropped, as in
          // Firecracker's serial.
          if (this.input.length < RX_FIFO_BYTES) {
            this.input.push(value);
            this.inputChanged();
          }
        } else this.output(Uint8Array.of(value));
        // The byte left at once: the transmitter is empty again.
        this.transmitterEmpty();
        return;
      case IER:
        if (this.lcr & LCR_DLAB) {
          this.dlm = value;
          return;
        }
        {
          const was = this.ier;
          this.ier = value & 0x0f;
          // Enabling "transmitter empty" with an empty transmitter interrupts at once.
          if (!(was & IER_THRI) && this.ier & IER_THRI) this.transmitterEmpty();
        }
        return;
      case IIR_FCR:
        this.fifo = (value & 0x01) !== 0;
        if (value & 0x02) {
          this.input.length = 0;
          this.inputChanged();
        }
        return;
      case LCR:
        this.lcr = value;
        return;
      case MCR:
        this.mcr = value & 0x1f;
        return;
      case SCR:
        this.scr = value;
        return;
      default:
        return; // LSR and MSR are read-only
    }
  }

  private transmitterEmpty(): void {
    if (this.ier & IER_THRI) {
      this.thriPending = true;
      this.irq.trigger();
    }
  }
}
