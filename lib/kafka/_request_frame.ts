/**
 * A patch of KafkaJS (installed by `patches.ts`): a request framed in one exactly sized buffer, in
 * place of `protocol/request.js`. KafkaJS copies the encoded request behind its header into a
 * growing encoder, then that into another behind its size: for a produce request, two more copies
 * of every record and the zero-filled buffers they double into.
 */
import { Buffer } from "node:buffer";
import type { KafkaJsEncoder } from "./_kafkajs.ts";
import { copyInto, sizedEncoder } from "./_record.ts";

/** What KafkaJS's connection hands `protocol/request.js`. */
export interface FrameArgs {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode(): Promise<KafkaJsEncoder> | KafkaJsEncoder };
}

/**
 * The request as KafkaJS sends it (request header v1): its size, API key and version, correlation
 * id, client id, then the request's own bytes.
 */
export async function frameRequest(
  { correlationId, clientId, request: { apiKey, apiVersion, encode } }: FrameArgs,
): Promise<KafkaJsEncoder> {
  const payload = await encode();
  const clientIdLength = clientId === null || clientId === undefined ? 0 : Buffer.byteLength(clientId, "utf8");
  // API key 2, version 2, correlation id 4, client id 2 + its bytes
  const size = 10 + clientIdLength + payload.offset;
  const encoder = sizedEncoder(4 + size);
  encoder.writeInt32(size).writeInt16(apiKey).writeInt16(apiVersion).writeInt32(correlationId)
    .writeString(clientId);
  copyInto(encoder, payload.buf.subarray(0, payload.offset));
  return encoder;
}
