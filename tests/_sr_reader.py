"""The tests' independent Schema Registry client: confluent-kafka for Python and its deserializers.

    python _sr_reader.py read --brokers HOST:PORT --registry URL --topic T [--topic T ...]
                              [--expected N] [--idle-ms MS]
    python _sr_reader.py produce --brokers HOST:PORT --registry URL < records.json

`read` reads each topic from the beginning until it has N records in all (--expected) or nothing
new came for --idle-ms, and prints one JSON line per record: topic, partition, offset, key,
headers, timestampMs, schemaId, schemaType and the value decoded through the registry (the writer
schema fetched by the id in the record's Confluent framing). A value it cannot decode is printed
with an "error" field instead of "value", never a crash.

- Avro: AvroDeserializer with the writer schema by id.
- JSON Schema: JSONDeserializer with the writer schema by id (and validated against it).
- Protobuf: the schema (and its references) fetched by id, compiled with grpc_tools' protoc into a
  descriptor set of its own, its classes built in a descriptor pool of their own (two versions of
  one message cannot clash), the message chosen by the framing's message indexes, decoded by
  ProtobufDeserializer and printed with MessageToDict (field names as in the .proto, fields with
  default values included; int64 as strings and Timestamp as RFC 3339, per the proto3 JSON
  mapping). The deserializer gets no registry client: with one it asks for the schema in
  `format=serialized`, which Apicurio's ccompat API ignores (it returns the .proto text).

`produce` reads {"records": [{"topic", "format": "AVRO"|"PROTOBUF"|"JSON", "schema", "key",
"value"}]} from stdin and writes each with confluent-kafka's SerializingProducer and the format's
own serializer, using the subject's latest registered version (<topic>-value, not registering
anything); a PROTOBUF record's "schema" is the .proto text, its value the first message's fields.
Its ProtobufSerializer gets a registry client that turns the .proto text Apicurio answers into
the base64 FileDescriptorProto that `format=serialized` gives on Confluent's registry.

Values are made JSON-safe: a datetime (Avro timestamp-millis) becomes RFC 3339 with milliseconds
and Z, a Decimal a number, bytes base64.
"""

import argparse
import base64
import datetime
import decimal
import json
import os
import sys
import tempfile
import time
import uuid

import attrs
from confluent_kafka import OFFSET_BEGINNING, Consumer, SerializingProducer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

# The subject is <topic>-value; stating it keeps the deserializers from asking the registry for
# topic associations (a Confluent-only API) first.
SERDE_CONF = {"subject.name.strategy.type": "TOPIC"}


def jsonable(value):
    """What a deserializer gave, as JSON-safe types."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        text = value.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def text_of(data):
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


class ProtoClasses:
    """Message classes of registered .proto schemas, compiled with protoc, one pool per schema id."""

    def __init__(self, client):
        self._client = client
        self._files = {}  # schema id -> (FileDescriptorProto of the schema, its DescriptorPool)
        self._classes = {}  # (schema id, message indexes) -> class

    def message_class(self, schema_id, schema, indexes):
        key = (schema_id, tuple(indexes))
        if key not in self._classes:
            file_proto, pool = self._compiled(schema_id, schema)
            names, messages = [file_proto.package] if file_proto.package else [], file_proto.message_type
            for depth, index in enumerate(indexes):
                if index < 0 or index >= len(messages):
                    raise ValueError(f"message index {index} (at depth {depth}) is not in schema {schema_id}")
                names.append(messages[index].name)
                messages = messages[index].nested_type
            descriptor = pool.FindMessageTypeByName(".".join(names))
            self._classes[key] = message_factory.GetMessageClass(descriptor)
        return self._classes[key]

    def _compiled(self, schema_id, schema):
        """The schema's FileDescriptorProto and a pool holding it and its imports; schema_id names it."""
        if schema_id in self._files:
            return self._files[schema_id]
        from grpc_tools import protoc
        import importlib.resources

        well_known = str(importlib.resources.files("grpc_tools") / "_proto")
        with tempfile.TemporaryDirectory(prefix="sr-reader-proto-") as tmp:
            main = f"registry_schema_{schema_id}.proto"
            self._write(tmp, main, schema.schema_str)
            self._write_references(tmp, schema.references or [], set())
            out = os.path.join(tmp, "set.pb")
            code = protoc.main(
                ["protoc", f"-I{tmp}", f"-I{well_known}", f"--descriptor_set_out={out}", "--include_imports", main]
            )
            if code != 0:
                raise ValueError(f"protoc could not compile schema {schema_id} (its message is on stderr)")
            with open(out, "rb") as f:
                files = descriptor_pb2.FileDescriptorSet.FromString(f.read()).file
        pool = descriptor_pool.DescriptorPool()
        for file_proto in files:  # dependencies first (--include_imports writes them in that order)
            pool.Add(file_proto)
        main_proto = next(f for f in files if f.name == main)
        self._files[schema_id] = (main_proto, pool)
        return self._files[schema_id]

    def _write_references(self, tmp, references, seen):
        for ref in references:
            if ref.name in seen:
                continue
            seen.add(ref.name)
            registered = self._client.get_version(ref.subject, ref.version)
            self._write(tmp, ref.name, registered.schema.schema_str)
            self._write_references(tmp, registered.schema.references or [], seen)

    @staticmethod
    def _write(tmp, name, text):
        path = os.path.join(tmp, name)
        if not os.path.realpath(path).startswith(os.path.realpath(tmp) + os.sep):
            raise ValueError(f"schema reference name {name!r} leaves the compile dir")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


