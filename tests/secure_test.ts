/**
 * Against a broker with SASL_SSL, mutual TLS and ACLs (kafka/secure.sh): the right secrets land
 * everything; wrong ones, a wrong CA, missing ACLs and a topic that cannot be created each end the
 * run with one line and exit 1, never printing a secret. What was produced before an
 * authorization failure stays in the spool.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { Spool } from "../lib/sinks/spool.ts";
import { assertComplete, configuredLines, tallyReadings } from "./_scratch_broker.ts";
import { consumeAll, runCli, uniqueTopic } from "./_kafka.ts";
import { type SecureBroker, startSecureBroker, stopSecureBroker } from "./_secure.ts";

/** Factory F1's lines of factory_config.json: what a `--factories=1` run produces. */
function f1Lines(): Map<string, number> {
  return new Map([...configuredLines()].filter(([line]) => line.startsWith("F1/")));
}

function topics(prefix: string): { readings: string; heartbeats: string; args: string[] } {
  const readings = `${prefix}${uniqueTopic("readings")}`;
  const heartbeats = `${prefix}${uniqueTopic("heartbeats")}`;
  return { readings, heartbeats, args: [`--readings-topic=${readings}`, `--heartbeat-topic=${heartbeats}`] };
}

const RUN = ["--sink=kafka", "--factories=1", "--speed=200", "--seed=31"];

function sasl(broker: SecureBroker, mechanism: string, user: "sim" | "admin" | "outsider"): Record<string, string> {
  return {
    KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD_FILE: `${broker.dir}/secrets/${user}.password`,
    KAFKA_SSL_CA_LOCATION: broker.caFile,
  };
}

async function assertLanded(broker: SecureBroker, t: { readings: string; heartbeats: string }): Promise<void> {
  const readings = await consumeAll(t.readings, broker.plaintext);
  const tally = tallyReadings(readings, f1Lines());
  assertComplete(tally);
  assert.equal(tally.received, tally.sent);
  assert.ok((await consumeAll(t.heartbeats, broker.plaintext)).length > 0);
}

function assertOneLineFailure(result: { code: number; stderr: string }, message: RegExp, secrets: string[]): void {
  assert.equal(result.code, ExitCode.failure, result.stderr);
  const errors = result.stderr.split("\n").filter((line) => line.startsWith("error: "));
  assert.equal(errors.length, 1, result.stderr);
  assert.match(errors[0], message);
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  for (const secret of secrets) assert.ok(!result.stderr.includes(secret), "no secret in the output");
}

