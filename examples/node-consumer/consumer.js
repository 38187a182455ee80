// Reads Hookline's canonical events (hookline.orders.v1.OrderStatusChanged, protobuf) from the
// ORDERS JetStream stream and prints each as one JSON line, with the field names of the .proto.
//
//   npm ci && NATS_URL=nats://127.0.0.1:4222 node consumer.js
//
// Settings (environment):
//   NATS_URL   the NATS server (default nats://127.0.0.1:4222)
//   TENANT     only this tenant (subject filter; default all)
//   PROVIDER   only this provider (subject filter; default all)
//   FROM       new (default: events published from now on), all, or an ORDERS sequence number
//   LIMIT      stop after this many events (default 0: until Ctrl-C)
//   PROTO      the orders.proto to load (default: the repository's proto/ folder)
//
// It uses an ordered consumer: ephemeral, nothing acknowledged, nothing left on the server. A
// service that must not miss events uses a durable pull consumer instead (docs/consumers.md).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect, DeliverPolicy } from "nats";
import protobuf from "protobufjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const natsURL = env.NATS_URL || "nats://127.0.0.1:4222";
const protoPath = env.PROTO || path.join(here, "..", "..", "proto", "hookline", "orders", "v1", "orders.proto");
const limit = Number.parseInt(env.LIMIT || "0", 10);
const token = (v) => (v && v !== "*" ? v : "*");
const subject = `orders.${token(env.TENANT)}.${token(env.PROVIDER)}.status_changed`;

// keepCase: field names as in the .proto (event_id, not eventId). google/protobuf/timestamp.proto
// is bundled with protobufjs, so only Hookline's file is needed.
const root = await new protobuf.Root().load(protoPath, { keepCase: true });
const OrderStatusChanged = root.lookupType("hookline.orders.v1.OrderStatusChanged");

// toObject options: int64/uint64 as decimal strings (a JavaScript number loses precision above
// 2^53), enums by name (ORDER_STATUS_SHIPPED), every field present even when it has its default.
const asObject = { longs: String, enums: String, defaults: true, arrays: true };

// A google.protobuf.Timestamp ({seconds: "…", nanos: n}) as RFC 3339 with nanoseconds.
function timestamp(ts) {
  if (!ts) return null;
  const ms = BigInt(ts.seconds) * 1000n;
  const iso = new Date(Number(ms)).toISOString(); // …T12:00:00.000Z
  return iso.replace(/\.\d{3}Z$/, `.${String(ts.nanos || 0).padStart(9, "0")}Z`);
}

function decode(data) {
  const ev = OrderStatusChanged.toObject(OrderStatusChanged.decode(data), asObject);
  for (const f of ["occurred_at", "received_at", "applied_at"]) ev[f] = timestamp(ev[f]);
  return ev;
}

function startOptions(from) {
  if (!from || from === "new") return { deliver_policy: DeliverPolicy.New };
  // Without a deliver policy an ordered consumer starts at sequence 1: everything retained.
  // (nats.js 2.x sends DeliverPolicy.All together with a start sequence, which servers refuse.)
  if (from === "all") return {};
  const seq = Number.parseInt(from, 10);
  if (!Number.isSafeInteger(seq) || seq < 1 || String(seq) !== from) {
    throw new Error(`FROM=${from}: want new, all or a sequence number`);
  }
  return { opt_start_seq: seq };
}

const nc = await connect({ servers: natsURL, name: "hookline-node-consumer-example" }).catch((err) => {
  throw new Error(`connect ${natsURL}: ${err.message}`);
});
const js = nc.jetstream();
// One filter subject (a string, not an array) works on NATS servers before 2.10 too.
const consumer = await js.consumers.get("ORDERS", {
  filterSubjects: subject,
  inactive_threshold: 30_000,
  ...startOptions(env.FROM),
});
const messages = await consumer.consume();
process.on("SIGINT", () => messages.stop());
process.stderr.write(`following ORDERS (${subject}) on ${natsURL}\n`);

let printed = 0;
for await (const m of messages) {
  const type = m.headers?.get("Content-Type") ?? "";
  if (type.split(";")[0].trim() !== "application/protobuf") {
    process.stderr.write(`seq ${m.seq}: Content-Type ${JSON.stringify(type)}, not a canonical event, skipped\n`);
    continue;
  }
  let ev;
  try {
    ev = decode(m.data);
  } catch (err) {
    process.stderr.write(`seq ${m.seq}: not a canonical event (${err.message}), skipped\n`);
    continue;
  }
  process.stdout.write(JSON.stringify({ seq: m.seq, subject: m.subject, event: ev }) + "\n");
  printed++;
  if (limit > 0 && printed >= limit) break;
}
await nc.drain();