class ApicurioClient(SchemaRegistryClient):
    """A client whose `format=serialized` Protobuf schemas are base64 FileDescriptorProtos.

    Confluent's registry answers `format=serialized` so, and confluent-kafka's Protobuf serdes ask
    for it; Apicurio's ccompat API ignores the parameter and answers the .proto text, which this
    client compiles with protoc and serializes itself. Anything else passes through unchanged.
    """

    def __init__(self, conf):
        super().__init__(conf)
        self._protos = ProtoClasses(self)

    def get_schema(self, schema_id, subject_name=None, fmt=None, reference_format=None):
        schema = super().get_schema(schema_id, subject_name, None, reference_format)
        return self._serialized(f"id-{schema_id}", schema) if fmt == "serialized" else schema

    def get_version(self, subject_name, version="latest", deleted=False, fmt=None):
        registered = super().get_version(subject_name, version, deleted, None)
        return self._registered(registered) if fmt == "serialized" else registered

    def get_latest_version(self, subject_name, fmt=None):
        registered = super().get_latest_version(subject_name, None)
        return self._registered(registered) if fmt == "serialized" else registered

    def _registered(self, registered):
        return attrs.evolve(registered, schema=self._serialized(f"id-{registered.schema_id}", registered.schema))

    def _serialized(self, name, schema):
        if schema.schema_type != "PROTOBUF":
            return schema
        file_proto, _pool = self._protos._compiled(name, schema)
        return attrs.evolve(schema, schema_str=base64.b64encode(file_proto.SerializeToString()).decode("ascii"))