Deno.test({
  name: "a secured cluster",
  async fn(t) {
    const broker = await startSecureBroker();
    try {
      for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]) {
        await t.step(`SASL_SSL with ${mechanism} and the right password lands every record`, async () => {
          const names = topics("sim.");
          const env = sasl(broker, mechanism, "sim");
          if (mechanism === "SCRAM-SHA-512") {
            // The password from the variable itself this time, not from a file.
            delete env.KAFKA_SASL_PASSWORD_FILE;
            env.KAFKA_SASL_PASSWORD = broker.password("sim");
          }
          const { code, stderr } = await runCli([...RUN, `--brokers=${broker.saslSsl}`, ...names.args], { env });
          assert.equal(code, ExitCode.ok, stderr);
          assert.match(stderr, new RegExp(`^info: security: SASL_SSL, ${mechanism} as "sim"$`, "m"));
          assert.ok(!stderr.includes(broker.password("sim")), "no secret in the output");
          await assertLanded(broker, names);
        });
      }

      await t.step("mutual TLS with an encrypted client key lands every record", async () => {
        const names = topics("sim.");
        const { code, stderr } = await runCli([...RUN, `--brokers=${broker.ssl}`, ...names.args], {
          env: {
            KAFKA_SECURITY_PROTOCOL: "SSL",
            KAFKA_SSL_CA_LOCATION: broker.caFile,
            KAFKA_SSL_CERTIFICATE_LOCATION: broker.clientCertFile,
            KAFKA_SSL_KEY_LOCATION: broker.encryptedClientKeyFile,
            KAFKA_SSL_KEY_PASSWORD_FILE: broker.clientKeyPasswordFile,
          },
        });
        assert.equal(code, ExitCode.ok, stderr);
        await assertLanded(broker, names);
      });

      await t.step("a wrong password fails at once, naming the user and not the password", async () => {
        const started = performance.now();
        const result = await runCli([
          ...RUN,
          `--brokers=${broker.saslSsl}`,
          "--log-level=debug",
          ...topics("sim.").args,
        ], {
          env: {
            ...sasl(broker, "SCRAM-SHA-256", "sim"),
            KAFKA_SASL_PASSWORD_FILE: "",
            KAFKA_SASL_PASSWORD: "wrong-pw-1234",
          },
        });
        assertOneLineFailure(
          result,
          /^error: Kafka at 127\.0\.0\.1:\d+ rejected the SCRAM-SHA-256 login of user "sim": check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
          ["wrong-pw-1234"],
        );
        assert.ok(performance.now() - started < 10_000, "not retried until the connect timeout");
      });

      await t.step("a CA that did not sign the broker's certificate is a TLS failure", async () => {
        const result = await runCli([...RUN, `--brokers=${broker.saslSsl}`, ...topics("sim.").args], {
          env: { ...sasl(broker, "SCRAM-SHA-256", "sim"), KAFKA_SSL_CA_LOCATION: broker.otherCaFile },
        });
        assertOneLineFailure(
          result,
          /^error: TLS with Kafka at 127\.0\.0\.1:\d+ failed: .*: check KAFKA_SSL_CA_LOCATION/,
          [
            broker.password("sim"),
          ],
        );
      });

      await t.step("a user without ACLs is told what is missing", async () => {
        const result = await runCli([...RUN, `--brokers=${broker.saslSsl}`, ...topics("sim.").args], {
          env: sasl(broker, "SCRAM-SHA-256", "outsider"),
        });
        assertOneLineFailure(result, /user "outsider"/, [broker.password("outsider")]);
        assert.match(result.stderr, /AUTHORIZATION_FAILED/);
      });

      await t.step("a missing topic that may not be created, with auto-create off", async () => {
        const names = topics("nocreate.");
        const result = await runCli([...RUN, `--brokers=${broker.saslSsl}`, ...names.args], {
          env: sasl(broker, "SCRAM-SHA-256", "sim"),
        });
        assertOneLineFailure(
          result,
          new RegExp(
            `^error: topic ${names.readings.replaceAll(".", "\\.")}, ${
              names.heartbeats.replaceAll(".", "\\.")
            } does not exist and could not be created: user "sim" may not create topics \\(TOPIC_AUTHORIZATION_FAILED\\)`,
          ),
          [],
        );
      });

      await t.step("denied writing mid-run: one line, exit 1, and the events kept in the spool", async () => {
        // A topic the user may describe but not write to: connecting works, producing does not.
        const names = topics("readonly.");
        const admin = (await loadKafka("admin")).createKafkaAdmin({
          clientId: "test-setup",
          brokers: [broker.plaintext],
        });
        await admin.connect();
        try {
          await admin.createTopics({
            topics: [names.readings, names.heartbeats].map((topic) => ({ topic, numPartitions: 1 })),
          });
          await admin.createAcls({
            acl: [names.readings, names.heartbeats].map((topic) => ({
              resourceType: 2, // TOPIC
              resourceName: topic,
              resourcePatternType: 3, // LITERAL
              principal: "User:sim",
              host: "*",
              operation: 8, // DESCRIBE
              permissionType: 3, // ALLOW
            })),
          });
        } finally {
          await admin.disconnect();
        }
        const spoolDir = Deno.makeTempDirSync({ prefix: "factory-sim-spool-" });
        try {
          const result = await runCli([...RUN, `--brokers=${broker.saslSsl}`, ...names.args], {
            env: sasl(broker, "SCRAM-SHA-256", "sim"),
            spoolDir,
          });
          assertOneLineFailure(
            result,
            /^error: delivery to Kafka failed: Kafka at .* denied user "sim" writing to .* \(TOPIC_AUTHORIZATION_FAILED\): grant it WRITE and DESCRIBE on them; (\d+) unsent records kept in .*spool\.db: the next run sends them first/,
            [broker.password("sim")],
          );
          const kept = Number(/; (\d+) unsent records kept/.exec(result.stderr)![1]);
          const spool = Spool.open(spoolDir, { maxBytes: 1 << 30 });
          try {
            assert.ok(kept > 0);
            assert.equal(spool.count, kept, "the spool holds what the run produced");
          } finally {
            spool.close();
          }
        } finally {
          Deno.removeSync(spoolDir, { recursive: true });
        }
      });
    } finally {
      await stopSecureBroker();
    }
  },
});
