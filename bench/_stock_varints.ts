/**
 * KafkaJS's own varint code, captured before lib/sinks/kafka.ts installs its faster one, so the
 * throughput benchmark can measure the product both ways in one run (`--stock-varints`).
 *
 * Import this module before anything that imports lib/sinks/kafka.ts: modules are evaluated in
 * import order, and this one must see the encoder as KafkaJS ships it.
 */
import KafkaJsEncoder from "kafkajs/src/protocol/encoder.js";
import type { VarintEncoderClass } from "../lib/sinks/kafka.ts";

const Encoder = KafkaJsEncoder as VarintEncoderClass;
const proto = Encoder.prototype as VarintEncoderClass["prototype"] & { fastVarints?: boolean };
const stock = {
  writeUVarInt: proto.writeUVarInt,
  writeVarLong: proto.writeVarLong,
  sizeOfVarLong: Encoder.sizeOfVarLong,
  fast: proto.fastVarints === true,
};

/** Puts KafkaJS's own varint code back. Throws when this module was imported too late to have it. */
export function restoreStockVarints(): void {
  if (stock.fast) throw new Error("bench/_stock_varints.ts was imported after lib/sinks/kafka.ts");
  proto.writeUVarInt = stock.writeUVarInt;
  proto.writeVarLong = stock.writeVarLong;
  Encoder.sizeOfVarLong = stock.sizeOfVarLong;
  delete proto.fastVarints;
}