class Decoder:
    def __init__(self, client):
        self._client = client
        self._avro = AvroDeserializer(client, conf=SERDE_CONF)
        self._json = JSONDeserializer(None, schema_registry_client=client, conf=SERDE_CONF)
        self._proto_classes = ProtoClasses(client)
        self._proto = {}  # message class -> ProtobufDeserializer

    def decode(self, topic, data, headers):
        """(schema id, schema type, value); raises ValueError on a value it cannot decode."""
        if data is None:
            return None, None, None
        if len(data) < 5 or data[0] != 0:
            first = f"0x{data[0]:02x}" if data else "nothing"
            raise ValueError(
                f"not in the Confluent wire format (magic byte 0, then a 4-byte schema id): starts with {first}"
            )
        schema_id = int.from_bytes(data[1:5], "big")
        schema = self._client.get_schema(schema_id)
        schema_type = schema.schema_type or "AVRO"
        ctx = SerializationContext(topic, MessageField.VALUE, headers)
        if schema_type == "AVRO":
            return schema_id, schema_type, jsonable(self._avro(data, ctx))
        if schema_type == "JSON":
            return schema_id, schema_type, jsonable(self._json(data, ctx))
        if schema_type == "PROTOBUF":
            indexes = message_indexes(data[5:])
            cls = self._proto_classes.message_class(schema_id, schema, indexes)
            deserializer = self._proto.get(cls)
            if deserializer is None:
                deserializer = self._proto[cls] = ProtobufDeserializer(cls, dict(SERDE_CONF))
            message = deserializer(data, ctx)
            as_dict = json_format.MessageToDict(
                message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
            return schema_id, schema_type, as_dict
        raise ValueError(f"schema {schema_id} is of a type this reader does not know: {schema_type}")


def message_indexes(data):
    """The message indexes after a Protobuf value's schema id: zigzag varints, a count first ([0] for 0)."""

    def varint(pos):
        shift = result = 0
        while True:
            if pos >= len(data):
                raise ValueError("the Protobuf message indexes end early")
            byte = data[pos]
            result |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                return (result >> 1) ^ -(result & 1), pos
            shift += 7

    count, pos = varint(0)
    if count == 0:
        return [0]
    indexes = []
    for _ in range(count):
        index, pos = varint(pos)
        indexes.append(index)
    return indexes


def read(args):
    client = ApicurioClient({"url": args.registry})
    decoder = Decoder(client)
    consumer = Consumer(
        {
            "bootstrap.servers": args.brokers,
            "group.id": f"sr-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "allow.auto.create.topics": False,
        }
    )
    idle = args.idle_ms / 1000
    # Every partition of each topic from its beginning (no group rebalance to wait for); a topic
    # not there yet is waited for, within the idle time.
    deadline = time.monotonic() + idle
    while True:
        metadata = consumer.list_topics(timeout=5)
        missing = [t for t in args.topic if t not in metadata.topics or metadata.topics[t].error is not None]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        print(f"sr-reader: no such topic: {', '.join(missing)}", file=sys.stderr)
    consumer.assign(
        [
            TopicPartition(topic, partition, OFFSET_BEGINNING)
            for topic in args.topic
            if topic not in missing
            for partition in metadata.topics[topic].partitions
        ]
    )
    count, last = 0, time.monotonic()
    try:
        while (args.expected is None or count < args.expected) and time.monotonic() - last < idle:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                print(f"sr-reader: {msg.error()}", file=sys.stderr)
                continue
            count += 1
            last = time.monotonic()
            headers = msg.headers() or []
            line = {
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": text_of(msg.key()),
                "headers": {name: text_of(value) for name, value in headers},
                "timestampMs": msg.timestamp()[1],
            }
            try:
                schema_id, schema_type, value = decoder.decode(msg.topic(), msg.value(), headers)
                line.update(schemaId=schema_id, schemaType=schema_type, value=value)
            except Exception as e:  # noqa: BLE001 - every failure to decode is this record's error
                line.update(schemaId=None, schemaType=None, error=f"{type(e).__name__}: {e}")
            print(json.dumps(line, ensure_ascii=False), flush=True)
    finally:
        consumer.close()


def produce(args):
    client = ApicurioClient({"url": args.registry})
    conf = dict(SERDE_CONF, **{"auto.register.schemas": False, "use.latest.version": True})
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(str(err))

    proto_classes = ProtoClasses(client)
    for n, record in enumerate(json.load(sys.stdin)["records"]):
        kind, value = record["format"], record["value"]
        if kind == "AVRO":
            serializer = AvroSerializer(client, record["schema"], conf=conf)
        elif kind == "JSON":
            serializer = JSONSerializer(record["schema"], client, conf=conf)
        elif kind == "PROTOBUF":
            latest = client.get_latest_version(f"{record['topic']}-value")
            cls = proto_classes.message_class(latest.schema_id, latest.schema, [0])
            value = json_format.ParseDict(value, cls())
            serializer = ProtobufSerializer(cls, client, conf=conf)
        else:
            raise SystemExit(f"sr-reader: record {n}: unknown format {kind!r}")
        # A producer per record: a SerializingProducer has one value serializer, each record its own.
        producer = SerializingProducer(
            {"bootstrap.servers": args.brokers, "key.serializer": StringSerializer("utf_8"), "value.serializer": serializer}
        )
        producer.produce(record["topic"], key=record.get("key"), value=value, on_delivery=delivered)
        if producer.flush(10) > 0:
            failures.append(f"record {n} not acknowledged within 10 s")
    if failures:
        raise SystemExit(f"sr-reader: delivery failed: {failures[0]}")


def main():
    parser = argparse.ArgumentParser(prog="_sr_reader.py")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("read", "produce"):
        p = sub.add_parser(name)
        p.add_argument("--brokers", required=True)
        p.add_argument("--registry", required=True)
        if name == "read":
            p.add_argument("--topic", action="append", required=True)
            p.add_argument("--expected", type=int)
            p.add_argument("--idle-ms", type=int, default=5000)
    args = parser.parse_args()
    read(args) if args.command == "read" else produce(args)


if __name__ == "__main__":
    main()
