// The i8042 keyboard controller, only as far as Linux needs: its probe must
// succeed quickly, and command 0xFE (pulse the reset line) resets the machine,
// which ends the VM (reboot=k makes Linux reboot this way).
import { PioDevice } from "./device.js";

export const I8042_DATA = 0x60;
export const I8042_COMMAND = 0x64;

const STATUS_OBF = 0x01;
const STATUS_SYS = 0x04;
const STATUS_CMD = 0x08;
const STATUS_UNLOCKED = 0x10; // keyboard not inhibited (else Linux warns "Keylock active")
/**
 * Bytes the output queue holds at most. The chip has one output buffer; a
 * guest that writes without reading must not grow our queue (Firecracker
 * keeps 16 bytes and drops the rest too). Linux reads every reply before its
 * next command, and flushes at most 16 stale bytes at probe time.
 */
const OUTPUT_CAPACITY = 16;

export class I8042 implements PioDevice {
  readonly name = "i8042";
  private ctr = 0x47; // kbd interrupt, sys flag, translate
  private output: number[] = [];
  private pendingCommand: number | undefined;
  private lastWasCommand = false;

  constructor(private readonly onReset: () => void) {}

  pioRead(port: number, data: Uint8Array): void {
    data.fill(0);
    if (port === I8042_COMMAND) {
      data[0] = STATUS_SYS | STATUS_UNLOCKED | (this.lastWasCommand ? STATUS_CMD : 0) | (this.output.length > 0 ? STATUS_OBF : 0);
    } else {
      data[0] = this.output.shift() ?? 0;
    }
  }

  pioWrite(port: number, data: Uint8Array): void {
    const value = data[0];
    if (port === I8042_COMMAND) {
      this.lastWasCommand = true;
      this.command(value);
      return;
    }
    this.lastWasCommand = false;
    const command = this.pendingCommand;
    this.pendingCommand = undefined;
    if (command === 0x60) this.ctr = value; // write controller configuration
    else if (command === 0xd1) { if ((value & 0x01) === 0) this.onReset(); } // output port: bit 0 low is reset
    else if (command === undefined) this.reply(0xfa); // to the keyboard: acknowledge
  }

  private command(cmd: number): void {
    switch (cmd) {
      case 0x20: this.reply(this.ctr); break; // read configuration
      case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4: this.pendingCommand = cmd; break;
      case 0xaa: this.reply(0x55); break; // self test passed
      case 0xab: this.reply(0x00); break; // keyboard interface ok
      case 0xa9: this.reply(0xff); break; // no aux port
      case 0xfe: this.onReset(); break; // pulse reset line
      default: break; // enable/disable ports and the rest: nothing to do
    }
  }

  /** Queues a byte for the guest to read; dropped when the queue is full. */
  private reply(byte: number): void {
    if (this.output.length < OUTPUT_CAPACITY) this.output.push(byte);
  }
}
