/**
 * deploy/factory-sim.service and its example environment file: the hardening is there, and what the
 * unit assumes agrees with the code (exit codes, the stop window, the spool dir the binary may write,
 * the variables it reads). `systemd-analyze verify` checks the unit itself, against a stub binary.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { parseCommand } from "../lib/cli.ts";
import { DEFAULT_SPOOL_DIR } from "../lib/run/options.ts";
import { ExitCode } from "../lib/errors.ts";
import { parseSecurity, SECURITY_ENV } from "../lib/security.ts";
import { SHUTDOWN_FLUSH_TIMEOUT_MS } from "../lib/run/options.ts";

const unitUrl = new URL("../deploy/factory-sim.service", import.meta.url);
const envUrl = new URL("../deploy/factory-sim.env.example", import.meta.url);
const BINARY = "/usr/local/bin/factory-sim";

/** The unit's settings: section -> key -> values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[(.+)\]$/);
    if (header) {
      section = new Map();
      sections.set(header[1], section);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(section && eq > 0, `a setting inside a section: ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const unit = parseUnit(Deno.readTextFileSync(unitUrl));
const service = unit.get("Service")!;
const one = (key: string) => {
  const values = service.get(key);
  assert.ok(values, `[Service] ${key}= is set`);
  return values.at(-1)!;
};

function seconds(value: string): number {
  const match = value.match(/^(\d+)(s|min)?$/);
  assert.ok(match, `a duration: ${value}`);
  return Number(match[1]) * (match[2] === "min" ? 60 : 1);
}

Deno.test("the unit is hardened", () => {
  const expected: Record<string, string> = {
    DynamicUser: "yes",
    ProtectSystem: "strict",
    ProtectHome: "yes",
    PrivateTmp: "yes",
    PrivateDevices: "yes",
    NoNewPrivileges: "yes",
    CapabilityBoundingSet: "",
    RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX",
    RestrictNamespaces: "yes",
    LockPersonality: "yes",
    ProtectKernelTunables: "yes",
    ProtectControlGroups: "yes",
    SystemCallArchitectures: "native",
    UMask: "0077",
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(one(key), value, key);
  assert.ok(service.get("SystemCallFilter")?.includes("@system-service"));
  // V8's JIT writes code and then makes it executable: MemoryDenyWriteExecute=yes would kill it.
  assert.equal(service.get("MemoryDenyWriteExecute"), undefined);
  assert.equal(one("EnvironmentFile"), "/etc/factory-sim/factory-sim.env");
  assert.equal(one("Restart"), "on-failure");
  assert.ok(seconds(one("RestartSec")) > 0);
  assert.ok(Number(unit.get("Unit")!.get("StartLimitBurst")?.[0]) > 0, "a start limit");
  assert.ok(seconds(unit.get("Unit")!.get("StartLimitIntervalSec")?.[0] ?? "") > 0);
});

Deno.test("the unit agrees with the code: command, spool dir, stop window, exit codes", () => {
  const [binary, ...args] = one("ExecStart").split(/\s+/);
  assert.equal(binary, BINARY);
  const command = parseCommand(args, { KAFKA_BROKERS: "kafka-1:9093" });
  assert.equal(command.kind, "run");
  if (command.kind !== "run") return;
  assert.equal(command.options.sink, "kafka");
  assert.equal(command.options.continuous, true);
  assert.deepEqual(command.options.brokers, ["kafka-1:9093"], "brokers from the environment file");
  // The spool: the default --spool-dir, relative to the working directory, which is the state dir;
  // and that is exactly where the compiled binary's baked --allow-write lets it write.
  assert.equal(command.options.spool.dir, DEFAULT_SPOOL_DIR);
  assert.equal(one("StateDirectory"), "factory-sim");
  assert.equal(one("WorkingDirectory"), "%S/factory-sim");
  assert.ok(denoJson.tasks["compile:x86_64"].command.split(/\s+/).includes("-P=sim"));
  assert.deepEqual(denoJson.permissions.sim.write, [DEFAULT_SPOOL_DIR]);
  // Stop: SIGTERM, then up to 5 s to flush or spool (SHUTDOWN_FLUSH_TIMEOUT_MS, then exit); systemd waits longer.
  assert.equal(one("KillSignal"), "SIGTERM");
  assert.ok(SHUTDOWN_FLUSH_TIMEOUT_MS < 5_000);
  assert.ok(seconds(one("TimeoutStopSec")) > 5, "TimeoutStopSec beyond the 5 s stop window");
  assert.deepEqual(
    one("SuccessExitStatus").split(/\s+/).map(Number).sort(),
    [ExitCode.sigint, ExitCode.sigterm].sort(),
  );
  assert.deepEqual(one("RestartPreventExitStatus").split(/\s+/).map(Number), [ExitCode.usage, ExitCode.permission]);
});

Deno.test("the example environment file holds only variables the binary reads, and they parse", () => {
  const env: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(envUrl).split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const [name, ...value] = line.split("=");
    env[name] = value.join("=");
  }
  const readable = new Set(["KAFKA_BROKERS", ...SECURITY_ENV]);
  for (const name of Object.keys(env)) assert.ok(readable.has(name), `${name} is read by the binary`);
  assert.ok(env.KAFKA_BROKERS, "KAFKA_BROKERS");
  const command = parseCommand(["--sink", "kafka"], env);
  assert.equal(command.kind, "run");
  assert.equal(parseSecurity(env).protocol, "SASL_SSL");
  // Every variable the binary may read is allowed by its baked permission set.
  const allowEnv: string[] = denoJson.permissions.sim.env;
  for (const name of readable) assert.ok(allowEnv.includes(name), name);
});

Deno.test("systemd-analyze verify accepts the unit (against a stub binary)", async () => {
  let analyze: Deno.CommandOutput;
  const dir = Deno.makeTempDirSync({ prefix: "factory-sim-unit-" });
  try {
    const stub = `${dir}/factory-sim`;
    Deno.writeTextFileSync(stub, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const unitFile = `${dir}/factory-sim.service`;
    Deno.writeTextFileSync(unitFile, Deno.readTextFileSync(unitUrl).replaceAll(BINARY, stub));
    try {
      analyze = await new Deno.Command("systemd-analyze", {
        args: ["verify", unitFile],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // deno-lint-ignore no-console
      console.warn("systemd-analyze is not installed: only the static checks above ran");
      return;
    }
    const output = new TextDecoder().decode(analyze.stderr) + new TextDecoder().decode(analyze.stdout);
    assert.ok(analyze.success, output);
    assert.equal(output.trim(), "", "no warnings");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
